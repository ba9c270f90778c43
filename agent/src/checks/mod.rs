//! Checks: each turns what a probe saw into observations for `(check, resource)` pairs, which
//! the [`rule::Tracker`] turns into findings when a condition changes. One file per check; a
//! new check is one new file plus one line in [`ChecksFile`] and one in [`build_all`].

pub mod battery;
pub mod clock;
pub mod cpu;
pub mod disk;
pub mod dns;
pub mod https;
pub mod memory;
pub mod network;
pub mod reboot;
pub mod rule;
pub mod self_health;
pub mod services;
pub mod smart;
pub mod tcp;
pub mod thermal;
pub mod threshold;
pub mod watch;
pub mod watch_position;
pub mod wer;

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;

pub use rule::{Observation, Rule, Tracker};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Work a check hands back with a run, done once that run's findings and conditions are in
/// the outbox (a file watch writing where it got to): so a crash in between repeats the
/// run's work rather than losing it.
pub type Checkpoint = Box<dyn FnOnce() + Send>;

/// What checks may know beyond their own probes: facts the uplink learns. Also how long the
/// checks themselves take, which the uplink reports in heartbeats.
#[derive(Debug, Default)]
pub struct Shared {
    inner: Mutex<SharedFacts>,
    /// Each check's most recent run, in milliseconds, by its first name.
    check_runs_ms: Mutex<std::collections::HashMap<&'static str, u64>>,
}

#[derive(Debug, Clone, Default)]
pub struct SharedFacts {
    /// `https://host:port` of the collector, when enrolled.
    pub collector_url: Option<String>,
    /// Collector clock minus ours, in milliseconds, measured with the latest message that
    /// carried the collector's clock (the Welcome, then every ack: one answers each heartbeat).
    pub clock_skew_ms: Option<i64>,
    /// The agent's state dir, where checks keep what must survive a restart (file watches'
    /// positions) and which the agent's findings about its own disk name; none for a one-off
    /// `firstline-agent check`.
    pub state_dir: Option<std::path::PathBuf>,
    /// Outbox evictions so far, and the config reload error, if the last reload failed.
    pub outbox_evicted_total: u64,
    pub config_error: Option<String>,
    /// Damage the outbox found (a file moved aside, records set aside), and what it holds in
    /// memory while the state dir cannot be written: the runtime copies these from the outbox.
    pub outbox_health: crate::outbox::OutboxHealth,
}

impl Shared {
    pub fn facts(&self) -> SharedFacts {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn update(&self, change: impl FnOnce(&mut SharedFacts)) {
        change(
            &mut self
                .inner
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
    }

    /// Records how long one run of the check named `names` took.
    pub fn record_check_run(&self, names: &'static [&'static str], took: Duration) {
        let Some(name) = names.first() else { return };
        let took_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
        self.check_runs().insert(name, took_ms);
    }

    /// How long a full cycle of checks takes: checks run side by side, so as long as the
    /// slowest one's most recent run. None before any check has run.
    pub fn check_cycle_ms(&self) -> Option<u64> {
        self.check_runs().values().copied().max()
    }

    /// Forgets the runs of checks that a config reload replaced.
    pub fn forget_check_runs(&self) {
        self.check_runs().clear();
    }

    fn check_runs(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<&'static str, u64>> {
        // Single inserts and reads: a panic elsewhere cannot leave the map half-changed.
        self.check_runs_ms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A check ready to run: configured, with whatever state it keeps between cycles.
pub trait Check: Send {
    /// The check names its observations use, e.g. `["disk.used_pct", "disk.inodes_used_pct"]`.
    fn names(&self) -> &'static [&'static str];
    fn interval(&self) -> Duration;
    /// One cycle. An error means the probe could not look (nothing is concluded from it).
    fn run<'a>(&'a mut self, shared: &'a Shared)
    -> BoxFuture<'a, Result<Vec<Observation>, String>>;
    /// The thresholds in force, per check name (for `check --json` and the config tests).
    fn rules(&self) -> Vec<(&'static str, Rule)> {
        Vec::new()
    }
    /// Whether a run that does not mention an open condition means it is gone (true for checks
    /// that look at everything each time; false for event-driven ones that report only news).
    fn reports_every_resource(&self) -> bool {
        true
    }
    /// Conditions of this check that were open before a restart or reload.
    fn adopt(&mut self, _open_resources: &[String]) {}
    /// What to do once the run just made is in the outbox; see [`Checkpoint`].
    fn checkpoint(&mut self) -> Option<Checkpoint> {
        None
    }
    /// Resolves when the check wants to run before its next interval (a watched file appeared).
    fn wake(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(std::future::pending())
    }
}

/// `[checks]` in the agent's TOML.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChecksFile {
    pub disk: disk::DiskConfig,
    pub memory: memory::MemoryConfig,
    pub cpu: cpu::CpuConfig,
    pub thermal: thermal::ThermalConfig,
    pub battery: battery::BatteryConfig,
    pub smart: smart::SmartConfig,
    pub network: network::NetworkConfig,
    pub dns: dns::DnsConfig,
    pub tcp: tcp::TcpConfig,
    pub https: https::HttpsConfig,
    pub clock: clock::ClockConfig,
    pub services: services::ServicesConfig,
    pub reboot: reboot::RebootConfig,
    /// File watches; when absent, the platform's crash-report folder is watched.
    pub watch: Option<Vec<watch::WatchConfig>>,
}

impl ChecksFile {
    /// The file watches in effect: the configured ones, or the platform's crash folder.
    pub fn watch_configs(&self) -> Vec<watch::WatchConfig> {
        self.watch.clone().unwrap_or_else(watch::default_watches)
    }

