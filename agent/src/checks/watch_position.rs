//! Where a file watch got to, kept in the agent's state dir so that a restart resumes there:
//! the crash files already seen, the offsets of the logs already read. Written atomically,
//! bounded, and read tolerantly: a damaged file is logged and treated as absent.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// Crash files remembered per watch; past this the newest are kept, and a floor time says
/// that anything older counts as seen.
pub const MAX_SEEN_FILES: usize = 10_000;
/// Log files remembered per watch (a folder of logs).
pub const MAX_LOG_FILES: usize = 1_000;
/// A position file larger than this is not read (ours are far smaller).
const MAX_POSITION_BYTES: u64 = 4 * 1024 * 1024;
const VERSION: u32 = 1;

/// What identifies a file across renames and rewrites: its inode (Unix) and its birth time,
/// where the file system keeps one; on Windows the file index and the volume's serial number
/// (NTFS's file id), without the birth time (Wine changes it on every write). A crash file
/// deleted and made again under the same name is another file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileId {
    pub inode: u64,
    pub born_ns: Option<u64>,
    /// The volume's serial number on Windows; 0 (and not written) elsewhere, so that
    /// positions written before it existed still match.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub volume: u64,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

impl FileId {
    /// The identity of the file at `path`, whose metadata is `metadata`.
    #[cfg(not(windows))]
    pub fn of(_path: &Path, metadata: &std::fs::Metadata) -> Self {
        Self::from_metadata(metadata)
    }

    /// The identity of the file at `path`: its volume and file index, read from a handle
    /// opened for nothing but its attributes. A file gone meanwhile gets an identity of 0,
    /// which no existing file has.
    #[cfg(windows)]
    pub fn of(path: &Path, metadata: &std::fs::Metadata) -> Self {
        use std::os::windows::fs::OpenOptionsExt;
        // FILE_FLAG_BACKUP_SEMANTICS (folders open too), every share mode: never in a
        // writer's way, as std's own metadata call does.
        const BACKUP_SEMANTICS: u32 = 0x0200_0000;
        const SHARE_ALL: u32 = 0x1 | 0x2 | 0x4;
        let opened = std::fs::OpenOptions::new()
            .access_mode(0)
            .share_mode(SHARE_ALL)
            .custom_flags(BACKUP_SEMANTICS)
            .open(path);
        match opened {
            Ok(file) => Self::of_file(&file, metadata),
            Err(e) => {
                tracing::debug!(file = %path.display(), error = %e, "reading a file's identity");
                Self::none()
            }
        }
    }

    /// The identity of the open `file`, whose metadata is `metadata`.
    #[cfg(not(windows))]
    pub fn of_file(_file: &std::fs::File, metadata: &std::fs::Metadata) -> Self {
        Self::from_metadata(metadata)
    }

    /// The identity of the open `file`: its volume and file index.
    #[cfg(windows)]
    pub fn of_file(file: &std::fs::File, _metadata: &std::fs::Metadata) -> Self {
        match crate::probes::windows::file_identity::volume_and_index(file) {
            Ok((volume, index)) => Self {
                inode: index,
                born_ns: None,
                volume: u64::from(volume),
            },
            Err(e) => {
                tracing::debug!(error = %e, "reading a file's identity");
                Self::none()
            }
        }
    }

    #[cfg(windows)]
    fn none() -> Self {
        Self {
            inode: 0,
            born_ns: None,
            volume: 0,
        }
    }

    #[cfg(not(windows))]
    fn from_metadata(metadata: &std::fs::Metadata) -> Self {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(metadata);
        #[cfg(not(unix))]
        let inode = 0;
        let born_ns = metadata
            .created()
            .ok()
            .and_then(|born| born.duration_since(SystemTime::UNIX_EPOCH).ok())
            .and_then(|since| u64::try_from(since.as_nanos()).ok());
        Self {
            inode,
            born_ns,
            volume: 0,
        }
    }
}

/// Nanoseconds since the epoch of a file's modification time (0 when unknown).
pub fn modified_ns(metadata: &std::fs::Metadata) -> u64 {
    metadata
        .modified()
        .ok()
        .and_then(|modified| modified.duration_since(SystemTime::UNIX_EPOCH).ok())
        .and_then(|since| u64::try_from(since.as_nanos()).ok())
        .unwrap_or(0)
}

/// A crash file that was reported (or found old at the first start).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenFile {
    pub name: String,
    pub id: FileId,
    pub modified_ns: u64,
}

/// How far a log file was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogOffset {
    pub id: FileId,
    pub offset: u64,
    /// A hash of the bytes just before `offset`, when saved: a log truncated in place and
    /// written past the offset again (copytruncate) keeps its inode and its size, not these.
    #[serde(default)]
    pub tail: Option<u64>,
}

