//! Time and restarts, as issue 17 (items 4 and 5) found them broken: crash files written while
//! the agent was stopped were never reported; a wall-clock jump on the agent resolved open
//! crash tickets; a clock stepped mid-session was not noticed until a reconnect; and an agent
//! whose clock ran a few minutes slow could not reconnect after a collector restart (the
//! server certificate was made anew at each start, valid from five minutes before it).
//!
//! The clock of a real agent process is moved with Debian's libfaketime: the wall clock only
//! (`DONT_FAKE_MONOTONIC=1`), from a file the test rewrites while the agent runs.

use std::path::{Path, PathBuf};

use firstline_collector::model::Severity;
use firstline_collector::store::TicketFilter;

use crate::support::{
    AgentProcess, TestCollector, agent_config, crash_counts, crash_watch_section, drop_crash,
    enroll_with, skip, wait_for, write_config,
};

/// A collector, an enrolled agent state dir, and its config watching a crash folder.
struct Setup {
    collector: TestCollector,
    dir: tempfile::TempDir,
    crashes: PathBuf,
    state_dir: PathBuf,
    config: PathBuf,
    device: String,
}

impl Setup {
    async fn new(extra: &[(&str, &str)]) -> Self {
        let collector = TestCollector::start().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let crashes = dir.path().join("crashes");
        std::fs::create_dir(&crashes).expect("mkdir");
        let state_dir = dir.path().join("agent");
        let identity = enroll_with(&collector, &collector.token().await, &state_dir)
            .await
            .expect("enrolls");
        let device = identity.device_id().to_owned();
        let config = dir.path().join("agent.toml");
        let watch = crash_watch_section(&crashes);
        let mut sections = vec![("[[checks.watch]]", watch.as_str())];
        sections.extend_from_slice(extra);
        write_config(&config, &agent_config(&sections));
        Self {
            collector,
            dir,
            crashes,
            state_dir,
            config,
            device,
        }
    }

    fn start_agent(&self, prefix: &[&str]) -> AgentProcess {
        AgentProcess::start(prefix, &self.config, &self.state_dir)
    }
}

#[tokio::test]
async fn crash_files_written_while_the_agent_was_stopped_are_reported_exactly_once() {
    let setup = Setup::new(&[]).await;
    let (collector, device) = (&setup.collector, setup.device.as_str());
    let mut agent = setup.start_agent(&[]);
    agent.wait_log(&["connected to collector"], 1).await;
    // The watch is running: a crash now is reported.
    drop_crash(&setup.crashes, "before");
    collector
        .wait_for_finding(device, "crash.new_file", "before", |_| true)
        .await;

    // Killed (as the power goes), and crashes pile up while it is down.
    agent.kill();
    const WHILE_DOWN: usize = 40;
    for index in 0..WHILE_DOWN {
        drop_crash(&setup.crashes, &format!("down{index}"));
    }
    let mut agent = setup.start_agent(&[]);
    let counts = wait_for("every crash written while the agent was down", || async {
        let counts = crash_counts(collector, device).await;
        (counts.len() == WHILE_DOWN + 1).then_some(counts)
    })
    .await;
    assert!(
        counts.values().all(|count| *count == 1),
        "each crash exactly once: {counts:?}"
    );

    // Killed again with nothing new: the next start repeats none of them. A crash after the
    // start is queued behind anything the catch-up raised, so once it has arrived, a repeat
    // would have too.
    agent.kill();
    let agent = setup.start_agent(&[]);
    agent.wait_log(&["connected to collector"], 1).await;
    drop_crash(&setup.crashes, "after");
    collector
        .wait_for_finding(device, "crash.new_file", "after", |_| true)
        .await;
    let counts = crash_counts(collector, device).await;
    assert_eq!(counts.len(), WHILE_DOWN + 2, "{counts:?}");
    assert!(
        counts.values().all(|count| *count == 1),
        "nothing repeated after a restart: {counts:?}"
    );
    assert_eq!(
        agent.count(&["finding", "crash.new_file", "resource=down"]),
        0,
        "{}",
        agent.log_text()
    );
}

/// The wall clock of an agent process, moved by rewriting libfaketime's timestamp file.
struct FakeClock {
    library: PathBuf,
    file: PathBuf,
}

