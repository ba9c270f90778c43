//! Agent configuration: a TOML file with every key optional and unknown keys refused,
//! validated once into typed settings.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::checks::ChecksFile;
use crate::playbooks::target::{ReportTargets, WebTarget, check_host_pattern};
use crate::uplink::UplinkSettings;

/// The commented example shipped with the agent; a test keeps it parseable.
pub const EXAMPLE_CONFIG: &str = include_str!("../agent.example.toml");

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

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ConfigFile {
    state_dir: Option<PathBuf>,
    collector_url: Option<String>,
    site: String,
    uplink: UplinkFile,
    playbooks: PlaybooksFile,
    outbox: OutboxFile,
    checks: ChecksFile,
    fixes: crate::fixes::FixesConfig,
}

/// `[playbooks]`: what reproducing a reported fault may use.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct PlaybooksFile {
    #[serde(deserialize_with = "duration")]
    timeout: Duration,
    #[serde(deserialize_with = "duration")]
    slow_window: Duration,
    printers: Vec<String>,
    mail: Vec<String>,
    report_socket: Option<PathBuf>,
    report_ports: Vec<u16>,
    report_hosts: Vec<String>,
    reports_per_user: u32,
    #[serde(deserialize_with = "duration")]
    report_window: Duration,
    probe_url: Option<String>,
}

impl Default for PlaybooksFile {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            slow_window: Duration::from_secs(20),
            printers: Vec::new(),
            mail: Vec::new(),
            report_socket: None,
            report_ports: vec![80, 443],
            report_hosts: vec!["*".to_owned()],
            reports_per_user: 5,
            report_window: Duration::from_secs(600),
            probe_url: None,
        }
    }
}

/// Validated `[playbooks]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaybookSettings {
    /// Per network operation.
    pub timeout: Duration,
    /// How long "slow computer" samples.
    pub slow_window: Duration,
    pub printers: Vec<String>,
    pub mail: Vec<String>,
    /// Where `firstline-agent report` reaches the running agent; default
    /// `STATE_DIR/report.sock` (see [`Settings::report_socket`]).
    pub report_socket: Option<PathBuf>,
    /// What a user's report may make the agent probe: `report_ports` plus every port the
    /// config itself reaches, on hosts matching `report_hosts`.
    pub report_targets: ReportTargets,
    /// Reports one local user (uid) may send within `report_window`.
    pub reports_per_user: u32,
    pub report_window: Duration,
    /// A web address the network playbook opens to tell "the internet works" ("no internet",
    /// "Wi-Fi", "VPN"); none by default: nothing is contacted beyond what the config names.
    pub probe_url: Option<WebTarget>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct OutboxFile {
    max_bytes: u64,
    replay_per_second: u32,
}

