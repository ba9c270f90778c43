//! File watchers: new crash dumps in a directory (`crash.new_file`, one condition per crashing
//! application) or lines matching a pattern appended to a log (`log.match`). Event-driven via
//! `notify`; a condition clears once its window passes without new events.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher};
use serde::Deserialize;
use tokio::sync::{Notify, mpsc};

use super::rule::{Observation, Rule};
use super::threshold::duration;
use super::{BoxFuture, Check, Shared};
use crate::evidence;
use crate::finding::{Severity, now_ms};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchConfig {
    /// Names the watch in findings, e.g. "app-crashes".
    pub name: String,
    /// A directory (for new files) or a log file (with `lines`).
    pub path: PathBuf,
    /// File-name glob for new files, e.g. "*.crash" or "*.dmp". Default "*".
    pub pattern: Option<String>,
    /// A regex: report appended lines that match, e.g. "Out of memory|segfault".
    pub lines: Option<String>,
    /// A condition stays open this long after its last event.
    #[serde(default = "default_window", deserialize_with = "duration")]
    pub window: Duration,
    #[serde(default = "default_severity")]
    pub severity: Severity,
}

fn default_window() -> Duration {
    Duration::from_secs(3600)
}

fn default_severity() -> Severity {
    Severity::Warning
}

/// The crash-report folders of the platform, used when the config lists no watches.
pub fn default_watches() -> Vec<WatchConfig> {
    let crash_dir = |name: &str, path: PathBuf, pattern: &str| WatchConfig {
        name: name.to_owned(),
        path,
        pattern: Some(pattern.to_owned()),
        lines: None,
        window: default_window(),
        severity: default_severity(),
    };
    if cfg!(windows) {
        let local = std::env::var_os("LOCALAPPDATA")
            .map(PathBuf::from)
            .unwrap_or_default();
        vec![crash_dir("app-crashes", local.join("CrashDumps"), "*.dmp")]
    } else if cfg!(target_os = "macos") {
        vec![crash_dir(
            "app-crashes",
            PathBuf::from("/Library/Logs/DiagnosticReports"),
            "*.crash",
        )]
    } else {
        vec![crash_dir(
            "app-crashes",
            PathBuf::from("/var/crash"),
            "*.crash",
        )]
    }
}

/// Events remembered per watch (per window), and characters kept of a matching line.
const MAX_EVENTS: usize = 2_000;
const MAX_DETAIL_CHARS: usize = 200;
/// Bytes of a log read per change.
const MAX_READ_BYTES: u64 = 256 * 1024;

pub const NEW_FILE: &str = "crash.new_file";
pub const LOG_MATCH: &str = "log.match";

#[derive(Debug, Clone)]
struct Event {
    at_ms: i64,
    resource: String,
    detail: String,
    /// The crashed application's version, when its crash report says.
    version: Option<String>,
}

enum Mode {
    NewFiles {
        pattern: glob::Pattern,
    },
    Lines {
        regex: regex_lite::Regex,
        offsets: HashMap<PathBuf, u64>,
    },
}

struct WatchCheck {
    name: String,
    path: PathBuf,
    /// For a watch on one log file: that file (the folder holding it is what is watched).
    only_file: Option<PathBuf>,
    mode: Mode,
    window: Duration,
    rule: Rule,
    watcher: Option<notify::RecommendedWatcher>,
    changes: mpsc::UnboundedReceiver<notify::Event>,
    sender: mpsc::UnboundedSender<notify::Event>,
    nudge: Arc<Notify>,
    recent: VecDeque<Event>,
    counted: HashSet<PathBuf>,
    open: HashSet<String>,
}

