//! Collector configuration: a TOML file with every key optional and unknown keys refused,
//! validated once into typed settings; command-line flags override it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Where `serve` looks for a config file when none is given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/firstline/collector.toml";
pub const DEFAULT_DATA_DIR: &str = "/var/lib/firstline-collector";
/// The commented example shipped with the collector; a test keeps it parseable.
pub const EXAMPLE_CONFIG: &str = include_str!("../collector.example.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("reading config {path}: {message}")]
    Parse { path: PathBuf, message: String },
}

/// The file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ConfigFile {
    data_dir: PathBuf,
    grpc_listen: SocketAddr,
    http_listen: SocketAddr,
    server_names: Vec<String>,
    heartbeat_interval_secs: u32,
    #[serde(with = "humantime_serde_compat")]
    token_ttl: Duration,
    database_url: Option<String>,
    metrics_token: Option<String>,
    trusted_proxies: Vec<String>,
    public_url: Option<String>,
    tickets: crate::tickets::policy::TicketsFile,
    channels: Vec<crate::channels::ChannelFile>,
    ticket_systems: Vec<crate::sync::TicketSystemFile>,
    limits: crate::limits::LimitsFile,
    fixes: crate::fixes::FixesFile,
    retention: crate::retention::RetentionFile,
}

impl Default for ConfigFile {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            grpc_listen: SocketAddr::from(([0, 0, 0, 0], 7443)),
            http_listen: SocketAddr::from(([127, 0, 0, 1], 7080)),
            server_names: Vec::new(),
            heartbeat_interval_secs: 30,
            token_ttl: Duration::from_secs(24 * 3600),
            database_url: None,
            metrics_token: None,
            trusted_proxies: Vec::new(),
            public_url: None,
            tickets: Default::default(),
            channels: Vec::new(),
            ticket_systems: Vec::new(),
            limits: Default::default(),
            fixes: Default::default(),
            retention: Default::default(),
        }
    }
}

/// Validated settings the collector runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub grpc_listen: SocketAddr,
    pub http_listen: SocketAddr,
    pub server_names: Vec<String>,
    pub heartbeat_interval: Duration,
    pub token_ttl: Duration,
    /// PostgreSQL instead of the embedded SQLite, e.g. for several collectors.
    pub database_url: Option<String>,
    /// When set, `/metrics` needs `Authorization: Bearer <token>`; open otherwise.
    pub metrics_token: Option<String>,
    /// Reverse proxies in front of the HTTP port: only for a peer in these networks is the
    /// client address taken from `X-Forwarded-For` (sign-in limits and logs use it).
    pub trusted_proxies: Vec<crate::net::IpNetwork>,
    /// The address people's browsers reach the HTTP port at (`https://help.example.com`):
    /// help links point there, and the help page refuses requests for any other host. When
    /// unset, the HTTP listener's own address.
    pub public_url: Option<String>,
    /// How findings become tickets (`[tickets]`).
    pub tickets: crate::tickets::Policy,
    /// Where ticket news goes (`[[channels]]`).
    pub channels: Vec<crate::channels::Channel>,
    /// The ticket systems kept in step (`[[ticket_systems]]`).
    pub ticket_systems: Vec<crate::sync::TicketSystem>,
    /// What one connection, address or device may take (`[limits]`).
    pub limits: crate::limits::Limits,
    /// Who may start which fix, and how rollouts go (`[fixes]`).
    pub fixes: crate::fixes::FixPolicy,
    /// How long per-event history is kept before it is pruned (`[retention]`).
    pub retention: crate::retention::Retention,
    /// Ack findings without storing them: the transport's raw limit, which `cargo xtask bench`
    /// measures beside the real thing. Not in the config file; never set when serving agents.
    pub discard_findings: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings::from_file(ConfigFile::default(), Path::new("<defaults>"))
            .unwrap_or_else(|_| unreachable!("the defaults are valid"))
    }
}

/// A config holding ticket systems' credentials must not be readable by everyone (0640,
/// as the packages install it).
fn secrets_kept_private(settings: &Settings, path: &Path) -> Result<(), ConfigError> {
    #[cfg(unix)]
    if !settings.ticket_systems.is_empty() {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?
            .permissions()
            .mode();
        if mode & 0o007 != 0 {
            return Err(ConfigError::Parse {
                path: path.to_owned(),
                message: format!(
                    "holds ticket systems' credentials but everyone may read it (mode {:o}); run `chmod 640 {}`",
                    mode & 0o777,
                    path.display()
                ),
            });
        }
    }
    #[cfg(not(unix))]
    let _ = (settings, path);
    Ok(())
}

