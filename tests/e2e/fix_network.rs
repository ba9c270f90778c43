//! `network.renew` on real links (issue 20): a link taken down inside a network namespace the
//! test makes is brought up again and verified, and said to be static; a renewal that cuts the
//! collector off (the link's own subnet shadows the route the collector was reached by) is
//! undone by the fix's guard, and one the collector survives is kept. The fix runs inside the namespace as this test binary, started
//! again with `ip netns exec` to run only `run_network_renew_in_this_namespace`, which prints its
//! report. Needs Linux, root and `ip` (iproute2), as CI has; traffic stays on the test's links.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use firstline_agent::config::Settings;
use firstline_agent::fixes::limits::DailyRuns;
use firstline_agent::fixes::{self, Authority};

use crate::support::skip;

/// What the run inside the namespace is told, in one variable: "INTERFACE COLLECTOR".
const CHILD_ENV: &str = "FIRSTLINE_E2E_NETWORK_RENEW";
/// The line the run inside the namespace prints its result on.
const REPORT_LINE: &str = "NETWORK_RENEW_RESULT ";

fn ip(arguments: &[&str]) -> Result<String, String> {
    let output = Command::new("ip")
        .args(arguments)
        .output()
        .map_err(|e| format!("running ip: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "ip {}: {}",
            arguments.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// A network namespace and the veth links the test made for it, all removed on drop (links
/// inside go with the namespace; their host ends go with them).
struct Namespace {
    name: String,
    host_links: Vec<String>,
}

impl Namespace {
    fn new(case: &str) -> Result<Self, String> {
        let name = format!("fl-nr{case}-{}", std::process::id() % 10_000);
        let _ = ip(&["netns", "del", &name]);
        ip(&["netns", "add", &name])?;
        let namespace = Namespace {
            name,
            host_links: Vec::new(),
        };
        namespace.exec(&["ip", "link", "set", "lo", "up"])?;
        Ok(namespace)
    }

    /// A veth pair: `inner` in the namespace (down, with `inner_address`), `host` here.
    fn link(&mut self, host: &str, inner: &str, inner_address: &str) -> Result<(), String> {
        let _ = ip(&["link", "del", host]);
        ip(&["link", "add", host, "type", "veth", "peer", "name", inner])?;
        self.host_links.push(host.to_owned());
        ip(&["link", "set", inner, "netns", &self.name])?;
        self.exec(&["ip", "addr", "add", inner_address, "dev", inner])
            .map(|_| ())
    }

    fn exec(&self, command: &[&str]) -> Result<String, String> {
        let mut arguments = vec!["netns", "exec", &self.name];
        arguments.extend_from_slice(command);
        ip(&arguments)
    }

    /// The link inside as `ip -j addr` shows it: (administratively up, its IPv4 addresses).
    fn link_state(&self, inner: &str) -> (bool, Vec<String>) {
        let json = self
            .exec(&["ip", "-j", "addr", "show", "dev", inner])
            .expect("ip addr");
        let value: serde_json::Value = serde_json::from_str(&json).expect("ip -j");
        let link = &value[0];
        let up = link["flags"]
            .as_array()
            .is_some_and(|flags| flags.iter().any(|f| f == "UP"));
        let addresses = link["addr_info"]
            .as_array()
            .map(|infos| {
                infos
                    .iter()
                    .filter(|info| info["family"] == "inet")
                    .filter_map(|info| info["local"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        (up, addresses)
    }

    /// Runs `network.renew` on `interface` inside the namespace, the collector at `collector`
    /// ("host:port"); returns what the run printed: {"report": …, "collector_after": bool}.
    fn run_fix(&self, interface: &str, collector: &str) -> serde_json::Value {
        let exe = std::env::current_exe().expect("this test binary");
        let output = Command::new("ip")
            .args(["netns", "exec", &self.name])
            .arg(exe)
            .args([
                "--exact",
                "fix_network::run_network_renew_in_this_namespace",
                "--ignored",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(CHILD_ENV, format!("{interface} {collector}"))
            .output()
            .expect("runs the test binary in the namespace");
        let stdout = String::from_utf8_lossy(&output.stdout);
        // libtest prints the test's name on the same line, before it.
        let Some(line) = stdout
            .lines()
            .find_map(|line| line.split_once(REPORT_LINE).map(|(_, result)| result))
        else {
            panic!(
                "the run in the namespace printed no result ({}):\n{stdout}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        };
        serde_json::from_str(line).expect("the result is JSON")
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.name]);
        for link in &self.host_links {
            let _ = ip(&["link", "del", link]);
        }
    }
}

/// Root and `ip` (and no FIRSTLINE_SKIP_NETNS, as isolation.rs reads it), or why this test
/// cannot run here.
fn can_make_namespaces() -> Result<(), String> {
    if std::env::var_os("FIRSTLINE_SKIP_NETNS").is_some() {
        return Err("FIRSTLINE_SKIP_NETNS is set: not testing network.renew".to_owned());
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        == Some("0");
    if !root {
        return Err("network namespaces need root".to_owned());
    }
    ip(&["-V"])
        .map(|_| ())
        .map_err(|e| format!("no iproute2: {e}"))
}

/// The third octet of this run's subnets, as isolation.rs picks it: runs at once differ.
fn subnet() -> u32 {
    10 + std::process::id() % 200
}

fn actions(report: &serde_json::Value) -> Vec<String> {
    report["changes"]
        .as_array()
        .map(|changes| {
            changes
                .iter()
                .filter_map(|c| c["action"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Run by the tests above inside their namespace, never on its own: `network.renew` as the
/// agent runs it (`fixes::prepare`, `run::run_fix`), printing the report and whether the
/// collector answers once it is done.
#[test]
#[ignore = "run by the fix_network tests inside the namespace they make"]
fn run_network_renew_in_this_namespace() {
    let Ok(arguments) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (interface, collector) = arguments.split_once(' ').expect("INTERFACE COLLECTOR");
    let config = format!(
        "collector_url = \"https://{collector}\"\n\
         [fixes]\nenabled = true\n\
         [checks.network]\ntimeout = \"1s\"\n"
    );
    let settings = Settings::parse(&config, std::path::Path::new("agent.toml")).expect("config");
    let parameters: BTreeMap<String, String> = [
        ("interface".to_owned(), interface.to_owned()),
        ("wait_secs".to_owned(), "5".to_owned()),
    ]
    .into_iter()
    .collect();
    let prepared = fixes::prepare(
        "network.renew",
        parameters,
        &Authority {
            allowed_by: "policy:auto".to_owned(),
            consent_account: None,
        },
        &settings,
    )
    .expect("the interface is renewable");
    let report = fixes::run::run_fix(
        fixes::spec("network.renew").expect("spec"),
        prepared,
        &DailyRuns::in_memory(),
    );
    let collector_after = collector
        .parse()
        .ok()
        .and_then(|address| {
            std::net::TcpStream::connect_timeout(&address, Duration::from_secs(2)).ok()
        })
        .is_some();
    println!(
        "{REPORT_LINE}{}",
        serde_json::json!({ "report": report, "collector_after": collector_after })
    );
}

#[test]
fn a_link_taken_down_is_brought_up_verified_and_said_to_be_static() {
    if let Err(why) = can_make_namespaces() {
        skip(&why);
        return;
    }
    let started = Instant::now();
    let id = std::process::id() % 10_000;
    let (host, inner) = (format!("flsh{id}"), format!("flsi{id}"));
    let host_ip = format!("10.237.{}.1", subnet());
    let mut namespace = Namespace::new("s").expect("namespace");
    namespace
        .link(&host, &inner, &format!("10.237.{}.2/24", subnet()))
        .expect("veth");
    ip(&["addr", "add", &format!("{host_ip}/24"), "dev", &host]).expect("host address");
    ip(&["link", "set", &host, "up"]).expect("host end up");
    // The collector answers on the far end of the link, which is down inside the namespace.
    let collector = std::net::TcpListener::bind((host_ip.as_str(), 0)).expect("listener");
    let collector = collector.local_addr().expect("address").to_string();
    assert!(!namespace.link_state(&inner).0, "the link starts down");

    let result = namespace.run_fix(&inner, &collector);
    let report = &result["report"];
    assert_eq!(report["outcome"], "verified", "{report:#}");
    assert!(
        report["before"]
            .as_str()
            .is_some_and(|b| b.contains(&format!("{inner} is down"))),
        "{report:#}"
    );
    let actions = actions(report);
    assert!(
        actions
            .iter()
            .any(|a| a == "brought the link up (it was down)"),
        "{actions:?}"
    );
    assert!(
        actions
            .iter()
            .any(|a| a.contains("no DHCP client manages it (static address)")),
        "{actions:?}"
    );
    assert!(
        actions
            .iter()
            .any(|a| a.contains("did not answer before the renewal")),
        "the collector was behind the downed link: {actions:?}"
    );
    let detail = report["verification"]["detail"].as_str().unwrap_or("");
    assert!(detail.contains("up with carrier"), "{detail}");
    assert!(
        detail.contains(&format!("collector {collector} answers")),
        "{detail}"
    );
    let (up, addresses) = namespace.link_state(&inner);
    assert!(up, "the link is up");
    assert_eq!(addresses, vec![format!("10.237.{}.2", subnet())]);
    assert_eq!(result["collector_after"], true);
    eprintln!(
        "fix_network static case: {:?} (fix {} ms)",
        started.elapsed(),
        report["elapsed_ms"]
    );
}

#[test]
fn a_renewal_that_cuts_the_collector_off_is_undone_by_its_guard() {
    if let Err(why) = can_make_namespaces() {
        skip(&why);
        return;
    }
    let started = Instant::now();
    let id = std::process::id() % 10_000;
    let (a_host, a_inner) = (format!("flah{id}"), format!("flai{id}"));
    let (b_host, b_inner) = (format!("flbh{id}"), format!("flbi{id}"));
    let sub = subnet();
    let mut namespace = Namespace::new("g").expect("namespace");
    // Link A, up: the namespace's way out, its default route through the host end.
    namespace
        .link(&a_host, &a_inner, &format!("10.238.{sub}.2/24"))
        .expect("veth a");
    ip(&["addr", "add", &format!("10.238.{sub}.1/24"), "dev", &a_host]).expect("a address");
    ip(&["link", "set", &a_host, "up"]).expect("a up");
    namespace
        .exec(&["ip", "link", "set", &a_inner, "up"])
        .expect("a inner up");
    namespace
        .exec(&[
            "ip",
            "route",
            "add",
            "default",
            "via",
            &format!("10.238.{sub}.1"),
        ])
        .expect("default route");
    // The collector's address sits on the host end of A, but inside B's subnet: reached through
    // A while B is down, and through B (whose far end is down: no one answers) once B is up.
    let collector_ip = format!("10.239.{sub}.1");
    ip(&["addr", "add", &format!("{collector_ip}/32"), "dev", &a_host]).expect("collector address");
    namespace
        .link(&b_host, &b_inner, &format!("10.239.{sub}.2/24"))
        .expect("veth b");
    let collector = std::net::TcpListener::bind((collector_ip.as_str(), 0)).expect("listener");
    let collector = collector.local_addr().expect("address").to_string();

    let result = namespace.run_fix(&b_inner, &collector);
    let report = &result["report"];
    assert_eq!(report["outcome"], "failed", "{report:#}");
    let error = report["error"].as_str().unwrap_or("");
    assert!(
        error.starts_with(
            "restored the previous state because the collector was unreachable afterwards"
        ),
        "{error}"
    );
    assert!(
        error.contains(&format!("took {b_inner} down again, as it was")),
        "{error}"
    );
    let (up, addresses) = namespace.link_state(&b_inner);
    assert!(!up, "the link is down again, as it was");
    assert_eq!(addresses, vec![format!("10.239.{sub}.2")]);
    assert_eq!(
        result["collector_after"], true,
        "with the link down again the collector answers"
    );
    eprintln!(
        "fix_network guard case: {:?} (fix {} ms)",
        started.elapsed(),
        report["elapsed_ms"]
    );
}

#[test]
fn a_renewal_the_collector_survives_is_kept_by_the_guard() {
    if let Err(why) = can_make_namespaces() {
        skip(&why);
        return;
    }
    let started = Instant::now();
    let id = std::process::id() % 10_000;
    let (a_host, a_inner) = (format!("flkh{id}"), format!("flki{id}"));
    let (b_host, b_inner) = (format!("flch{id}"), format!("flci{id}"));
    let sub = subnet();
    let mut namespace = Namespace::new("k").expect("namespace");
    // The collector on the host end of A, which is up; B, down, is another subnet whose far
    // end is up: bringing it up takes nothing from the route to the collector.
    namespace
        .link(&a_host, &a_inner, &format!("10.240.{sub}.2/24"))
        .expect("veth a");
    let collector_ip = format!("10.240.{sub}.1");
    ip(&["addr", "add", &format!("{collector_ip}/24"), "dev", &a_host]).expect("a address");
    ip(&["link", "set", &a_host, "up"]).expect("a up");
    namespace
        .exec(&["ip", "link", "set", &a_inner, "up"])
        .expect("a inner up");
    namespace
        .link(&b_host, &b_inner, &format!("10.241.{sub}.2/24"))
        .expect("veth b");
    ip(&["link", "set", &b_host, "up"]).expect("b up");
    let collector = std::net::TcpListener::bind((collector_ip.as_str(), 0)).expect("listener");
    let collector = collector.local_addr().expect("address").to_string();

    let result = namespace.run_fix(&b_inner, &collector);
    let report = &result["report"];
    assert_eq!(report["outcome"], "verified", "{report:#}");
    let actions = actions(report);
    assert!(
        actions
            .iter()
            .any(|a| a.starts_with("answered before and after the renewal")
                && a.ends_with("the guard kept the change")),
        "{actions:?}"
    );
    let (up, addresses) = namespace.link_state(&b_inner);
    assert!(up, "the link stays up");
    assert_eq!(addresses, vec![format!("10.241.{sub}.2")]);
    eprintln!(
        "fix_network kept case: {:?} (fix {} ms)",
        started.elapsed(),
        report["elapsed_ms"]
    );
}