pub fn build(config: &WatchConfig) -> Result<Option<Box<dyn Check>>, String> {
    if config.name.trim().is_empty() {
        return Err("name must not be empty".to_owned());
    }
    let mode = match &config.lines {
        Some(lines) => Mode::Lines {
            regex: regex_lite::Regex::new(lines).map_err(|e| format!("lines: {e}"))?,
            offsets: HashMap::new(),
        },
        None => Mode::NewFiles {
            pattern: glob::Pattern::new(config.pattern.as_deref().unwrap_or("*"))
                .map_err(|e| format!("pattern: {e}"))?,
        },
    };
    let (sender, changes) = mpsc::unbounded_channel();
    let mut check = WatchCheck {
        name: config.name.clone(),
        path: config.path.clone(),
        only_file: None,
        mode,
        window: config.window.max(Duration::from_secs(1)),
        rule: Rule::boolean(config.severity, Duration::ZERO, Duration::ZERO),
        watcher: None,
        changes,
        sender,
        nudge: Arc::new(Notify::new()),
        recent: VecDeque::new(),
        counted: HashSet::new(),
        open: HashSet::new(),
    };
    check.start_watching();
    Ok(Some(Box::new(check)))
}

impl WatchCheck {
    /// Starts the OS watch if the path exists; retried every cycle until it does.
    fn start_watching(&mut self) {
        if self.watcher.is_some() || !self.path.exists() {
            return;
        }
        let sender = self.sender.clone();
        let nudge = self.nudge.clone();
        let handler = move |event: notify::Result<notify::Event>| {
            if let Ok(event) = event {
                let _ = sender.send(event);
                nudge.notify_one();
            }
        };
        // A single log file is watched through its folder, so that rotation (rename, new file)
        // does not leave us watching the old inode.
        let target = if self.path.is_file() {
            self.only_file = Some(self.path.clone());
            self.path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_owned()
        } else {
            self.path.clone()
        };
        let watched = notify::recommended_watcher(handler).and_then(|mut watcher| {
            watcher.watch(&target, RecursiveMode::NonRecursive)?;
            Ok(watcher)
        });
        match watched {
            Ok(watcher) => {
                if let Mode::Lines { offsets, .. } = &mut self.mode {
                    // Only lines written from now on count.
                    for file in log_files(&self.path) {
                        let length = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
                        offsets.insert(file, length);
                    }
                }
                self.watcher = Some(watcher);
                tracing::debug!(watch = %self.name, path = %self.path.display(), "watching");
            }
            Err(e) => {
                tracing::warn!(watch = %self.name, path = %self.path.display(), error = %e, "cannot watch")
            }
        }
    }