impl Settings {
    /// Loads `path`; when `path` is None the default location is used if it exists.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let (path, required) = match path {
            Some(path) => (path.to_owned(), true),
            None => (PathBuf::from(DEFAULT_CONFIG_PATH), false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let settings = Self::parse(&text, &path)?;
                secrets_kept_private(&settings, &path)?;
                Ok(settings)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => Ok(Self::default()),
            Err(source) => Err(ConfigError::Read { path, source }),
        }
    }

    /// Parses config text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        Self::from_file(file, path)
    }

    fn from_file(file: ConfigFile, path: &Path) -> Result<Self, ConfigError> {
        let error = |message: String| ConfigError::Parse {
            path: path.to_owned(),
            message,
        };
        if !(5..=3600).contains(&file.heartbeat_interval_secs) {
            return Err(error(format!(
                "heartbeat_interval_secs = {} must be between 5 and 3600",
                file.heartbeat_interval_secs
            )));
        }
        if file.token_ttl.is_zero() || file.token_ttl > crate::enrollment::MAX_TOKEN_TTL {
            return Err(error(
                "token_ttl must be longer than zero and at most 365 days".to_owned(),
            ));
        }
        for name in &file.server_names {
            if name.is_empty() || name.len() > 253 || name.contains(char::is_whitespace) {
                return Err(error(format!(
                    "server_names: {name:?} is not a DNS name or IP address"
                )));
            }
        }
        if let Some(url) = &file.database_url
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            return Err(error(format!(
                "database_url {:?} must be a postgres:// URL (leave it out for the embedded SQLite)",
                crate::store::redact(url)
            )));
        }
        if let Some(token) = &file.metrics_token
            && (token.len() < 16 || !token.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(error(
                "metrics_token must be at least 16 printable characters without spaces".to_owned(),
            ));
        }
        let trusted_proxies = file
            .trusted_proxies
            .iter()
            .map(|text| text.parse::<crate::net::IpNetwork>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| error(format!("trusted_proxies: {e}")))?;
        let public_url = file
            .public_url
            .as_deref()
            .map(public_url)
            .transpose()
            .map_err(error)?;
        let tickets = crate::tickets::Policy::from_file(file.tickets).map_err(error)?;
        let channels = crate::channels::Channel::from_files(file.channels).map_err(error)?;
        let ticket_systems =
            crate::sync::TicketSystem::from_files(file.ticket_systems).map_err(error)?;
        let limits = file.limits.validate().map_err(error)?;
        let fixes = crate::fixes::FixPolicy::from_file(file.fixes).map_err(error)?;
        let retention = file.retention.validate().map_err(error)?;
        // A ticket that may still reopen is one people may come back to: it keeps its evidence.
        if let Some(keep) = retention.ticket_evidence
            && keep < tickets.reopen_window
        {
            return Err(error(format!(
                "retention.ticket_evidence ({}) must be at least tickets.reopen_window ({}): a ticket that may still reopen keeps its evidence",
                humantime::format_duration(keep),
                humantime::format_duration(tickets.reopen_window)
            )));
        }
        Ok(Settings {
            retention,
            limits,
            fixes,
            tickets,
            channels,
            ticket_systems,
            discard_findings: false,
            data_dir: file.data_dir,
            database_url: file.database_url,
            metrics_token: file.metrics_token,
            trusted_proxies,
            public_url,
            grpc_listen: file.grpc_listen,
            http_listen: file.http_listen,
            server_names: file.server_names,
            heartbeat_interval: Duration::from_secs(u64::from(file.heartbeat_interval_secs)),
            token_ttl: file.token_ttl,
        })
    }
}

/// `public_url` as written: `http://` or `https://`, a host and maybe a port, nothing else
/// (no user, path, query or fragment); returned without a trailing slash.
fn public_url(text: &str) -> Result<String, String> {
    let problem = |why: &str| Err(format!("public_url {text:?} {why}"));
    let trimmed = text.trim_end_matches('/');
    let Some((scheme, authority)) = trimmed.split_once("://") else {
        return problem("must start with http:// or https://");
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return problem("must start with http:// or https://");
    }
    if authority.is_empty()
        || authority.len() > 260
        || authority.chars().any(|c| {
            matches!(c, '/' | '?' | '#' | '@' | '\\') || c.is_whitespace() || c.is_control()
        })
    {
        return problem(
            "must be only a scheme, a host and an optional port, like https://help.example.com",
        );
    }
    // Browsers leave a default port out of `Host` and `Origin` and write the scheme and the
    // host in lower case; the help page compares both with this, so it is kept as they send it.
    let scheme = scheme.to_ascii_lowercase();
    let mut authority = authority.to_ascii_lowercase();
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    if let Some(host) = authority.strip_suffix(default_port) {
        authority = host.to_owned();
    }
    Ok(format!("{scheme}://{authority}"))
}