impl Default for OutboxFile {
    fn default() -> Self {
        Self {
            max_bytes: 64 * 1024 * 1024,
            replay_per_second: 500,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct UplinkFile {
    #[serde(deserialize_with = "duration")]
    reconnect_min: Duration,
    #[serde(deserialize_with = "duration")]
    reconnect_max: Duration,
    #[serde(deserialize_with = "duration")]
    inventory_interval: Duration,
}

impl Default for UplinkFile {
    fn default() -> Self {
        let defaults = UplinkSettings::default();
        Self {
            reconnect_min: defaults.reconnect_min,
            reconnect_max: defaults.reconnect_max,
            inventory_interval: defaults.inventory_interval,
        }
    }
}

fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    humantime::parse_duration(&text).map_err(|e| {
        serde::de::Error::custom(format!("{text:?} is not a duration like \"30s\": {e}"))
    })
}

/// Settings as they are now: a running agent's change with its config (a local edit, a fleet
/// push); readers take a copy when they start a piece of work.
pub type Live = tokio::sync::watch::Receiver<Settings>;

/// `settings` for a reader that never sees them change.
pub fn fixed(settings: Settings) -> Live {
    tokio::sync::watch::channel(settings).1
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub state_dir: PathBuf,
    pub collector_url: Option<String>,
    pub uplink: UplinkSettings,
    /// The outbox holds at most this many bytes of findings.
    pub outbox_max_bytes: u64,
    pub checks: ChecksFile,
    pub playbooks: PlaybookSettings,
    /// `[fixes]`: what the collector may ask this device to fix.
    pub fixes: crate::fixes::FixesConfig,
}

impl Settings {
    /// Loads `path`; when None, the platform's default path is used if it exists.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let (path, required) = match path {
            Some(path) => (path.to_owned(), true),
            None => (default_config_path(), false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text, &path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                Self::parse("", &path)
            }
            Err(source) => Err(ConfigError::Read { path, source }),
        }
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let error = |message: String| ConfigError::Parse {
            path: path.to_owned(),
            message,
        };
        let file: ConfigFile = toml::from_str(text).map_err(|e| error(e.to_string()))?;
        let uplink = UplinkSettings {
            reconnect_min: file.uplink.reconnect_min,
            reconnect_max: file.uplink.reconnect_max,
            inventory_interval: file.uplink.inventory_interval,
            replay_per_second: file.outbox.replay_per_second,
            site: file.site.trim().to_owned(),
        };
        if uplink.site.len() > 128 || uplink.site.chars().any(char::is_control) {
            return Err(error(format!(
                "site = {:?} must be at most 128 characters, without control characters",
                uplink.site
            )));
        }
        if !(1..=100_000).contains(&uplink.replay_per_second) {
            return Err(error(format!(
                "outbox.replay_per_second = {} must be between 1 and 100000",
                uplink.replay_per_second
            )));
        }
        if !(64 * 1024..=4 * 1024 * 1024 * 1024).contains(&file.outbox.max_bytes) {
            return Err(error(format!(
                "outbox.max_bytes = {} must be between 65536 and 4294967296 (4 GiB)",
                file.outbox.max_bytes
            )));
        }
        file.checks.validate().map_err(error)?;
        file.fixes
            .validate()
            .map_err(|e| error(format!("fixes.{e}")))?;
        if uplink.reconnect_min < Duration::from_millis(100)
            || uplink.reconnect_min > uplink.reconnect_max
        {
            return Err(error(format!(
                "uplink.reconnect_min ({:?}) must be at least 100ms and at most uplink.reconnect_max ({:?})",
                uplink.reconnect_min, uplink.reconnect_max
            )));
        }
        // Upper bounds too: a value pushed by mistake must not cut an agent off for a year
        // (a push cannot reach an agent that is waiting to reconnect).
        if uplink.reconnect_max > Duration::from_secs(3600) {
            return Err(error(format!(
                "uplink.reconnect_max ({:?}) must be at most 1h",
                uplink.reconnect_max
            )));
        }
        if uplink.inventory_interval < Duration::from_secs(60)
            || uplink.inventory_interval > Duration::from_secs(24 * 3600)
        {
            return Err(error(
                "uplink.inventory_interval must be between 1m and 24h".to_owned(),
            ));
        }
        let collector_url = match file.collector_url {
            Some(url) => Some(
                crate::uplink::channel::normalize_collector_url(&url)
                    .map_err(|e| error(format!("collector_url: {e}")))?,
            ),
            None => None,
        };
        let playbooks = file.playbooks;
        if playbooks.timeout < Duration::from_millis(100)
            || playbooks.timeout > Duration::from_secs(60)
        {
            return Err(error(format!(
                "playbooks.timeout ({:?}) must be between 100ms and 60s",
                playbooks.timeout
            )));
        }
        if playbooks.slow_window < Duration::from_secs(1)
            || playbooks.slow_window > Duration::from_secs(120)
        {
            return Err(error(format!(
                "playbooks.slow_window ({:?}) must be between 1s and 2m",
                playbooks.slow_window
            )));
        }
        for endpoint in playbooks.printers.iter().chain(&playbooks.mail) {
            let bare = endpoint.strip_prefix("ipp://").unwrap_or(endpoint);
            if bare.is_empty() || bare.contains(char::is_whitespace) {
                return Err(error(format!("playbooks: {endpoint:?} is not host:port")));
            }
        }
        if let Some(port) = playbooks.report_ports.iter().find(|port| **port == 0) {
            return Err(error(format!(
                "playbooks.report_ports: {port} is not a port (1-65535)"
            )));
        }
        if playbooks.report_hosts.is_empty() {
            return Err(error(
                "playbooks.report_hosts must name at least one host pattern (\"*\" for any)"
                    .to_owned(),
            ));
        }
        let report_hosts = playbooks
            .report_hosts
            .iter()
            .map(|pattern| check_host_pattern(pattern))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| error(format!("playbooks.report_hosts: {e}")))?;
        if !(1..=1000).contains(&playbooks.reports_per_user) {
            return Err(error(format!(
                "playbooks.reports_per_user = {} must be between 1 and 1000",
                playbooks.reports_per_user
            )));
        }
        if playbooks.report_window < Duration::from_secs(1)
            || playbooks.report_window > Duration::from_secs(24 * 3600)
        {
            return Err(error(format!(
                "playbooks.report_window ({:?}) must be between 1s and 24h",
                playbooks.report_window
            )));
        }
        let mut report_ports: std::collections::BTreeSet<u16> =
            playbooks.report_ports.iter().copied().collect();
        report_ports.extend(configured_ports(
            &file.checks,
            &playbooks.printers,
            &playbooks.mail,
        ));
        let probe_url = match &playbooks.probe_url {
            Some(url) => Some(
                WebTarget::parse(url).map_err(|e| error(format!("playbooks.probe_url: {e}")))?,
            ),
            None => None,
        };
        let state_dir = file.state_dir.unwrap_or_else(default_state_dir);
        let report_socket = playbooks.report_socket;
        Ok(Settings {
            playbooks: PlaybookSettings {
                timeout: playbooks.timeout,
                slow_window: playbooks.slow_window,
                printers: playbooks.printers,
                mail: playbooks.mail,
                report_socket,
                report_targets: ReportTargets {
                    ports: report_ports,
                    hosts: report_hosts,
                },
                reports_per_user: playbooks.reports_per_user,
                report_window: playbooks.report_window,
                probe_url,
            },
            state_dir,
            collector_url,
            uplink,
            outbox_max_bytes: file.outbox.max_bytes,
            checks: file.checks,
            fixes: file.fixes,
        })
    }
}