    fn drain(&mut self) {
        use notify::event::{ModifyKind, RenameMode};
        let now = now_ms();
        while let Ok(event) = self.changes.try_recv() {
            let appeared = matches!(
                event.kind,
                EventKind::Create(_)
                    | EventKind::Modify(ModifyKind::Name(
                        RenameMode::To | RenameMode::Both | RenameMode::Any
                    ))
            );
            let written = matches!(
                event.kind,
                EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any)
            );
            let vanished = matches!(
                event.kind,
                EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(RenameMode::From))
            );
            for path in event.paths {
                // A single-file watch listens to the whole folder (to survive rotation).
                if self.only_file.as_ref().is_some_and(|file| *file != path) {
                    continue;
                }
                match &mut self.mode {
                    // A crash file removed (reported, cleaned up) may come back under the same
                    // name with the next crash: forget it.
                    Mode::NewFiles { .. } if vanished => {
                        self.counted.remove(&path);
                    }
                    Mode::NewFiles { pattern } if appeared => {
                        let name = path
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        // A regular file itself: not a FIFO or a symlink someone else left.
                        let regular = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file());
                        if pattern.matches(&name) && regular && self.counted.insert(path.clone()) {
                            self.recent.push_back(Event {
                                at_ms: now,
                                resource: application_from_file_name(&name),
                                detail: path.display().to_string(),
                                version: crash_report_version(&path),
                            });
                        }
                    }
                    Mode::Lines { offsets, .. } if vanished => {
                        offsets.remove(&path);
                    }
                    // Renamed-in files (a rotated log.1) are old lines: only writes and new
                    // files count.
                    Mode::Lines { regex, offsets }
                        if written || matches!(event.kind, EventKind::Create(_)) =>
                    {
                        for line in read_new_lines(&path, offsets) {
                            if regex.is_match(&line) {
                                let detail: String = line.chars().take(MAX_DETAIL_CHARS).collect();
                                self.recent.push_back(Event {
                                    at_ms: now,
                                    resource: self.name.clone(),
                                    detail,
                                    version: None,
                                });
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        let window_ms = i64::try_from(self.window.as_millis()).unwrap_or(i64::MAX);
        while self
            .recent
            .front()
            .is_some_and(|event| now - event.at_ms > window_ms)
        {
            self.recent.pop_front();
        }
        // A chatty pattern must not grow the agent without bound: keep the newest events.
        while self.recent.len() > MAX_EVENTS {
            self.recent.pop_front();
        }
        // Remember counted files only as long as they can matter.
        if self.counted.len() > 10_000 {
            self.counted.clear();
        }
        if let Mode::Lines { offsets, .. } = &mut self.mode
            && offsets.len() > 10_000
        {
            offsets.retain(|path, _| path.exists());
        }
    }

    fn evaluate(&mut self) -> Vec<Observation> {
        let check = match self.mode {
            Mode::NewFiles { .. } => NEW_FILE,
            Mode::Lines { .. } => LOG_MATCH,
        };
        let mut by_resource: HashMap<&str, Vec<&Event>> = HashMap::new();
        for event in &self.recent {
            by_resource
                .entry(event.resource.as_str())
                .or_default()
                .push(event);
        }
        let mut resources: Vec<String> = self.open.iter().cloned().collect();
        for resource in by_resource.keys() {
            if !self.open.contains(*resource) {
                resources.push((*resource).to_owned());
            }
        }
        let window = humantime::format_duration(self.window).to_string();
        let mut observations = Vec::new();
        let mut still_open = HashSet::new();
        for resource in resources {
            let events = by_resource
                .get(resource.as_str())
                .map(Vec::as_slice)
                .unwrap_or_default();
            let latest: Vec<&str> = events
                .iter()
                .rev()
                .take(5)
                .map(|e| e.detail.as_str())
                .collect();
            let summary = match (check, events.len()) {
                (_, 0) => format!("No new events for {resource} in the last {window}"),
                (NEW_FILE, count) => format!(
                    "{count} new crash report(s) from {resource} in the last {window} (latest: {})",
                    latest[0]
                ),
                (_, count) => format!(
                    "{count} log line(s) matching watch {resource} in the last {window} (latest: {})",
                    latest[0]
                ),
            };
            if !events.is_empty() {
                still_open.insert(resource.clone());
            }
            let mut evidence = evidence! {
                "watch" => self.name,
                "path" => self.path.display().to_string(),
                "count" => events.len(),
                "latest" => latest,
            };
            // The collector groups crashes of one application version across devices.
            if let Some(version) = events.iter().rev().find_map(|e| e.version.as_deref()) {
                evidence.insert("app_version".to_owned(), serde_json::json!(version));
            }
            observations.push(Observation {
                check,
                resource: resource.clone(),
                value: if events.is_empty() { 0.0 } else { 1.0 },
                rule: self.rule,
                summary,
                evidence,
            });
        }
        self.open = still_open;
        observations
    }
}

impl Check for WatchCheck {
    fn names(&self) -> &'static [&'static str] {
        match self.mode {
            Mode::NewFiles { .. } => &[NEW_FILE],
            Mode::Lines { .. } => &[LOG_MATCH],
        }
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(60)
    }

    fn run<'a>(
        &'a mut self,
        _shared: &'a Shared,
    ) -> BoxFuture<'a, Result<Vec<Observation>, String>> {
        Box::pin(async move {
            self.start_watching();
            self.drain();
            Ok(self.evaluate())
        })
    }

    fn reports_every_resource(&self) -> bool {
        false
    }

    /// Conditions open before a restart stay open for one more window from now: the events
    /// behind them were in memory, and silence is not recovery.
    fn adopt(&mut self, open_resources: &[String]) {
        let now = now_ms();
        for resource in open_resources {
            if self.open.insert(resource.clone()) {
                self.recent.push_back(Event {
                    at_ms: now,
                    resource: resource.clone(),
                    detail: "(before the agent restarted)".to_owned(),
                    version: None,
                });
            }
        }
    }