/// `"24h"`-style durations in TOML, via humantime.
pub(crate) mod humantime_serde_compat {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(&text).map_err(|e| {
            serde::de::Error::custom(format!("{text:?} is not a duration like \"24h\": {e}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_example_parses_to_the_defaults() {
        let parsed = Settings::parse(EXAMPLE_CONFIG, Path::new("collector.example.toml"))
            .expect("example parses");
        assert_eq!(parsed, Settings::default());
    }

    /// Regression: `https://help.example.com:443` made the help page refuse every request,
    /// because browsers send `Host: help.example.com` and `Origin: https://help.example.com`.
    #[test]
    fn public_url_is_kept_as_browsers_name_it() {
        let cases = [
            ("https://help.example.com:443", "https://help.example.com"),
            ("http://help.example.com:80/", "http://help.example.com"),
            ("HTTPS://Help.Example.COM", "https://help.example.com"),
            (
                "https://help.example.com:8443",
                "https://help.example.com:8443",
            ),
            ("http://[::1]:80", "http://[::1]"),
            ("http://10.0.0.5:8080", "http://10.0.0.5:8080"),
        ];
        for (written, kept) in cases {
            assert_eq!(public_url(written).as_deref(), Ok(kept), "{written}");
        }
    }

    #[test]
    fn bad_configs_are_refused_naming_the_file_and_the_key() {
        let cases = [
            ("grpc_listn = \"0.0.0.0:1\"", "unknown field `grpc_listn`"),
            ("heartbeat_interval_secs = 1", "heartbeat_interval_secs = 1"),
            ("token_ttl = \"soon\"", "\"soon\" is not a duration"),
            ("grpc_listen = \"nowhere\"", "grpc_listen"),
            ("server_names = [\"a b\"]", "server_names"),
            (
                "database_url = \"mysql://u:pw@db/x\"",
                "must be a postgres:// URL",
            ),
            ("metrics_token = \"short\"", "metrics_token"),
            (
                "trusted_proxies = [\"10.0.0.0/33\"]",
                "trusted_proxies: \"10.0.0.0/33\" is not an IP address or network",
            ),
            (
                "metrics_token = \"has a space in it, sadly\"",
                "metrics_token",
            ),
            (
                "[tickets]\nreopen_windw = \"1h\"",
                "unknown field `reopen_windw`",
            ),
            (
                "[tickets.correlation]\nmin_devices = 1",
                "tickets.correlation.min_devices",
            ),
            (
                "[tickets]\nreport_join_window = \"soon\"",
                "report_join_window",
            ),
            (
                "[retention]\nfindings = \"forever\"",
                "retention.findings = \"forever\" is not a duration",
            ),
            ("[retention]\nfinding = \"90d\"", "unknown field `finding`"),
            (
                "[retention]\nnotifications = \"0s\"",
                "retention.notifications",
            ),
            (
                "[tickets]\nreopen_window = \"30d\"\n[retention]\nticket_evidence = \"7d\"",
                "retention.ticket_evidence (7days) must be at least tickets.reopen_window (30days)",
            ),
        ];
        for (text, expected) in cases {
            let error = Settings::parse(text, Path::new("/etc/firstline/collector.toml"))
                .expect_err(text)
                .to_string();
            assert!(
                error.starts_with("reading config /etc/firstline/collector.toml: "),
                "{error}"
            );
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    /// Ticket systems' credentials live in the file: one everyone may read is refused, with
    /// the command that fixes it; a bad system is refused naming it and the key.
    #[cfg(unix)]
    #[test]
    fn a_config_with_ticket_system_credentials_must_not_be_world_readable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("collector.toml");
        let system = "[[ticket_systems]]\nname = \"rt\"\nkind = \"rt\"\nurl = \"https://rt.example.com\"\nusername = \"firstline\"\npassword = \"secret\"\n";
        std::fs::write(&path, system).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let error = Settings::load(Some(&path))
            .expect_err("world-readable")
            .to_string();
        assert!(error.contains("chmod 640"), "{error}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        let settings = Settings::load(Some(&path)).expect("0640 loads");
        assert_eq!(settings.ticket_systems.len(), 1);

        for (text, expected) in [
            (
                system.replace("kind = \"rt\"", "kind = \"remedy\""),
                "ticket_systems[\"rt\"].kind",
            ),
            (
                system.replace(
                    "username = \"firstline\"\npassword = \"secret\"",
                    "token = \"t\"",
                ),
                "ticket_systems[\"rt\"].username",
            ),
            (
                format!("{system}priorities = [\"p7\"]\n"),
                "ticket_systems[\"rt\"].priorities",
            ),
            (
                format!("{system}poll_interval = \"400d\"\n"),
                "ticket_systems[\"rt\"].poll_interval",
            ),
            (format!("{system}{system}"), "unique name"),
        ] {
            let error = Settings::parse(&text, Path::new("collector.toml"))
                .expect_err(&text)
                .to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