/// Every port the config itself reaches: `[checks.https] urls`, `[checks.tcp] endpoints`,
/// `[playbooks] printers` (631 for ipp:// and 9100 when none is given) and `mail`. A user may
/// report trouble with any of them.
fn configured_ports<'a>(
    checks: &'a ChecksFile,
    printers: &'a [String],
    mail: &'a [String],
) -> impl Iterator<Item = u16> + 'a {
    let port_after_colon = |endpoint: &str| {
        endpoint
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse::<u16>().ok())
    };
    let urls = checks
        .https
        .urls
        .iter()
        .filter_map(|url| WebTarget::parse(url).ok().map(|target| target.port));
    let endpoints = checks
        .tcp
        .endpoints
        .iter()
        .chain(mail)
        .filter_map(move |endpoint| port_after_colon(endpoint));
    let printers = printers
        .iter()
        .map(move |printer| match printer.strip_prefix("ipp://") {
            Some(rest) => port_after_colon(rest.split('/').next().unwrap_or(rest)).unwrap_or(631),
            None => port_after_colon(printer).unwrap_or(9100),
        });
    urls.chain(endpoints)
        .chain(printers)
        .filter(|port| *port != 0)
}

impl Settings {
    /// Where the running agent listens for `firstline-agent report`.
    pub fn report_socket(&self) -> PathBuf {
        self.playbooks
            .report_socket
            .clone()
            .unwrap_or_else(|| self.state_dir.join("report.sock"))
    }
}

/// The config file used without `--config`: `/etc/firstline/agent.toml` on Linux,
/// `/Library/Application Support/Firstline/agent.toml` on macOS,
/// `%ProgramData%\Firstline\agent.toml` on Windows.
pub fn default_config_path() -> PathBuf {
    if cfg!(windows) {
        PathBuf::from(crate::service::windows_definition::config_path_under(
            &program_data(),
        ))
    } else if cfg!(target_os = "macos") {
        PathBuf::from(MACOS_FOLDER).join("agent.toml")
    } else {
        PathBuf::from("/etc/firstline/agent.toml")
    }
}

/// The state dir used without `--state-dir` or `state_dir`: `/var/lib/firstline-agent` on
/// Linux, `/Library/Application Support/Firstline/state` on macOS,
/// `%ProgramData%\Firstline\state` on Windows.
pub fn default_state_dir() -> PathBuf {
    if cfg!(windows) {
        PathBuf::from(crate::service::windows_definition::state_dir_under(
            &program_data(),
        ))
    } else if cfg!(target_os = "macos") {
        PathBuf::from(MACOS_FOLDER).join("state")
    } else {
        PathBuf::from("/var/lib/firstline-agent")
    }
}

const MACOS_FOLDER: &str = "/Library/Application Support/Firstline";