    fn wake(&mut self) -> BoxFuture<'_, ()> {
        let nudge = self.nudge.clone();
        Box::pin(async move { nudge.notified().await })
    }
}

/// The files a lines-watch reads: the path itself, or the files directly inside it.
fn log_files(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_owned()];
    }
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default()
}

/// Lines appended to `path` since the last read; a file that shrank was rotated: start over.
fn read_new_lines(path: &Path, offsets: &mut HashMap<PathBuf, u64>) -> Vec<String> {
    let Ok(mut file) = crate::probes::files::open_regular(path) else {
        return Vec::new();
    };
    let length = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut offset = offsets.get(path).copied().unwrap_or(0);
    if length < offset {
        offset = 0;
    }
    // Read a bounded amount per change so a runaway log cannot balloon the agent.
    let to_read = (length - offset).min(MAX_READ_BYTES);
    let mut buffer = vec![0u8; usize::try_from(to_read).unwrap_or(0)];
    if file.seek(SeekFrom::Start(offset)).is_err() || file.read_exact(&mut buffer).is_err() {
        return Vec::new();
    }
    // Keep a trailing partial line for next time.
    let complete = buffer
        .iter()
        .rposition(|b| *b == b'\n')
        .map(|i| i + 1)
        .unwrap_or(0);
    offsets.insert(path.to_owned(), offset + complete as u64);
    String::from_utf8_lossy(&buffer[..complete])
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Crash reports worth opening are small text headers; dumps are binary and skipped.
const MAX_REPORT_HEADER_BYTES: u64 = 64 * 1024;

/// The application version a crash report names: apport's `Package: gedit 3.38.1-1`, Windows
/// Error Reporting's `AppVersion=16.0.1`, or the `"app_version"` of a macOS `.ips` header.
pub(crate) fn crash_report_version(path: &std::path::Path) -> Option<String> {
    // Crash folders are often world-writable: a FIFO or a symlink there must not block the
    // agent or make it read what the user could not.
    let header = crate::probes::files::read_head(path, MAX_REPORT_HEADER_BYTES).ok()?;
    parse_crash_version(&String::from_utf8_lossy(&header))
}

fn parse_crash_version(text: &str) -> Option<String> {
    let clean = |version: &str| {
        let version: String = version
            .trim()
            .trim_matches('"')
            .chars()
            .take(64)
            .filter(|c| !c.is_control())
            .collect();
        (!version.is_empty()).then_some(version)
    };
    for line in text.lines().take(400) {
        let line = line.trim_start_matches('\u{feff}').trim();
        if let Some(package) = line.strip_prefix("Package:") {
            // "gedit 3.38.1-1 [origin: Debian]": the second word.
            return package.split_whitespace().nth(1).and_then(clean);
        }
        if let Some(version) = line.strip_prefix("AppVersion=") {
            return clean(version);
        }
        if let Some(rest) = line.find("\"app_version\"").map(|at| &line[at + 13..]) {
            let value = rest.trim_start().strip_prefix(':')?.trim_start();
            let value = value.strip_prefix('"')?;
            return value.split('"').next().and_then(clean);
        }
    }
    None
}

/// "outlook.exe.1234.dmp" → "outlook.exe"; "_usr_bin_gedit.1000.crash" → "_usr_bin_gedit";
/// "Safari-2026-11-22-101010.ips" → "Safari".
pub fn application_from_file_name(name: &str) -> String {
    let mut parts: Vec<&str> = name.split('.').collect();
    if parts.len() > 1
        && parts.last().is_some_and(|ext| {
            ["crash", "dmp", "mdmp", "ips", "core", "hang", "log"]
                .contains(&ext.to_ascii_lowercase().as_str())
        })
    {
        parts.pop();
    }
    while parts.len() > 1
        && parts
            .last()
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        parts.pop();
    }
    let joined = parts.join(".");
    let cut = joined
        .char_indices()
        .find(|(i, c)| *c == '-' && joined[i + 1..].starts_with(|d: char| d.is_ascii_digit()))
        .map(|(i, _)| i);
    let application = match cut {
        Some(i) if i > 0 => &joined[..i],
        _ => joined.as_str(),
    };
    if application.is_empty() {
        name.to_owned()
    } else {
        application.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::Shared;

    #[test]
    fn crash_reports_name_the_application_version() {
        let cases = [
            (
                "ProblemType: Crash\nPackage: gedit 3.38.1-1 [origin: Debian]\nExecutablePath: /usr/bin/gedit\n",
                Some("3.38.1-1"),
            ),
            (
                "\u{feff}Version=1\nEventType=APPCRASH\nAppName=OUTLOOK.EXE\nAppVersion=16.0.17928.20114\n",
                Some("16.0.17928.20114"),
            ),
            (
                r#"{"app_name":"Safari","app_version":"18.1","bug_type":"309"}"#,
                Some("18.1"),
            ),
            ("Package: gedit\n", None),
            ("\u{0}\u{1}binary dump", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_crash_version(text).as_deref(), expected, "{text:?}");
        }
    }

    #[test]
    fn crash_files_are_grouped_by_application() {
        for (file, application) in [
            ("outlook.exe.1234.dmp", "outlook.exe"),
            ("_usr_bin_gedit.1000.crash", "_usr_bin_gedit"),
            ("Safari-2026-11-22-101010.ips", "Safari"),
            ("core", "core"),
            ("weird", "weird"),
        ] {
            assert_eq!(application_from_file_name(file), application, "{file}");
        }
    }

    /// Runs the check until an observation of `resource` reports `count` events.
    async fn wait_for_count(
        check: &mut Box<dyn Check>,
        resource: &str,
        count: usize,
    ) -> Observation {
        let shared = Shared::default();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let observations = check.run(&shared).await.expect("runs");
            if let Some(observation) = observations
                .into_iter()
                .find(|o| o.resource == resource && o.evidence["count"] == count)
            {
                return observation;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no observation of {resource} with {count} events"
            );
            let _ = tokio::time::timeout(Duration::from_millis(100), check.wake()).await;
        }
    }

    #[tokio::test]
    async fn a_watched_log_keeps_being_read_after_rotation_and_old_lines_do_not_count_again() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("app.log");
        std::fs::write(&log, "boot\nOut of memory: old news\n").expect("write");
        let config = WatchConfig {
            name: "oom".to_owned(),
            path: log.clone(),
            pattern: None,
            lines: Some("Out of memory".to_owned()),
            window: Duration::from_secs(3600),
            severity: Severity::Warning,
        };
        let mut check = build(&config).expect("valid").expect("built");
        let append = |text: &str| {
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(&log)
                .expect("open");
            file.write_all(text.as_bytes()).expect("append");
        };
        append("Out of memory: killed process 42\n");
        let first = wait_for_count(&mut check, "oom", 1).await;
        assert!(
            first.evidence["latest"][0]
                .as_str()
                .unwrap_or_default()
                .contains("process 42")
        );
        // Rotate: the old file moves aside, a new one takes its name.
        std::fs::rename(&log, dir.path().join("app.log.1")).expect("rotate");
        append("Out of memory: killed process 43\n");
        let second = wait_for_count(&mut check, "oom", 2).await;
        assert!(
            second.evidence["latest"][0]
                .as_str()
                .unwrap_or_default()
                .contains("process 43")
        );
    }

    #[test]
    fn appended_lines_are_read_once_and_rotation_starts_over() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("app.log");
        std::fs::write(&log, "old line\n").expect("write");
        let mut offsets = HashMap::from([(log.clone(), 9)]);
        std::fs::write(&log, "old line\nnew line\npartial").expect("write");
        assert_eq!(read_new_lines(&log, &mut offsets), ["new line"]);
        assert!(read_new_lines(&log, &mut offsets).is_empty());
        std::fs::write(&log, "rotated\n").expect("write");
        assert_eq!(read_new_lines(&log, &mut offsets), ["rotated"]);
    }
}