/// Bytes before a log offset that [`LogOffset::tail`] covers.
const TAIL_BYTES: u64 = 64;

/// The hash of the (up to) 64 bytes of `path` before `offset`.
pub fn tail_hash(path: &Path, offset: u64) -> Option<u64> {
    use std::io::{Read, Seek, SeekFrom};
    let start = offset.saturating_sub(TAIL_BYTES);
    let mut file = crate::probes::files::open_regular(path).ok()?;
    file.seek(SeekFrom::Start(start)).ok()?;
    let mut bytes = Vec::new();
    file.take(offset - start).read_to_end(&mut bytes).ok()?;
    (bytes.len() as u64 == offset - start).then(|| fnv1a(&bytes))
}

/// FNV-1a: stable across Rust versions, unlike the standard library's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl LogOffset {
    /// Whether `path` (with `id` and `length` now) is still the file this offset is into,
    /// unchanged up to it: then reading resumes there.
    pub fn still_fits(&self, path: &Path, id: FileId, length: u64) -> bool {
        self.id == id
            && self.offset <= length
            && self
                .tail
                .is_none_or(|tail| tail_hash(path, self.offset) == Some(tail))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Position {
    pub version: u32,
    /// The watched path and file pattern (empty for a log watch); a position for another
    /// path or pattern (the config changed) does not apply: a wider pattern would otherwise
    /// make every old file that now matches look new.
    pub path: PathBuf,
    #[serde(default)]
    pub pattern: String,
    #[serde(default)]
    pub seen: Vec<SeenFile>,
    /// Crash files modified at or before this (ns since the epoch) and not in `seen` count as
    /// seen: set when there were more than [`MAX_SEEN_FILES`] to remember. Never later than
    /// when the position was written (see [`Position::new`]).
    #[serde(default)]
    pub seen_floor_ns: Option<u64>,
    #[serde(default)]
    pub logs: Vec<(PathBuf, LogOffset)>,
}

impl Position {
    /// A position to write at `now_ns` (wall clock, ns since the epoch): the crash files and
    /// log offsets given, bounded.
    pub fn new(
        path: &Path,
        pattern: &str,
        seen: &HashMap<String, (FileId, u64)>,
        logs: &HashMap<PathBuf, LogOffset>,
        now_ns: u64,
    ) -> Self {
        let mut seen: Vec<SeenFile> = seen
            .iter()
            .map(|(name, (id, modified_ns))| SeenFile {
                name: name.clone(),
                id: *id,
                modified_ns: *modified_ns,
            })
            .collect();
        let mut seen_floor_ns = None;
        if seen.len() > MAX_SEEN_FILES {
            // Newest first: the oldest are the ones let go, and the floor covers them.
            seen.sort_by_key(|file| std::cmp::Reverse(file.modified_ns));
            // Capped at now: crash folders are often world-writable, and files dated in 2099
            // would otherwise push the floor past every crash written while the agent is
            // stopped, hiding them.
            seen_floor_ns = seen[MAX_SEEN_FILES..]
                .iter()
                .map(|file| file.modified_ns.min(now_ns))
                .max();
            seen.truncate(MAX_SEEN_FILES);
        }
        let mut logs: Vec<(PathBuf, LogOffset)> = logs
            .iter()
            .map(|(path, offset)| {
                let tail = tail_hash(path, offset.offset);
                (path.clone(), LogOffset { tail, ..*offset })
            })
            .collect();
        logs.sort_by(|a, b| a.0.cmp(&b.0));
        logs.truncate(MAX_LOG_FILES);
        Self {
            version: VERSION,
            path: path.to_owned(),
            pattern: pattern.to_owned(),
            seen,
            seen_floor_ns,
            logs,
        }
    }

    /// The crash files this position says were seen, indexed for a catch-up at `now_ns`
    /// (wall clock): a folder of 100,000 files is looked up once each, not scanned each time.
    ///
    /// A floor later than now was written by a clock that was ahead (it is capped at the time
    /// of writing): it is dropped rather than trusted, or it would hide every crash file until
    /// the clock catches up with it. Old files past the remembered ones may then be reported
    /// once more, bounded by the watch's event limit; hiding new ones would not be seen.
    pub fn seen_before(&self, now_ns: u64) -> SeenBefore {
        let floor_ns = self.seen_floor_ns.filter(|floor| *floor <= now_ns);
        if floor_ns.is_none() && self.seen_floor_ns.is_some() {
            tracing::warn!(path = %self.path.display(), floor_ns = ?self.seen_floor_ns, now_ns, "the watch position's floor is in the future; ignoring it");
        }
        SeenBefore {
            files: self
                .seen
                .iter()
                .map(|file| (file.name.clone(), file.id))
                .collect(),
            floor_ns,
        }
    }
}

/// What a position says was seen, for looking crash files up at catch-up.
#[derive(Debug, Default)]
pub struct SeenBefore {
    files: HashSet<(String, FileId)>,
    floor_ns: Option<u64>,
}

impl SeenBefore {
    /// Whether the crash file `name` with `id`, modified at `modified_ns`, was seen before.
    pub fn contains(&self, name: &str, id: FileId, modified_ns: u64) -> bool {
        self.floor_ns.is_some_and(|floor| modified_ns <= floor)
            || self.files.contains(&(name.to_owned(), id))
    }
}

/// The wall clock in ns since the epoch (0 if it is set before 1970).
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()
        .and_then(|since| u64::try_from(since.as_nanos()).ok())
        .unwrap_or(0)
}

