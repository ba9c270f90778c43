//! File watchers: new crash dumps in a directory (`crash.new_file`, one condition per crashing
//! application) or lines matching a pattern appended to a log (`log.match`). Event-driven via
//! `notify`; a condition clears once its window passes without new events. Windows are kept on
//! the monotonic clock, so a step of the wall clock neither opens nor clears anything.
//!
//! Where a watch got to is kept in the state dir (`watch_position.rs`), written only after the
//! outbox holds what was reported from it: at start a watch catches up on what appeared while
//! the agent was stopped, exactly once.

use std::collections::HashSet;
use std::collections::{HashMap, VecDeque};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use notify::{EventKind, RecursiveMode, Watcher};
use serde::Deserialize;
use tokio::sync::{Notify, mpsc};

use super::rule::{Observation, Rule};
use super::threshold::duration;
use super::watch_position::{self as position, FileId, Loaded, LogOffset};
use super::wer;
use super::{BoxFuture, Check, Checkpoint, Shared};
use crate::evidence;
use crate::finding::Severity;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchConfig {
    /// Names the watch in findings, e.g. "app-crashes".
    pub name: String,
    /// A directory (for new files) or a log file (with `lines`).
    pub path: PathBuf,
    /// File-name glob for new files, e.g. "*.crash" or "*.dmp". Default "*". With `/` it
    /// matches files in subfolders, one level per `/`: "Report*/*/Report.wer" is Windows
    /// Error Reporting's folder-per-report layout.
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
        // Windows Error Reporting files one folder per crash, in ReportQueue until it is sent
        // and in ReportArchive after, for every account. (%LOCALAPPDATA%\CrashDumps is, for
        // a service running as LocalSystem, the system profile's, and usually empty.)
        let program_data = std::env::var_os("ProgramData")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(r"C:\ProgramData"));
        vec![crash_dir(
            "app-crashes",
            program_data.join("Microsoft").join("Windows").join("WER"),
            WER_REPORTS_PATTERN,
        )]
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
/// Bytes of a log read at start to catch up on lines written while the agent was stopped;
/// the rest is read with the next change.
const MAX_CATCH_UP_BYTES: u64 = 16 * MAX_READ_BYTES;

pub const NEW_FILE: &str = "crash.new_file";

/// The default Windows crash watch's pattern, below `%ProgramData%\Microsoft\Windows\WER`:
/// the report of each folder in ReportQueue and ReportArchive.
pub const WER_REPORTS_PATTERN: &str = "Report*/*/Report.wer";
pub const LOG_MATCH: &str = "log.match";

#[derive(Debug, Clone)]
struct Event {
    /// When it happened on the monotonic clock: windows are durations, and the wall clock may
    /// be stepped (by hand, by NTP, by a VM resumed) while the agent runs.
    at: Instant,
    resource: String,
    detail: String,
    /// What the crash report says about the crash, when it says.
    crash: CrashDetails,
}

/// What a crash report says beyond the application, for the evidence.
#[derive(Debug, Clone, Default, PartialEq)]
struct CrashDetails {
    /// The crashed application's version.
    version: Option<String>,
    /// The module the fault was in, and the exception code (Windows Error Reporting).
    module: Option<String>,
    exception_code: Option<String>,
    /// Identifiers of the report: the same crash reached twice (its folder moved from
    /// ReportQueue to ReportArchive, or read from the Event Log too) counts once.
    report_ids: Vec<String>,
}

impl CrashDetails {
    fn is_empty(&self) -> bool {
        *self == CrashDetails::default()
    }
}

