//! Where the web playbook is pointed: a web address or host name from a user's words or a
//! technician's request, parsed strictly before anything is sent, and the rule for which of
//! them a user's report may make this agent probe (`[playbooks] report_ports`, `report_hosts`).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Longest web address or host name the playbooks accept.
pub const MAX_TARGET_BYTES: usize = 2048;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

/// A web address every part of which was checked: a host that is a DNS name or an IP
/// address, a port, and a path of visible ASCII (anything else percent-encoded). Nothing in
/// it can end a request line or a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebTarget {
    pub scheme: Scheme,
    /// A lower-cased DNS name, an IPv4 address, or an IPv6 address (without brackets).
    pub host: String,
    pub port: u16,
    /// Starts with `/`; the fragment (`#…`) is dropped, as browsers do.
    pub path: String,
}

impl WebTarget {
    /// Reads `text` ("https://host[:port]/path", "http://…", or a bare "host[:port]", which
    /// means https). Refuses control characters (CR, LF, …), whitespace, user names, other
    /// schemes and anything longer than [`MAX_TARGET_BYTES`], naming the input.
    pub fn parse(text: &str) -> Result<Self, String> {
        let shown = || format!("{:.80?}", text);
        if text.len() > MAX_TARGET_BYTES {
            return Err(format!(
                "{} is {} bytes long, more than the {MAX_TARGET_BYTES} a web address may have",
                shown(),
                text.len()
            ));
        }
        if text.chars().any(char::is_control) {
            return Err(format!(
                "{} contains a control character (such as a line break)",
                shown()
            ));
        }
        if text.chars().any(char::is_whitespace) {
            return Err(format!("{} contains a space", shown()));
        }
        let lower = text.to_ascii_lowercase();
        let (scheme, rest) = if lower.starts_with("https://") {
            (Scheme::Https, &text["https://".len()..])
        } else if lower.starts_with("http://") {
            (Scheme::Http, &text["http://".len()..])
        } else if text.contains("://") {
            return Err(format!(
                "{}: only http:// and https:// addresses can be tested",
                shown()
            ));
        } else {
            (Scheme::Https, text)
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, after) = rest.split_at(end);
        if authority.contains('@') {
            return Err(format!(
                "{}: addresses with a user name (user@host) are not tested",
                shown()
            ));
        }
        let default_port = match scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        };
        let (host, port) = split_authority(authority, default_port)
            .map_err(|why| format!("{}: {why}", shown()))?;
        Ok(WebTarget {
            scheme,
            host,
            port,
            path: clean_path(after),
        })
    }

    /// The address as it is tested, e.g. `https://intranet.example.com:8443/hr`.
    pub fn url(&self) -> String {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        format!("{scheme}://{}{}", self.authority(), self.path)
    }

    /// `host[:port]` as a Host header carries it: the port only when not the scheme's own.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default_port = match self.scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        };
        if self.port == default_port {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`, checked.
fn split_authority(authority: &str, default_port: u16) -> Result<(String, u16), String> {
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (inside, after) = bracketed
            .split_once(']')
            .ok_or("the IPv6 address has no closing ']'")?;
        let address: Ipv6Addr = inside
            .parse()
            .map_err(|_| format!("{inside:?} is not an IPv6 address"))?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or("a port must follow ']:'")?),
        };
        (address.to_string(), port)
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (check_host(host)?, Some(port)),
            None => (check_host(authority)?, None),
        }
    };
    let port = match port {
        None => default_port,
        Some(port) => parse_port(port)?,
    };
    Ok((host, port))
}

fn parse_port(port: &str) -> Result<u16, String> {
    port.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| port.parse::<u16>().ok())
        .flatten()
        .filter(|port| *port != 0)
        .ok_or_else(|| format!("{port:.20?} is not a port (1-65535)"))
}

/// A DNS name (letters, digits, '-', '_' in dot-separated labels) or an IPv4 address,
/// lower-cased; a trailing dot is dropped.
fn check_host(host: &str) -> Result<String, String> {
    if host.is_empty() {
        return Err("there is no host name".to_owned());
    }
    if let Ok(address) = host.parse::<Ipv4Addr>() {
        return Ok(address.to_string());
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    if !name.is_ascii() {
        return Err(format!(
            "{name:?} is not written in plain letters: give an international name in its xn-- form"
        ));
    }
    let fits = name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !fits {
        return Err(format!("{name:.80?} is not a host name"));
    }
    Ok(name.to_ascii_lowercase())
}

/// The path and query as sent: visible ASCII kept, other characters percent-encoded, the
/// fragment dropped, `/` when empty.
fn clean_path(after: &str) -> String {
    let without_fragment = after.split('#').next().unwrap_or_default();
    let mut path = String::with_capacity(without_fragment.len() + 1);
    if !without_fragment.starts_with('/') {
        path.push('/');
    }
    for c in without_fragment.chars() {
        if c.is_ascii_graphic() {
            path.push(c);
        } else {
            let mut bytes = [0u8; 4];
            for byte in c.encode_utf8(&mut bytes).bytes() {
                // Writing to a String cannot fail.
                let _ = write!(path, "%{byte:02X}");
            }
        }
    }
    path
}

/// Which web addresses a user's report may make this agent probe: their port must be one of
/// `ports` (80, 443, `[playbooks] report_ports` and every port the config itself reaches) and
/// their host must match one of `hosts` (`*` any run of characters). A technician's
/// reproduce request is not limited by this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportTargets {
    pub ports: BTreeSet<u16>,
    /// Lower-cased patterns such as `*.example.com`; `*` alone allows any host.
    pub hosts: Vec<String>,
}

impl ReportTargets {
    /// `Ok` when `target` may be probed for a report; otherwise why not, in plain words.
    pub fn permits(&self, target: &WebTarget) -> Result<(), String> {
        if !self.ports.contains(&target.port) {
            let ports: Vec<String> = self.ports.iter().map(ToString::to_string).collect();
            return Err(format!(
                "{} was not tested: for a report this computer's support agent only tests web \
                 addresses on the ports your IT department set up ({}), and {} is not one of \
                 them. Your support desk can still test it from your ticket.",
                target.url(),
                ports.join(", "),
                target.port
            ));
        }
        if !self
            .hosts
            .iter()
            .any(|pattern| wildcard_match(pattern, &target.host))
        {
            return Err(format!(
                "{} was not tested: for a report this computer's support agent only tests the \
                 sites your IT department set up ({}). Your support desk can still test it from \
                 your ticket.",
                target.url(),
                self.hosts.join(", ")
            ));
        }
        Ok(())
    }
}

/// Checks a `report_hosts` pattern: a host name in which `*` may stand for any characters.
pub fn check_host_pattern(pattern: &str) -> Result<String, String> {
    let fits = !pattern.is_empty()
        && pattern.len() <= 253
        && pattern
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.*:".contains(&b));
    if fits {
        Ok(pattern.to_ascii_lowercase())
    } else {
        Err(format!(
            "{pattern:.80?} is not a host pattern (letters, digits, '-', '_', '.', ':' and '*')"
        ))
    }
}

/// `*` matches any run of characters (dots included); everything else itself.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (pattern, text) = (pattern.as_bytes(), text.as_bytes());
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was, and how much of the text it has taken so far.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|b| *b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_addresses_are_read_strictly() {
        let accepted = [
            (
                "https://intranet.example.com/hr",
                "https://intranet.example.com/hr",
            ),
            ("intranet.example.com", "https://intranet.example.com/"),
            (
                "HTTP://Wiki.Example.COM:8080",
                "http://wiki.example.com:8080/",
            ),
            ("http://127.0.0.1:80/a?b=c#top", "http://127.0.0.1/a?b=c"),
            ("https://[::1]:8443/x", "https://[::1]:8443/x"),
            (
                "https://portal.example.com?x=1",
                "https://portal.example.com/?x=1",
            ),
            (
                "https://wiki.example.com/Über",
                "https://wiki.example.com/%C3%9Cber",
            ),
            ("https://files.example.com./", "https://files.example.com/"),
        ];
        for (text, url) in accepted {
            let target = WebTarget::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(target.url(), url, "{text}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_TARGET_BYTES));
        let refused = [
            ("http://127.0.0.1/\r\nX-Injected: 1", "control character"),
            ("http://127.0.0.1/x\nHost: evil", "control character"),
            ("http://127.0.0.1/\u{0}", "control character"),
            ("http://127.0.0.1/a b", "space"),
            ("http://127.0.0.1/a\u{a0}b", "space"),
            (long.as_str(), "bytes long"),
            ("ftp://files.example.com/", "only http:// and https://"),
            ("gopher://127.0.0.1:25/", "only http:// and https://"),
            ("https://intranet.example.com@evil.example/", "user name"),
            ("https://user:pw@intranet.example.com/", "user name"),
            ("https://intranet.example.com:0/", "not a port"),
            ("https://intranet.example.com:99999/", "not a port"),
            ("https://intranet.example.com:+80/", "not a port"),
            ("https://intranet.example.com:/", "not a port"),
            ("https://[::1/", "closing"),
            ("https://[zz]/", "not an IPv6 address"),
            ("https://::1/", "no host name"),
            ("https:///path", "no host name"),
            ("https://bad..example.com/", "not a host name"),
            ("https://-bad.example.com/", "not a host name"),
            ("https://bücher.example/", "xn--"),
            ("https://a%0d%0a.example/", "not a host name"),
        ];
        for (text, expected) in refused {
            let error = WebTarget::parse(text).expect_err(text);
            assert!(error.contains(expected), "{text:?}: {error}");
            assert!(!error.contains('\n') && !error.contains('\r'), "{error}");
        }
    }

    #[test]
    fn reports_probe_only_the_ports_and_hosts_the_config_allows() {
        let allowed = ReportTargets {
            ports: BTreeSet::from([80, 443, 8443]),
            hosts: vec!["*.example.com".to_owned(), "127.0.0.1".to_owned()],
        };
        let cases = [
            ("https://intranet.example.com/", true),
            ("http://intranet.example.com/", true),
            ("https://intranet.example.com:8443/", true),
            ("https://intranet.example.com:22/", false),
            ("http://127.0.0.1:6379/", false),
            ("http://127.0.0.1/", true),
            ("https://example.com.evil.test/", false),
            ("https://evil.test/", false),
        ];
        for (text, permitted) in cases {
            let target = WebTarget::parse(text).expect(text);
            let answer = allowed.permits(&target);
            assert_eq!(answer.is_ok(), permitted, "{text}: {answer:?}");
            if let Err(why) = answer {
                assert!(
                    why.contains("not tested") && why.contains("support desk"),
                    "{why}"
                );
            }
        }
        let any = ReportTargets {
            ports: BTreeSet::from([443]),
            hosts: vec!["*".to_owned()],
        };
        assert!(
            any.permits(&WebTarget::parse("anything.test").expect("host"))
                .is_ok()
        );
    }

    #[test]
    fn host_patterns_match_with_stars() {
        let cases = [
            ("*", "a.b", true),
            ("*.example.com", "x.example.com", true),
            ("*.example.com", "x.y.example.com", true),
            ("*.example.com", "example.com", false),
            ("intranet.*", "intranet.corp", true),
            ("a*b*c", "abxxbyc", true),
            ("a*b*c", "abxxbyd", false),
            ("exact.test", "exact.test", true),
            ("exact.test", "exact.test.evil", false),
        ];
        for (pattern, host, expected) in cases {
            assert_eq!(
                wildcard_match(pattern, host),
                expected,
                "{pattern} ~ {host}"
            );
        }
        assert!(check_host_pattern("*.Example.com").is_ok());
        assert!(check_host_pattern("two words").is_err());
        assert!(check_host_pattern("").is_err());
    }
}