/// What was found where a watch keeps its position.
#[derive(Debug)]
pub enum Loaded {
    /// No position: the first start of this watch.
    Missing,
    /// A position that cannot be used (damaged, another version, another path): why.
    Unusable(String),
    Found(Position),
}

/// Reads the position of the watch of `watched` from `file`. Never fails: whatever is wrong
/// with the file is described in [`Loaded::Unusable`] for the log.
pub fn load(file: &Path, watched: &Path, pattern: &str) -> Loaded {
    let size = match std::fs::metadata(file) {
        Ok(metadata) => metadata.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Loaded::Missing,
        Err(e) => return Loaded::Unusable(format!("reading {}: {e}", file.display())),
    };
    if size > MAX_POSITION_BYTES {
        return Loaded::Unusable(format!(
            "{} is {size} bytes, more than a position can be ({MAX_POSITION_BYTES})",
            file.display()
        ));
    }
    let bytes = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(e) => return Loaded::Unusable(format!("reading {}: {e}", file.display())),
    };
    match serde_json::from_slice::<Position>(&bytes) {
        Ok(position) if position.version != VERSION => Loaded::Unusable(format!(
            "{} is version {}, this agent reads version {VERSION}",
            file.display(),
            position.version
        )),
        Ok(position) if position.path != watched => Loaded::Unusable(format!(
            "{} is for {}, the watch is now on {}",
            file.display(),
            position.path.display(),
            watched.display()
        )),
        Ok(position) if position.pattern != pattern => Loaded::Unusable(format!(
            "{} is for files matching {:?}, the watch now looks for {pattern:?}",
            file.display(),
            position.pattern
        )),
        Ok(position) => Loaded::Found(position),
        Err(e) => Loaded::Unusable(format!("{} is damaged: {e}", file.display())),
    }
}

/// Writes `contents` to `path` through a temporary file, flushed, and a rename: a crash or
/// a full disk leaves the previous position whole. Readable by the agent's user only: it
/// holds the names of crash files and hashes of log bytes.
pub fn store(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let temporary = path.with_extension("tmp");
    // A leftover from a crash (or one planted) may carry other permissions: start anew.
    match std::fs::remove_file(&temporary) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let written = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temporary)?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// The file in `state_dir` holding the position of the watch called `name`: the name made