enum Mode {
    NewFiles {
        pattern: glob::Pattern,
        /// Crash files seen (reported, or old at the first start), by name (relative to the
        /// watched folder): their identity and modification time. Files removed are
        /// forgotten, so a name can come back.
        seen: HashMap<String, (FileId, u64)>,
    },
    Lines {
        regex: regex_lite::Regex,
        offsets: HashMap<PathBuf, LogOffset>,
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
    open: HashSet<String>,
    /// Whether the folder was looked at for what appeared while the agent was stopped.
    caught_up: bool,
    /// Where the position is kept; none without a state dir (`firstline-agent check`).
    position_file: Option<PathBuf>,
    /// The position changed since it was last handed out to be written.
    position_changed: bool,
    /// The default Windows crash watch also reads the Application log's crash events, kept in
    /// memory only: after a restart, those of the last window are read again (their
    /// conditions, adopted, do not fire twice).
    event_log: Option<wer::EventLogPosition>,
}

pub fn build(config: &WatchConfig) -> Result<Option<Box<dyn Check>>, String> {
    Ok(Some(Box::new(watch_check(config)?)))
}

/// Checks what `build` would refuse, without starting anything.
pub fn check_config(config: &WatchConfig) -> Result<(), String> {
    if config.name.trim().is_empty() {
        return Err("name must not be empty".to_owned());
    }
    match &config.lines {
        Some(lines) => regex_lite::Regex::new(lines)
            .map(drop)
            .map_err(|e| format!("lines: {e}")),
        None => glob::Pattern::new(config.pattern.as_deref().unwrap_or("*"))
            .map(drop)
            .map_err(|e| format!("pattern: {e}")),
    }
}

/// The watch `config` describes, its OS watch started if the path exists.
fn watch_check(config: &WatchConfig) -> Result<WatchCheck, String> {
    check_config(config)?;
    let mode = match &config.lines {
        Some(lines) => Mode::Lines {
            regex: regex_lite::Regex::new(lines).map_err(|e| format!("lines: {e}"))?,
            offsets: HashMap::new(),
        },
        None => Mode::NewFiles {
            pattern: glob::Pattern::new(config.pattern.as_deref().unwrap_or("*"))
                .map_err(|e| format!("pattern: {e}"))?,
            seen: HashMap::new(),
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
        open: HashSet::new(),
        caught_up: false,
        position_file: None,
        position_changed: false,
        event_log: (cfg!(windows)
            && config.lines.is_none()
            && config.pattern.as_deref() == Some(WER_REPORTS_PATTERN))
        .then(wer::EventLogPosition::default),
    };
    check.start_watching();
    Ok(check)
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
        // A pattern for files in subfolders needs to hear about what happens inside them.
        let recursion = if self.nested() {
            RecursiveMode::Recursive
        } else {
            RecursiveMode::NonRecursive
        };
        let watched = notify::recommended_watcher(handler).and_then(|mut watcher| {
            watcher.watch(&target, recursion)?;
            Ok(watcher)
        });
        match watched {
            Ok(watcher) => {
                if let Mode::Lines { offsets, .. } = &mut self.mode {
                    // Without a position to resume from, only lines written from now on count.
                    for file in log_files(&self.path) {
                        if let Ok(metadata) = std::fs::metadata(&file) {
                            let id = FileId::of(&file, &metadata);
                            let offset = metadata.len();
                            offsets.insert(
                                file,
                                LogOffset {
                                    id,
                                    offset,
                                    tail: None,
                                },
                            );
                        }
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

    /// Once the OS watch is in place (so nothing slips between the two): what appeared while
    /// the agent was stopped, from the persisted position. The first start of a watch (no
    /// position, or one that cannot be read) reports only crash files from the last window,
    /// which its condition would show had the agent been running, and reads logs from their
    /// end: a fresh install does not report years of old dumps and logs.
    fn catch_up(&mut self, shared: &Shared) {
        if self.caught_up || self.watcher.is_none() {
            return;
        }
        self.caught_up = true;
        self.position_file = shared
            .facts()
            .state_dir
            .map(|state_dir| position::file_for(&state_dir, &self.name));
        let loaded = match &self.position_file {
            Some(file) => position::load(file, &self.path, &self.pattern_text()),
            None => Loaded::Missing,
        };
        if let Loaded::Unusable(reason) = &loaded {
            tracing::warn!(watch = %self.name, %reason, "starting this watch afresh");
        }
        let now = Instant::now();
        let wall_now = SystemTime::now();
        let found = match loaded {
            Loaded::Found(position) => Some(position),
            Loaded::Missing | Loaded::Unusable(_) => None,
        };
        let first_start = found.is_none();
        let mut caught = 0;
        // Past MAX_EVENTS the oldest would be trimmed anyway: a folder of 100,000 new files
        // must not hold them all (nor read every one's report) first. Counted for the log.
        let mut not_kept = 0u64;
        let recent = &mut self.recent;
        let mut remember = |event: &dyn Fn() -> Event| {
            if recent.len() < MAX_EVENTS {
                remember_crash(recent, event());
            } else {
                not_kept += 1;
            }
        };
        match &mut self.mode {
            Mode::NewFiles { pattern, seen } => {
                let seen_before = found
                    .as_ref()
                    .map(|position| position.seen_before(position::now_ns()));
                for (name, file, metadata) in matching_files(&self.path, pattern) {
                    let id = FileId::of(&file, &metadata);
                    let modified_ns = position::modified_ns(&metadata);
                    seen.insert(name.clone(), (id, modified_ns));
                    let at = match &seen_before {
                        Some(seen_before) if seen_before.contains(&name, id, modified_ns) => {
                            continue;
                        }
                        // New since the last position: discovered now, open for a window.
                        Some(_) => now,
                        // The first start: only what its window still holds, from its time.
                        None => {
                            let age = metadata
                                .modified()
                                .ok()
                                .and_then(|modified| wall_now.duration_since(modified).ok())
                                .unwrap_or_default();
                            if age > self.window {
                                continue;
                            }
                            now.checked_sub(age).unwrap_or(now)
                        }
                    };
                    caught += 1;
                    remember(&|| crash_event(&file, at));
                }
            }
            Mode::Lines { regex, offsets } => {
                let kept: HashMap<PathBuf, LogOffset> = found
                    .as_ref()
                    .map(|position| position.logs.iter().cloned().collect())
                    .unwrap_or_default();
                for file in log_files(&self.path) {
                    let Ok(metadata) = std::fs::metadata(&file) else {
                        continue;
                    };
                    let id = FileId::of(&file, &metadata);
                    let offset = match kept.get(&file) {
                        // The same file, not shrunk nor rewritten: resume where the last run
                        // stopped.
                        Some(kept) if kept.still_fits(&file, id, metadata.len()) => kept.offset,
                        // Rotated or truncated meanwhile, or new since: all of it is new.
                        Some(_) => 0,
                        None if found.is_some() => 0,
                        // The first start: only lines written since the OS watch began.
                        None => offsets
                            .get(&file)
                            .filter(|started| started.id == id)
                            .map_or(metadata.len(), |started| started.offset),
                    };
                    offsets.insert(
                        file.clone(),
                        LogOffset {
                            id,
                            offset,
                            tail: None,
                        },
                    );
                    let mut read = 0;
                    while read < MAX_CATCH_UP_BYTES {
                        let before = offsets.get(&file).map_or(0, |o| o.offset);
                        for line in read_new_lines(&file, offsets) {
                            if regex.is_match(&line) {
                                caught += 1;
                                remember(&|| Event {
                                    at: now,
                                    resource: self.name.clone(),
                                    detail: line.chars().take(MAX_DETAIL_CHARS).collect(),
                                    crash: CrashDetails::default(),
                                });
                            }
                        }
                        let after = offsets.get(&file).map_or(0, |o| o.offset);
                        if after <= before {
                            break;
                        }
                        read += after - before;
                    }
                }
            }
        }
        self.position_changed = true;
        if not_kept > 0 {
            tracing::warn!(watch = %self.name, not_kept, max_events = MAX_EVENTS, "more new events than a watch keeps; the rest were counted, not kept");
        }
        tracing::info!(watch = %self.name, path = %self.path.display(), first_start, new_events = caught, "caught up on what changed while the agent was stopped");
    }

    /// Whether the crash files are in subfolders (a pattern with `/`).
    fn nested(&self) -> bool {
        matches!(&self.mode, Mode::NewFiles { pattern, .. } if pattern.as_str().contains('/'))
    }

    /// Crash files in subfolders: any change below the folder looks at all of them again.
    /// Events name folders and files in whatever order they were made (WER makes the folder,
    /// then writes its report), so the files themselves are what counts, not the events.
    fn rescan_nested(&mut self, now: Instant) {
        let Mode::NewFiles { pattern, seen } = &mut self.mode else {
            return;
        };
        let found = matching_files(&self.path, pattern);
        let present: HashSet<&str> = found.iter().map(|(name, _, _)| name.as_str()).collect();
        let before = seen.len();
        // Removed (sent, moved to the archive, cleaned up): forgotten.
        seen.retain(|name, _| present.contains(name.as_str()));
        if seen.len() != before {
            self.position_changed = true;
        }
        for (name, file, metadata) in &found {
            if seen.contains_key(name) {
                // Seen while its report was still being written: what it says now.
                refresh_crash(&mut self.recent, file);
                continue;
            }
            seen.insert(
                name.clone(),
                (FileId::of(file, metadata), position::modified_ns(metadata)),
            );
            self.position_changed = true;
            remember_crash(&mut self.recent, crash_event(file, now));
        }
    }

    /// Crash events of the Application log since the last read: a second source beside the
    /// report folders (WER may keep no folder: disabled, or cleaned up), the same crash
    /// counted once by its report identifiers.
    fn read_event_log(&mut self, now: Instant) {
        let Some(position) = &mut self.event_log else {
            return;
        };
        let query = position.query(self.window);
        #[cfg(windows)]
        let read = crate::probes::windows::app_errors::read_application_events(&query, MAX_EVENTS);
        #[cfg(not(windows))]
        let read: Result<Vec<String>, String> = Err(format!("no Event Log to ask {query:?}"));
        match read {
            Ok(events) => {
                position.warned = false;
                for (detail, report) in position.take(&events) {
                    let (resource, crash) = crash_details(report);
                    remember_crash(
                        &mut self.recent,
                        Event {
                            at: now,
                            resource,
                            detail,
                            crash,
                        },
                    );
                }
            }
            Err(e) if !position.warned => {
                position.warned = true;
                tracing::warn!(watch = %self.name, error = %e, "cannot read the Application log's crash events; the report folders still count");
            }
            Err(_) => {}
        }
    }

    /// The file pattern of a crash watch, as its position records it (empty for logs).
    fn pattern_text(&self) -> String {
        match &self.mode {
            Mode::NewFiles { pattern, .. } => pattern.as_str().to_owned(),
            Mode::Lines { .. } => String::new(),
        }
    }

    fn drain(&mut self) {
        use notify::event::{ModifyKind, RenameMode};
        let now = Instant::now();
        if self.nested() {
            while self.changes.try_recv().is_ok() {}
            if self.watcher.is_some() {
                self.rescan_nested(now);
            }
        }
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
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                // Events arrive after the fact: by the time a removal is read, another file may
                // have taken the name (and been read already). Only what is gone is forgotten.
                let now_there = std::fs::symlink_metadata(&path)
                    .ok()
                    .map(|metadata| FileId::of(&path, &metadata));
                match &mut self.mode {
                    // A crash file removed (reported, cleaned up) may come back under the same
                    // name with the next crash: forget it.
                    Mode::NewFiles { seen, .. }
                        if vanished
                            && seen
                                .get(&name)
                                .is_some_and(|(id, _)| Some(*id) != now_there) =>
                    {
                        seen.remove(&name);
                        self.position_changed = true;
                    }
                    Mode::NewFiles { pattern, seen } if appeared => {
                        // A regular file itself: not a FIFO or a symlink someone else left.
                        let Some(metadata) = std::fs::symlink_metadata(&path)
                            .ok()
                            .filter(|m| m.is_file())
                        else {
                            continue;
                        };
                        let id = FileId::of(&path, &metadata);
                        // Seen already: found by the catch-up, or a second event for it.
                        if !pattern.matches(&name) || seen.get(&name).is_some_and(|(s, _)| *s == id)
                        {
                            continue;
                        }
                        seen.insert(name.clone(), (id, position::modified_ns(&metadata)));
                        self.position_changed = true;
                        remember_crash(&mut self.recent, crash_event(&path, now));
                    }
                    Mode::Lines { offsets, .. }
                        if vanished
                            && offsets
                                .get(&path)
                                .is_some_and(|kept| Some(kept.id) != now_there) =>
                    {
                        offsets.remove(&path);
                        self.position_changed = true;
                    }
                    // Renamed-in files (a rotated log.1) are old lines: only writes and new
                    // files count.
                    Mode::Lines { regex, offsets }
                        if written || matches!(event.kind, EventKind::Create(_)) =>
                    {
                        let before = offsets.get(&path).copied();
                        for line in read_new_lines(&path, offsets) {
                            if regex.is_match(&line) {
                                let detail: String = line.chars().take(MAX_DETAIL_CHARS).collect();
                                self.recent.push_back(Event {
                                    at: now,
                                    resource: self.name.clone(),
                                    detail,
                                    crash: CrashDetails::default(),
                                });
                            }
                        }
                        if offsets.get(&path).copied() != before {
                            self.position_changed = true;
                        }
                    }
                    _ => {}
                }
            }
        }
        while self
            .recent
            .front()
            .is_some_and(|event| now.saturating_duration_since(event.at) > self.window)
        {
            self.recent.pop_front();
        }
        // Remember files only as long as they can matter: a folder of more than this many
        // is looked at again (and the floor of the position covers the oldest).
        if let Mode::NewFiles { seen, .. } = &mut self.mode
            && seen.len() > position::MAX_SEEN_FILES * 2
        {
            seen.retain(|name, _| self.path.join(name).exists());
        }
        if let Mode::Lines { offsets, .. } = &mut self.mode
            && offsets.len() > position::MAX_LOG_FILES
        {
            offsets.retain(|path, _| path.exists());
        }
    }

    /// A chatty pattern must not grow the agent without bound: keep the newest events. Done
    /// after evaluating, so that every event (a catch-up of thousands of crash files) has
    /// been looked at once.
    fn trim(&mut self) {
        while self.recent.len() > MAX_EVENTS {
            self.recent.pop_front();
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
                // The window the count is over: the collector's titles say "in the last hour".
                "window_secs" => self.window.as_secs(),
                "latest" => latest,
            };
            // The collector groups crashes of one application version across devices.
            if let Some(version) = events.iter().rev().find_map(|e| e.crash.version.as_deref()) {
                evidence.insert("app_version".to_owned(), serde_json::json!(version));
            }
            // Where it crashed, as Windows Error Reporting says: the module and the exception.
            if let Some(crash) = events
                .iter()
                .rev()
                .map(|e| &e.crash)
                .find(|crash| crash.module.is_some() || crash.exception_code.is_some())
            {
                evidence.insert("application".to_owned(), serde_json::json!(resource));
                for (key, value) in [
                    ("fault_module", &crash.module),
                    ("exception_code", &crash.exception_code),
                ] {
                    if let Some(value) = value {
                        evidence.insert(key.to_owned(), serde_json::json!(value));
                    }
                }
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
        shared: &'a Shared,
    ) -> BoxFuture<'a, Result<Vec<Observation>, String>> {
        Box::pin(async move {
            self.start_watching();
            self.catch_up(shared);
            self.drain();
            self.read_event_log(Instant::now());
            let observations = self.evaluate();
            self.trim();
            Ok(observations)
        })
    }

    /// The position after this run, to be written once the outbox holds what the run
    /// reported: a crash before then reports the same files again (their conditions, open
    /// in the outbox, do not fire twice), never loses them.
    fn checkpoint(&mut self) -> Option<Checkpoint> {
        if !self.position_changed {
            return None;
        }
        let file = self.position_file.clone()?;
        self.position_changed = false;
        let no_files = HashMap::new();
        let no_logs = HashMap::new();
        let (seen, logs) = match &self.mode {
            Mode::NewFiles { seen, .. } => (seen, &no_logs),
            Mode::Lines { offsets, .. } => (&no_files, offsets),
        };
        let pattern = self.pattern_text();
        let position =
            position::Position::new(&self.path, &pattern, seen, logs, position::now_ns());
        let contents = match serde_json::to_vec(&position) {
            Ok(contents) => contents,
            Err(e) => {
                tracing::warn!(watch = %self.name, error = %e, "encoding the watch position");
                return None;
            }
        };
        let name = self.name.clone();
        Some(Box::new(move || {
            // A full disk must not stop the agent: the previous position stays whole, and the
            // worst a restart then does is report the newest files once more.
            if let Err(e) = position::store(&file, &contents) {
                tracing::warn!(watch = %name, path = %file.display(), error = %e, "cannot save where the watch got to; carrying on");
            }
        }))
    }

    fn reports_every_resource(&self) -> bool {
        false
    }

    /// Conditions open before a restart stay open for one more window from now: the events
    /// behind them were in memory, and silence is not recovery.
    fn adopt(&mut self, open_resources: &[String]) {
        let now = Instant::now();
        for resource in open_resources {
            if self.open.insert(resource.clone()) {
                self.recent.push_back(Event {
                    at: now,
                    resource: resource.clone(),
                    detail: "(before the agent restarted)".to_owned(),
                    crash: CrashDetails::default(),
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

/// The crash files below `folder` matching `pattern`, with their names relative to it
/// (`a/b` for a pattern with `/`): regular files only (not a FIFO or a symlink someone left in
/// a world-writable folder), in real folders only (not through a symlink).
fn matching_files(
    folder: &Path,
    pattern: &glob::Pattern,
) -> Vec<(String, PathBuf, std::fs::Metadata)> {
    let levels: Vec<glob::Pattern> = pattern
        .as_str()
        .split('/')
        .filter_map(|level| glob::Pattern::new(level).ok())
        .collect();
    let mut found = Vec::new();
    collect_matching(folder, "", &levels, &mut found);
    found
}

fn collect_matching(
    folder: &Path,
    prefix: &str,
    levels: &[glob::Pattern],
    found: &mut Vec<(String, PathBuf, std::fs::Metadata)>,
) {
    let Some((level, deeper)) = levels.split_first() else {
        return;
    };
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) => {
            // A report folder removed meanwhile is normal; the watched folder itself is not.
            if prefix.is_empty() {
                tracing::warn!(path = %folder.display(), error = %e, "cannot list the watched folder");
            }
            return;
        }
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if !level.matches(&file_name) {
            continue;
        }
        let path = entry.path();
        let Ok(metadata) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let name = format!("{prefix}{file_name}");
        if deeper.is_empty() {
            if metadata.is_file() {
                found.push((name, path, metadata));
            }
        } else if metadata.is_dir() {
            collect_matching(&path, &format!("{name}/"), deeper, found);
        }
    }
}

/// A crash file found at `at`: its application and what its report says. A WER report
/// folder's `Report.wer` names the program it is about; other crash files are named after it.
fn crash_event(path: &Path, at: Instant) -> Event {
    let detail = path.display().to_string();
    let is_wer_report = path
        .file_name()
        .is_some_and(|name| name.eq_ignore_ascii_case(wer::REPORT_FILE));
    if !is_wer_report {
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        return Event {
            at,
            resource: application_from_file_name(&name),
            detail,
            crash: CrashDetails {
                version: crash_report_version(path),
                ..CrashDetails::default()
            },
        };
    }
    let folder = path
        .parent()
        .and_then(Path::file_name)
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    match wer::read_report(path) {
        Ok(report) => {
            let (resource, crash) = crash_details(report);
            Event {
                at,
                resource,
                detail,
                crash,
            }
        }
        // Still being written, or damaged: the folder's name still says which program.
        Err(e) => {
            tracing::debug!(path = %path.display(), error = %e, "a crash report that cannot be read (yet)");
            Event {
                at,
                resource: wer::application_from_folder_name(&folder)
                    .unwrap_or_else(|| application_from_file_name(&folder)),
                detail,
                crash: CrashDetails::default(),
            }
        }
    }
}

/// A WER report's application (the condition's resource) and the rest of what it says.
fn crash_details(report: wer::CrashReport) -> (String, CrashDetails) {
    (
        report.application,
        CrashDetails {
            version: report.version,
            module: report.module,
            exception_code: report.exception_code,
            report_ids: report.report_ids,
        },
    )
}

/// Adds a crash event unless the same report (by its identifiers) is already there.
fn remember_crash(recent: &mut VecDeque<Event>, event: Event) {
    let known = !event.crash.report_ids.is_empty()
        && recent.iter().any(|earlier| {
            earlier
                .crash
                .report_ids
                .iter()
                .any(|id| event.crash.report_ids.contains(id))
        });
    if known {
        tracing::debug!(detail = %event.detail, "the same crash report again; counted once");
        return;
    }
    recent.push_back(event);
}

/// A report found before it was complete: read again, and its event told what it says now.
fn refresh_crash(recent: &mut VecDeque<Event>, path: &Path) {
    let detail = path.display().to_string();
    let Some(event) = recent
        .iter_mut()
        .rev()
        .find(|event| event.detail == detail && event.crash.is_empty())
    else {
        return;
    };
    let fresh = crash_event(path, event.at);
    if !fresh.crash.is_empty() {
        *event = fresh;
    }
}

/// Lines appended to `path` since the last read; a file that shrank, or another file under
/// the name (rotated), is read from its start.
fn read_new_lines(path: &Path, offsets: &mut HashMap<PathBuf, LogOffset>) -> Vec<String> {
    let Ok(mut file) = crate::probes::files::open_regular(path) else {
        return Vec::new();
    };
    let Ok(metadata) = file.metadata() else {
        return Vec::new();
    };
    let length = metadata.len();
    let id = FileId::of_file(&file, &metadata);
    let mut offset = offsets
        .get(path)
        .filter(|kept| kept.id == id)
        .map_or(0, |kept| kept.offset);
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
    offsets.insert(
        path.to_owned(),
        LogOffset {
            id,
            offset: offset + complete as u64,
            tail: None,
        },
    );
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

    /// Windows Error Reporting's layout: a folder per report, its Report.wer (UTF-16 with a
    /// BOM) written after the folder; moved from ReportQueue to ReportArchive once sent.
    #[tokio::test]
    async fn wer_report_folders_are_crashes_of_their_application_counted_once_when_archived() {
        let root = tempfile::tempdir().expect("temp dir");
        let queue = root.path().join("ReportQueue");
        let archive = root.path().join("ReportArchive");
        std::fs::create_dir_all(&queue).expect("mkdir");
        std::fs::create_dir_all(&archive).expect("mkdir");
        let config = WatchConfig {
            name: "app-crashes".to_owned(),
            path: root.path().to_owned(),
            pattern: Some(WER_REPORTS_PATTERN.to_owned()),
            lines: None,
            window: Duration::from_secs(3600),
            severity: Severity::Warning,
        };
        let mut check = watch_check(&config).expect("valid");
        let shared = Shared::default();
        assert!(check.run(&shared).await.expect("runs").is_empty());

        let folder =
            "AppCrash_OUTLOOK.EXE_9b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c_1f2e3d4c_0a1b2c3d";
        let report = "Version=1\r\nEventType=APPCRASH\r\n\
            ReportIdentifier=0f6c1b2a-3d4e-4f50-8a9b-112233445566\r\n\
            Sig[0].Name=Application Name\r\nSig[0].Value=OUTLOOK.EXE\r\n\
            Sig[1].Name=Application Version\r\nSig[1].Value=16.0.1.0\r\n\
            Sig[3].Name=Fault Module Name\r\nSig[3].Value=mso.dll\r\n\
            Sig[6].Name=Exception Code\r\nSig[6].Value=c0000005\r\n";
        let mut bytes = vec![0xff, 0xfe];
        for unit in report.encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        std::fs::create_dir(queue.join(folder)).expect("mkdir");
        // WER makes the file, then writes it.
        std::fs::write(queue.join(folder).join("Report.wer"), b"").expect("create");
        std::fs::write(queue.join(folder).join("Report.wer"), &bytes).expect("write");
        // A damaged report: its folder still names the program.
        let damaged = "AppCrash_legacy_tool.exe_0123456789abcdef0123456789abcdef01234567_cab_7a8b";
        std::fs::create_dir(queue.join(damaged)).expect("mkdir");
        std::fs::write(queue.join(damaged).join("Report.wer"), [0u8, 0x13, 0x88]).expect("write");

        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let outlook = loop {
            let observations = check.run(&shared).await.expect("runs");
            let outlook = observations
                .iter()
                .find(|o| o.resource == "outlook.exe" && o.evidence.get("fault_module").is_some());
            if let Some(outlook) = outlook
                && observations.iter().any(|o| o.resource == "legacy_tool.exe")
            {
                break outlook.clone();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no crash of outlook.exe with its module, and of legacy_tool.exe: {observations:?}"
            );
            let _ = tokio::time::timeout(Duration::from_millis(100), check.wake()).await;
        };
        assert_eq!(outlook.check, NEW_FILE);
        assert_eq!(outlook.value, 1.0);
        assert_eq!(outlook.evidence["count"], 1);
        assert_eq!(outlook.evidence["app_version"], "16.0.1.0");
        assert_eq!(outlook.evidence["fault_module"], "mso.dll");
        assert_eq!(outlook.evidence["exception_code"], "c0000005");

        // Sent: WER moves the folder to the archive. The same crash, not a second one.
        std::fs::rename(queue.join(folder), archive.join(folder)).expect("move");
        let archived = format!("ReportArchive/{folder}/Report.wer");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let observations = check.run(&shared).await.expect("runs");
            let Mode::NewFiles { seen, .. } = &check.mode else {
                panic!("a crash watch");
            };
            if seen.contains_key(&archived) {
                let outlook = observations
                    .iter()
                    .find(|o| o.resource == "outlook.exe")
                    .expect("still open");
                assert_eq!(outlook.evidence["count"], 1, "{outlook:?}");
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the archived report was never seen: {seen:?}"
            );
            let _ = tokio::time::timeout(Duration::from_millis(100), check.wake()).await;
        }
    }

    /// One run of a freshly built crash watch (as after a restart), its position saved.
    async fn run_after_restart(config: &WatchConfig, shared: &Shared) -> Vec<String> {
        let mut check = build(config).expect("valid").expect("built");
        let observations = check.run(shared).await.expect("runs");
        if let Some(checkpoint) = check.checkpoint() {
            checkpoint();
        }
        let mut reported: Vec<String> = observations
            .into_iter()
            .filter(|o| o.value == 1.0)
            .map(|o| o.resource)
            .collect();
        reported.sort();
        reported
    }

    #[tokio::test]
    async fn crash_files_written_while_stopped_are_reported_once_and_a_first_start_skips_old_ones()
    {
        let dir = tempfile::tempdir().expect("temp dir");
        let crashes = dir.path().join("crashes");
        std::fs::create_dir(&crashes).expect("mkdir");
        let write = |name: &str, age: Duration| {
            let path = crashes.join(name);
            std::fs::write(&path, "ProblemType: Crash\n").expect("write");
            let file = std::fs::File::options()
                .write(true)
                .open(&path)
                .expect("open");
            file.set_modified(SystemTime::now() - age).expect("mtime");
        };
        write("old.1000.crash", Duration::from_secs(400 * 24 * 3600));
        write("recent.1000.crash", Duration::from_secs(60));
        let config = WatchConfig {
            name: "app-crashes".to_owned(),
            path: crashes.clone(),
            pattern: Some("*.crash".to_owned()),
            lines: None,
            window: Duration::from_secs(3600),
            severity: Severity::Warning,
        };
        let shared = Shared::default();
        shared.update(|facts| facts.state_dir = Some(dir.path().to_owned()));
        // The first start: what the window holds, not last year's dump.
        assert_eq!(run_after_restart(&config, &shared).await, ["recent"]);
        // Written while the agent was stopped, however old their time says they are.
        write("gedit.1000.crash", Duration::ZERO);
        write("copied.1000.crash", Duration::from_secs(30 * 24 * 3600));
        assert_eq!(
            run_after_restart(&config, &shared).await,
            ["copied", "gedit"]
        );
        assert!(
            run_after_restart(&config, &shared).await.is_empty(),
            "nothing twice"
        );
        // A damaged position is a fresh start, never a failure.
        let file = position::file_for(dir.path(), "app-crashes");
        std::fs::write(&file, "{\"version\": 1, \"pa").expect("damage");
        assert_eq!(
            run_after_restart(&config, &shared).await,
            ["gedit", "recent"]
        );
        assert!(run_after_restart(&config, &shared).await.is_empty());
    }

    #[tokio::test]
    async fn a_catch_up_on_a_folder_of_thousands_of_new_crash_files_keeps_at_most_max_events() {
        let dir = tempfile::tempdir().expect("temp dir");
        let crashes = dir.path().join("crashes");
        std::fs::create_dir(&crashes).expect("mkdir");
        for i in 0..MAX_EVENTS + 25 {
            std::fs::write(crashes.join(format!("app{i}.1000.crash")), "").expect("write");
        }
        let config = WatchConfig {
            name: "app-crashes".to_owned(),
            path: crashes.clone(),
            pattern: Some("*.crash".to_owned()),
            lines: None,
            window: Duration::from_secs(3600),
            severity: Severity::Warning,
        };
        let mut check = watch_check(&config).expect("valid");
        assert!(check.watcher.is_some(), "the folder exists");
        check.catch_up(&Shared::default());
        assert_eq!(check.recent.len(), MAX_EVENTS);
        // Every file is still remembered as seen, kept or not.
        match &check.mode {
            Mode::NewFiles { seen, .. } => assert_eq!(seen.len(), MAX_EVENTS + 25),
            Mode::Lines { .. } => panic!("a crash watch"),
        }
    }

    #[tokio::test]
    async fn a_position_that_cannot_be_written_is_logged_and_the_watch_goes_on() {
        let dir = tempfile::tempdir().expect("temp dir");
        let crashes = dir.path().join("crashes");
        std::fs::create_dir(&crashes).expect("mkdir");
        let config = WatchConfig {
            name: "app-crashes".to_owned(),
            path: crashes.clone(),
            pattern: Some("*.crash".to_owned()),
            lines: None,
            window: Duration::from_secs(3600),
            severity: Severity::Warning,
        };
        // Where the position goes there is a folder: every write fails, as on a full disk.
        std::fs::create_dir(position::file_for(dir.path(), "app-crashes")).expect("mkdir");
        let shared = Shared::default();
        shared.update(|facts| facts.state_dir = Some(dir.path().to_owned()));
        let mut check = build(&config).expect("valid").expect("built");
        check.run(&shared).await.expect("runs");
        check.checkpoint().expect("a position to write")();
        std::fs::write(crashes.join("gedit.1000.crash"), "x").expect("write");
        let observation = wait_for_count(&mut check, "gedit", 1).await;
        assert_eq!(observation.value, 1.0);
        check
            .checkpoint()
            .expect("tried again with the next change")();
    }

    #[tokio::test]
    async fn a_log_resumes_where_the_last_run_stopped_or_from_the_start_of_a_rotated_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("app.log");
        std::fs::write(&log, "boot\nOut of memory: before the install\n").expect("write");
        let config = WatchConfig {
            name: "oom".to_owned(),
            path: log.clone(),
            pattern: None,
            lines: Some("Out of memory".to_owned()),
            window: Duration::from_secs(3600),
            severity: Severity::Warning,
        };
        let shared = Shared::default();
        shared.update(|facts| facts.state_dir = Some(dir.path().to_owned()));
        let matched = |observations: Vec<Observation>| -> Vec<String> {
            observations
                .into_iter()
                .filter(|o| o.value == 1.0)
                .flat_map(|o| o.evidence["latest"].as_array().cloned().unwrap_or_default())
                .filter_map(|line| line.as_str().map(str::to_owned))
                .collect()
        };
        let run = || async {
            let mut check = build(&config).expect("valid").expect("built");
            let observations = check.run(&shared).await.expect("runs");
            if let Some(checkpoint) = check.checkpoint() {
                checkpoint();
            }
            matched(observations)
        };
        // The first start reads from the end: nothing from before the install.
        assert!(run().await.is_empty());
        // Written while the agent was stopped: read from where it stopped, once.
        let append = |text: &str| {
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .open(&log)
                .expect("open");
            file.write_all(text.as_bytes()).expect("append");
        };
        append("Out of memory: while stopped\n");
        assert_eq!(run().await, ["Out of memory: while stopped"]);
        assert!(run().await.is_empty(), "not read twice");
        // Rotated while stopped: the new file is read from its start.
        std::fs::rename(&log, dir.path().join("app.log.1")).expect("rotate");
        std::fs::write(&log, "Out of memory: new file\n").expect("write");
        assert_eq!(run().await, ["Out of memory: new file"]);
        // Truncated in place while stopped (copytruncate): from the start too.
        std::fs::write(&log, "").expect("truncate");
        append("Out of memory: after truncation\n");
        assert_eq!(run().await, ["Out of memory: after truncation"]);
    }

    #[test]
    fn appended_lines_are_read_once_and_rotation_starts_over() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("app.log");
        std::fs::write(&log, "old line\n").expect("write");
        let id = FileId::of(&log, &std::fs::metadata(&log).expect("metadata"));
        let start = LogOffset {
            id,
            offset: 9,
            tail: None,
        };
        let mut offsets = HashMap::from([(log.clone(), start)]);
        std::fs::write(&log, "old line\nnew line\npartial").expect("write");
        assert_eq!(read_new_lines(&log, &mut offsets), ["new line"]);
        assert!(read_new_lines(&log, &mut offsets).is_empty());
        std::fs::write(&log, "rotated\n").expect("write");
        assert_eq!(read_new_lines(&log, &mut offsets), ["rotated"]);
    }
}