    /// Validates every section; the error names the section.
    pub fn validate(&self) -> Result<(), String> {
        // Building does all the validation; file watches are checked without starting (the
        // collector validates fleet policies with this, on its own machine).
        build(self, false).map(drop)
    }
}

/// Every enabled check, configured. Fails on the first invalid section.
pub fn build_all(config: &ChecksFile) -> Result<Vec<Box<dyn Check>>, String> {
    build(config, true)
}

/// Every enabled check; file watches start only when `start_watches`.
fn build(config: &ChecksFile, start_watches: bool) -> Result<Vec<Box<dyn Check>>, String> {
    let mut checks: Vec<Box<dyn Check>> = Vec::new();
    let mut add = |section: &str, built: Result<Option<Box<dyn Check>>, String>| match built {
        Ok(Some(check)) => {
            checks.push(check);
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(e) => Err(format!("checks.{section}: {e}")),
    };
    add("disk", disk::build(&config.disk))?;
    add("memory", memory::build(&config.memory))?;
    add("cpu", cpu::build(&config.cpu))?;
    add("thermal", thermal::build(&config.thermal))?;
    add("battery", battery::build(&config.battery))?;
    add("smart", smart::build(&config.smart))?;
    add("network", network::build(&config.network))?;
    add("dns", dns::build(&config.dns))?;
    add("tcp", tcp::build(&config.tcp))?;
    add("https", https::build(&config.https))?;
    add("clock", clock::build(&config.clock))?;
    add("services", services::build(&config.services))?;
    add("reboot", reboot::build(&config.reboot))?;
    let watches = config.watch.clone().unwrap_or_else(watch::default_watches);
    for (index, watch) in watches.iter().enumerate() {
        add(
            &format!("watch[{index}] ({})", watch.name),
            if start_watches {
                watch::build(watch)
            } else {
                watch::check_config(watch).map(|()| None)
            },
        )?;
    }
    add("self", self_health::build())?;
    Ok(checks)
}

/// Deserialises an interval and refuses ones too short to be sane.
pub fn interval_at_least(interval: Duration, minimum: Duration) -> Result<Duration, String> {
    if interval < minimum {
        return Err(format!(
            "interval {interval:?} is shorter than the minimum {minimum:?}"
        ));
    }
    Ok(interval)
}

/// Shared shorthand for building evidence objects.
#[macro_export]
macro_rules! evidence {
    ($($key:literal => $value:expr),* $(,)?) => {{
        let mut evidence = $crate::finding::Evidence::new();
        $( evidence.insert($key.to_owned(), serde_json::json!($value)); )*
        evidence
    }};
}