/// safe for a file name, plus a hash of it so that two names made alike stay apart.
pub fn file_for(state_dir: &Path, name: &str) -> PathBuf {
    let safe: String = name
        .chars()
        .take(48)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let hash = fnv1a(name.as_bytes());
    state_dir.join(format!("watch-{safe}-{:08x}.json", hash as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(inode: u64) -> FileId {
        FileId {
            inode,
            born_ns: None,
            volume: 0,
        }
    }

    #[test]
    fn a_file_id_without_a_volume_reads_and_writes_as_before() {
        let before = r#"{"inode":7,"born_ns":12}"#;
        let read: FileId = serde_json::from_str(before).expect("an id written before volumes");
        assert_eq!(
            read,
            FileId {
                inode: 7,
                born_ns: Some(12),
                volume: 0
            }
        );
        assert_eq!(serde_json::to_string(&read).expect("json"), before);
        let windows = FileId {
            inode: 7,
            born_ns: None,
            volume: 0x1234,
        };
        let json = serde_json::to_string(&windows).expect("json");
        assert_eq!(
            serde_json::from_str::<FileId>(&json).expect("read back"),
            windows
        );
        assert_ne!(windows, read);
    }

    #[test]
    fn a_file_keeps_its_identity_when_written_and_a_new_file_gets_another() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("app.log");
        std::fs::write(&log, "first\n").expect("write");
        let identity = |path: &Path| FileId::of(path, &std::fs::metadata(path).expect("metadata"));
        let first = identity(&log);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&log)
            .expect("open");
        std::io::Write::write_all(&mut file, b"second\n").expect("append");
        drop(file);
        assert_eq!(identity(&log), first, "appending keeps the file's identity");
        let opened = std::fs::File::open(&log).expect("open");
        assert_eq!(
            FileId::of_file(&opened, &opened.metadata().expect("metadata")),
            first
        );
        drop(opened);
        std::fs::rename(&log, dir.path().join("app.log.1")).expect("rotate");
        std::fs::write(&log, "new\n").expect("write");
        assert_ne!(
            identity(&log),
            first,
            "a new file under the name is another file"
        );
    }

    #[test]
    fn a_damaged_missing_or_foreign_position_is_never_an_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = file_for(dir.path(), "app crashes/1");
        assert!(
            file.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("watch-app_crashes_1-"))
        );
        assert!(matches!(
            load(&file, Path::new("/var/crash"), "*.crash"),
            Loaded::Missing
        ));
        for damaged in [&b"{\"version\": 1, \"path\": "[..], b"\xff\xfe", b"[]", b""] {
            std::fs::write(&file, damaged).expect("write");
            match load(&file, Path::new("/var/crash"), "*.crash") {
                Loaded::Unusable(reason) => {
                    assert!(reason.contains(&file.display().to_string()), "{reason}")
                }
                other => panic!("{damaged:?}: {other:?}"),
            }
        }
        let position = Position::new(
            Path::new("/var/crash"),
            "*.crash",
            &HashMap::from([("a.crash".to_owned(), (id(7), 5))]),
            &HashMap::new(),
            1_000,
        );
        store(&file, &serde_json::to_vec(&position).expect("json")).expect("store");
        match load(&file, Path::new("/var/crash"), "*.crash") {
            Loaded::Found(found) => assert_eq!(found, position),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            load(&file, Path::new("/elsewhere"), "*.crash"),
            Loaded::Unusable(reason) if reason.contains("/elsewhere")
        ));
        assert!(matches!(
            load(&file, Path::new("/var/crash"), "*"),
            Loaded::Unusable(reason) if reason.contains("\"*\"")
        ));
    }

    #[test]
    fn past_the_bound_the_newest_files_are_kept_and_a_floor_covers_the_rest() {
        let seen: HashMap<String, (FileId, u64)> = (0..MAX_SEEN_FILES as u64 + 10)
            .map(|i| (format!("f{i}.crash"), (id(i), 1_000 + i)))
            .collect();
        let position = Position::new(Path::new("/d"), "*", &seen, &HashMap::new(), 50_000);
        assert_eq!(position.seen.len(), MAX_SEEN_FILES);
        assert_eq!(position.seen_floor_ns, Some(1_009));
        let seen = position.seen_before(50_000);
        assert!(seen.contains("f3.crash", id(3), 1_003), "under the floor");
        assert!(seen.contains("f20.crash", id(20), 1_020), "remembered");
        assert!(
            !seen.contains("f20.crash", id(99_999), 5_000),
            "the same name, another file"
        );
        assert!(!seen.contains("new.crash", id(1), 9_999));
    }

    #[test]
    fn crash_files_dated_in_the_future_cannot_push_the_floor_past_new_crashes() {
        // A local user fills the (world-writable) crash folder with files dated 2099.
        let year_2099_ns = 4_070_908_800 * 1_000_000_000_u64;
        let written_at_ns = 1_000_000;
        let seen: HashMap<String, (FileId, u64)> = (0..MAX_SEEN_FILES as u64 + 10)
            .map(|i| (format!("junk{i}.crash"), (id(i), year_2099_ns + i)))
            .collect();
        let position = Position::new(Path::new("/d"), "*", &seen, &HashMap::new(), written_at_ns);
        assert_eq!(position.seen_floor_ns, Some(written_at_ns));
        // A real crash written while the agent was stopped is new.
        let later = position.seen_before(written_at_ns + 5_000);
        assert!(!later.contains("app.crash", id(1), written_at_ns + 1_000));
        // A position written while the clock was far ahead does not hide files once the
        // clock is put right.
        let ahead = Position::new(Path::new("/d"), "*", &seen, &HashMap::new(), year_2099_ns);
        let corrected = ahead.seen_before(written_at_ns + 5_000);
        assert!(!corrected.contains("app.crash", id(1), written_at_ns + 1_000));
        assert!(
            corrected.contains("junk20.crash", id(20), year_2099_ns + 20),
            "remembered"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_position_file_is_readable_by_the_agent_only_even_over_a_stale_temporary() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let file = file_for(dir.path(), "app-crashes");
        // A temporary left behind, readable by everyone.
        let temporary = file.with_extension("tmp");
        std::fs::write(&temporary, b"old").expect("write");
        std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
        store(&file, b"{}").expect("store");
        let mode = std::fs::metadata(&file).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        assert!(!temporary.exists());
    }
}