fn program_data() -> String {
    std::env::var("ProgramData").unwrap_or_else(|_| r"C:\ProgramData".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_example_parses_to_the_defaults() {
        let settings =
            Settings::parse(EXAMPLE_CONFIG, Path::new("agent.example.toml")).expect("parses");
        let defaults = UplinkSettings::default();
        assert_eq!(settings.uplink.reconnect_min, defaults.reconnect_min);
        assert_eq!(settings.uplink.reconnect_max, defaults.reconnect_max);
        assert_eq!(
            settings.uplink.inventory_interval,
            defaults.inventory_interval
        );
        assert_eq!(settings.state_dir, default_state_dir());
        assert_eq!(settings.collector_url, None);
        assert_eq!(settings.outbox_max_bytes, OutboxFile::default().max_bytes);
        let bare = Settings::parse("", Path::new("<defaults>")).expect("defaults");
        assert_eq!(settings.playbooks, bare.playbooks);
        assert_eq!(
            bare.playbooks.report_targets.ports,
            std::collections::BTreeSet::from([80, 443])
        );
        assert_eq!(bare.playbooks.report_targets.hosts, ["*"]);
        assert_eq!(bare.playbooks.reports_per_user, 5);
        assert_eq!(bare.playbooks.report_window, Duration::from_secs(600));
        // Every threshold and interval the example spells out is the check's built-in default.
        let defaults = Settings::parse("", Path::new("<defaults>")).expect("defaults");
        let describe = |checks: &ChecksFile| -> Vec<String> {
            crate::checks::build_all(checks)
                .expect("valid")
                .iter()
                .map(|check| {
                    format!(
                        "{:?} every {:?}: {:?}",
                        check.names(),
                        check.interval(),
                        check.rules()
                    )
                })
                .collect()
        };
        assert_eq!(describe(&settings.checks), describe(&defaults.checks));
    }

    #[test]
    fn reports_may_probe_the_web_ports_and_every_port_the_config_reaches() {
        let config = "[checks.https]\nurls = [\"https://intranet.example.com:8443/\", \"https://wiki.example.com/\"]\n\
                      [checks.tcp]\nendpoints = [\"erp.example.com:3389\"]\n\
                      [playbooks]\nreport_ports = [8080]\n\
                      printers = [\"ipp://printer.example.com\", \"label.example.com\", \"big.example.com:9101\"]\n\
                      mail = [\"mail.example.com:587\"]\n";
        let settings = Settings::parse(config, Path::new("agent.toml")).expect("valid");
        let ports: Vec<u16> = settings
            .playbooks
            .report_targets
            .ports
            .iter()
            .copied()
            .collect();
        assert_eq!(ports, [443, 587, 631, 3389, 8080, 8443, 9100, 9101]);
    }

    #[test]
    fn bad_configs_are_refused_naming_the_file_and_the_key() {
        let cases = [
            ("intervall = 4", "unknown field `intervall`"),
            (
                "[uplink]\nreconnect_min = \"soon\"",
                "\"soon\" is not a duration",
            ),
            (
                "[uplink]\nreconnect_min = \"2m\"\nreconnect_max = \"1m\"",
                "reconnect_min",
            ),
            ("collector_url = \"http://x\"", "only speaks TLS"),
            ("[playbooks]\ntimeout = \"1ms\"", "playbooks.timeout"),
            (
                "[playbooks]\nprinters = [\"two words\"]",
                "is not host:port",
            ),
            ("[playbooks]\nslow_window = \"1h\"", "playbooks.slow_window"),
            ("[playbooks]\nreport_ports = [0]", "playbooks.report_ports"),
            ("[playbooks]\nreport_ports = [70000]", "report_ports"),
            ("[playbooks]\nreport_hosts = []", "playbooks.report_hosts"),
            (
                "[playbooks]\nreport_hosts = [\"two words\"]",
                "playbooks.report_hosts: \"two words\"",
            ),
            (
                "[playbooks]\nreports_per_user = 0",
                "playbooks.reports_per_user",
            ),
            (
                "[playbooks]\nreport_window = \"2d\"",
                "playbooks.report_window",
            ),
            (
                "[checks.disk]\nused_pct = { raise = 50.0, clear = 60.0 }",
                "checks.disk: used_pct: clear (60) must not be above raise (50)",
            ),
            (
                "[checks.dns]\nnames = [\"a\"]\nservers = [\"resolver\"]",
                "checks.dns: servers",
            ),
            (
                "[checks.tcp]\nendpoints = [\"nohost\"]",
                "checks.tcp: endpoints",
            ),
            (
                "[checks.cpu]\nintervall = \"1s\"",
                "unknown field `intervall`",
            ),
            (
                "[[checks.watch]]\nname = \"x\"\npath = \"/tmp\"\nlines = \"(\"",
                "checks.watch[0] (x): lines",
            ),
            ("[outbox]\nmax_bytes = 10", "outbox.max_bytes"),
        ];
        for (text, expected) in cases {
            let error = Settings::parse(text, Path::new("/etc/firstline/agent.toml"))
                .expect_err(text)
                .to_string();
            assert!(
                error.starts_with("reading config /etc/firstline/agent.toml: "),
                "{error}"
            );
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