impl FakeClock {
    /// A clock `offset` from the real one ("+0", "-10m", "+2h"), or None (after a visible
    /// skip) where libfaketime is not installed.
    fn new(dir: &Path, offset: &str) -> Option<Self> {
        let candidates = std::fs::read_dir("/usr/lib")
            .map(|entries| {
                entries
                    .flatten()
                    .map(|entry| entry.path().join("faketime/libfaketime.so.1"))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let Some(library) = candidates
            .into_iter()
            .chain([PathBuf::from("/usr/lib/faketime/libfaketime.so.1")])
            .find(|path| path.exists())
        else {
            skip("libfaketime is not installed (apt-get install faketime)");
            return None;
        };
        let clock = Self {
            library,
            file: dir.join("faketime"),
        };
        clock.set(offset);
        Some(clock)
    }

    /// Moves the clock; the agent reads the file at every clock call (FAKETIME_NO_CACHE).
    fn set(&self, offset: &str) {
        // Replaced whole, so the agent never reads half a line.
        let temporary = self.file.with_extension("tmp");
        std::fs::write(&temporary, format!("{offset}\n")).expect("write faketime file");
        std::fs::rename(&temporary, &self.file).expect("replace faketime file");
    }

    /// The `env …` prefix that runs a program on this clock: only the wall clock is faked.
    fn prefix(&self) -> Vec<String> {
        vec![
            "env".to_owned(),
            format!("LD_PRELOAD={}", self.library.display()),
            format!("FAKETIME_TIMESTAMP_FILE={}", self.file.display()),
            "FAKETIME_NO_CACHE=1".to_owned(),
            "DONT_FAKE_MONOTONIC=1".to_owned(),
        ]
    }
}

fn as_strs(prefix: &[String]) -> Vec<&str> {
    prefix.iter().map(String::as_str).collect()
}

#[tokio::test]
async fn a_two_hour_clock_jump_keeps_crash_tickets_open_and_is_reported_as_skew_without_a_reconnect()
 {
    // The clock check looks every second; the collector asks for a heartbeat every 5 s.
    let setup = Setup::new(&[("checks.clock", "interval = \"1s\"")]).await;
    let Some(clock) = FakeClock::new(setup.dir.path(), "+0") else {
        return;
    };
    let (collector, device) = (&setup.collector, setup.device.as_str());
    let agent = setup.start_agent(&as_strs(&clock.prefix()));
    agent.wait_log(&["connected to collector"], 1).await;
    drop_crash(&setup.crashes, "outlook");
    collector
        .wait_for_finding(device, "crash.new_file", "outlook", |f| {
            f.finding.severity == Severity::Warning
        })
        .await;

    // Two hours later by the wall clock, a moment later in fact: the crash window (an hour)
    // has not passed.
    clock.set("+2h");
    // Another crash makes the watch run (and look at its window) after the jump.
    drop_crash(&setup.crashes, "teams");
    collector
        .wait_for_finding(device, "crash.new_file", "teams", |_| true)
        .await;
    let cleared: Vec<_> = collector
        .findings(device)
        .await
        .into_iter()
        .filter(|f| f.finding.check == "crash.new_file" && f.finding.severity == Severity::Ok)
        .map(|f| f.finding.summary)
        .collect();
    assert!(
        cleared.is_empty(),
        "a clock jump cleared crashes: {cleared:?}"
    );
    let resolved = collector
        .running()
        .store
        .tickets(&TicketFilter {
            device_id: Some(device.to_owned()),
            state: Some("resolved".to_owned()),
            ..TicketFilter::default()
        })
        .await
        .expect("tickets");
    assert!(resolved.is_empty(), "{resolved:#?}");
    // The skew is measured from the heartbeats' answers, on the stream already open.
    let skew = collector
        .wait_for_finding(device, "clock.skew_secs", "collector", |f| {
            f.finding.severity == Severity::Critical
        })
        .await;
    assert!(
        skew.finding.summary.contains("ahead of the collector"),
        "{}",
        skew.finding.summary
    );
    assert_eq!(
        agent.count(&["connected to collector"]),
        1,
        "the skew was measured on the open stream:\n{}",
        agent.log_text()
    );
}

#[tokio::test]
async fn an_agent_ten_minutes_slow_reconnects_promptly_after_a_collector_restart() {
    let mut setup = Setup::new(&[]).await;
    let Some(clock) = FakeClock::new(setup.dir.path(), "-10m") else {
        return;
    };
    let agent = setup.start_agent(&as_strs(&clock.prefix()));
    agent.wait_log(&["connected to collector"], 1).await;
    let server_pem = setup.collector.settings.data_dir.join("server.pem");
    let before = std::fs::read_to_string(&server_pem).expect("the server certificate is kept");

    // The same data dir and port: the agent is back within the test's deadline, not minutes.
    setup.collector.restart().await;
    agent.wait_log(&["connected to collector"], 2).await;
    assert_eq!(
        std::fs::read_to_string(&server_pem).expect("server certificate"),
        before,
        "a restart presents the same server certificate"
    );
}

#[tokio::test]
async fn an_agent_whose_clock_is_days_behind_is_told_so() {
    let setup = Setup::new(&[]).await;
    let Some(clock) = FakeClock::new(setup.dir.path(), "-5d") else {
        return;
    };
    let agent = setup.start_agent(&as_strs(&clock.prefix()));
    agent
        .wait_log(
            &["uplink down", "this computer's clock is behind by at least"],
            1,
        )
        .await;
    assert_eq!(agent.count(&["connected to collector"]), 0);
}
