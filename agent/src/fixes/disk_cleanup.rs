//! `disk.cleanup`: frees space on the file system that is full — old temporary files, users'
//! emptied-long-ago trash, old browser caches and thumbnails, downloaded package files, old
//! crash dumps, and the system journal down to a size — and says how many bytes each place
//! gave back. Only the known folders are touched, only on the full file system, never
//! following links; verified by the disk check's own rule clearing.
//!
//! Linux is built and tested here. Windows (`%SystemRoot%\Temp`, each profile's
//! `AppData\Local\Temp`, `$Recycle.Bin`, WER's `ReportArchive`) is the same walk over other
//! folders and is not built yet.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::run::{have_program, run_program};
use super::{Change, FixSpec, Parameters, Prepared, Verification};
use crate::checks::disk::{USED, default_rule};
use crate::config::Settings;
use crate::finding::human_bytes;
use crate::probes::disk::{self, MountUsage};

pub const NAME: &str = "disk.cleanup";

pub const SPEC: FixSpec = FixSpec {
    name: NAME,
    summary: "Deletes old temporary files, trash emptied long ago, old browser caches, downloaded \
              package files and old crash dumps on the full disk, and shrinks the system journal.",
    answers: &[USED],
    max_runs_per_day: 4,
    needs_consent: false,
    undo: None,
    platforms: &["linux"],
};

/// Entries looked at per place at most, and how deep: a hostile tree cannot keep the fix busy.
const MAX_ENTRIES_PER_PLACE: usize = 200_000;
const MAX_DEPTH: usize = 32;

/// What kind of place, which decides what in it may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Files neither written nor read for N days.
    Temp,
    /// A user's trash: items put there more than N days ago.
    Trash,
    /// Caches: files not used for N days.
    Cache,
    /// Downloaded package files: all of them (the package manager fetches them again).
    Packages,
    /// Crash reports and core dumps older than N days.
    CrashDumps,
}

/// One place the fix may clean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub kind: Kind,
    pub path: PathBuf,
}

/// Where the places are: the platform's folders, or a test's.
#[derive(Debug, Clone)]
pub struct Roots {
    /// Users' home folders.
    pub homes: Vec<PathBuf>,
    pub temp_dirs: Vec<PathBuf>,
    pub package_caches: Vec<PathBuf>,
    pub crash_dirs: Vec<PathBuf>,
    /// The systemd journal's folder.
    pub journal: Option<PathBuf>,
}

impl Roots {
    pub fn of_this_system(extra_temp_dirs: &[PathBuf]) -> Self {
        let mut temp_dirs = vec![PathBuf::from("/tmp"), PathBuf::from("/var/tmp")];
        temp_dirs.extend(extra_temp_dirs.iter().cloned());
        Self {
            homes: homes_in(Path::new("/etc/passwd")),
            temp_dirs,
            package_caches: vec![PathBuf::from("/var/cache/apt/archives")],
            crash_dirs: vec![
                PathBuf::from("/var/crash"),
                PathBuf::from("/var/lib/systemd/coredump"),
            ],
            journal: Some(PathBuf::from("/var/log/journal")),
        }
    }

    /// Every place, in the order they are cleaned (what users miss least first).
    pub fn places(&self) -> Vec<Place> {
        let mut places = Vec::new();
        let mut add = |kind, path: PathBuf| places.push(Place { kind, path });
        for dir in &self.temp_dirs {
            add(Kind::Temp, dir.clone());
        }
        for dir in &self.package_caches {
            add(Kind::Packages, dir.clone());
        }
        for dir in &self.crash_dirs {
            add(Kind::CrashDumps, dir.clone());
        }
        for home in &self.homes {
            add(Kind::Cache, home.join(".cache/thumbnails"));
            for browser in [
                ".cache/mozilla/firefox",
                ".cache/google-chrome",
                ".cache/chromium",
            ] {
                add(Kind::Cache, home.join(browser));
            }
            add(Kind::Trash, home.join(".local/share/Trash"));
        }
        places
    }
}

/// Home folders of people's accounts (uid 1000 and up, below 65534) from a passwd file.
pub fn homes_in(passwd: &Path) -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string(passwd) else {
        return Vec::new();
    };
    let mut homes: Vec<PathBuf> = text
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            let uid: u32 = fields.get(2)?.parse().ok()?;
            let home = Path::new(fields.get(5)?);
            ((1000..65534).contains(&uid) && home.is_absolute() && home != Path::new("/"))
                .then(|| home.to_owned())
        })
        .collect();
    homes.sort();
    homes.dedup();
    homes
}

pub struct DiskCleanup {
    mount: String,
    older_than: Duration,
    journal_max_bytes: u64,
    roots: Roots,
    settings: Settings,
}

pub fn prepare(parameters: &mut Parameters, settings: &Settings) -> Result<DiskCleanup, String> {
    let mount = parameters.required("mount")?;
    let older_than_days = parameters.number("older_than_days", 1..=90, 7)?;
    let journal_max_mb = parameters.number("journal_max_mb", 64..=65_536, 512)?;
    let mounts = disk::mounts()?;
    if !mounts.iter().any(|m| m.mount_point == mount) {
        return Err(format!(
            "mount {mount:.80?} is not a mounted file system on this device"
        ));
    }
    Ok(DiskCleanup {
        mount,
        older_than: Duration::from_secs(older_than_days * 24 * 60 * 60),
        journal_max_bytes: journal_max_mb * 1024 * 1024,
        roots: Roots::of_this_system(&settings.fixes.extra_temp_dirs),
        settings: settings.clone(),
    })
}

impl DiskCleanup {
    /// For tests: the same fix over other folders.
    pub fn with_roots(mut self, roots: Roots) -> Self {
        self.roots = roots;
        self
    }

    fn usage(&self) -> Result<(MountUsage, f64, f64), String> {
        let mounts = disk::mounts()?;
        let mount = mounts
            .into_iter()
            .find(|m| m.mount_point == self.mount)
            .ok_or_else(|| format!("{} is no longer mounted", self.mount))?;
        let rule = self.settings.checks.disk.used_pct.resolve(default_rule())?;
        let used = mount.total_bytes.saturating_sub(mount.available_bytes);
        let used_pct = crate::checks::disk::percent(used, mount.total_bytes);
        Ok((mount, used_pct, rule.clear))
    }

    fn describe(&self) -> Result<(String, bool), String> {
        let (mount, used_pct, clear_pct) = self.usage()?;
        Ok((
            format!(
                "Disk {} is {used_pct:.0}% full ({} free of {}; the check clears at {clear_pct:.0}%)",
                mount.mount_point,
                human_bytes(mount.available_bytes),
                human_bytes(mount.total_bytes)
            ),
            used_pct <= clear_pct,
        ))
    }
}

impl Prepared for DiskCleanup {
    fn before(&mut self) -> Result<String, String> {
        self.describe().map(|(text, _)| text)
    }

    fn apply(&mut self) -> Result<Vec<Change>, String> {
        let device = device_of(Path::new(&self.mount))
            .map_err(|e| format!("reading {}: {e}", self.mount))?;
        let cutoff = SystemTime::now()
            .checked_sub(self.older_than)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let mut changes = Vec::new();
        for place in self.roots.places() {
            // Only places on the full file system help; others are left alone.
            if device_of(&place.path).ok() != Some(device) {
                continue;
            }
            let swept = sweep(&place, cutoff, device);
            if swept.files == 0 && swept.error.is_none() {
                continue;
            }
            changes.push(Change {
                target: place.path.display().to_string(),
                action: format!(
                    "removed {} {} ({})",
                    swept.files,
                    if swept.files == 1 { "file" } else { "files" },
                    match place.kind {
                        Kind::Temp =>
                            format!("unused for {} days", self.older_than.as_secs() / 86_400),
                        Kind::Trash => format!(
                            "in the trash for over {} days",
                            self.older_than.as_secs() / 86_400
                        ),
                        Kind::Cache => format!(
                            "cache not used for {} days",
                            self.older_than.as_secs() / 86_400
                        ),
                        Kind::Packages => "downloaded package files".to_owned(),
                        Kind::CrashDumps => format!(
                            "crash reports older than {} days",
                            self.older_than.as_secs() / 86_400
                        ),
                    }
                ),
                bytes_freed: Some(swept.bytes),
                error: swept.error,
            });
        }
        if let Some(journal) = &self.roots.journal
            && device_of(journal).ok() == Some(device)
            && let Some(change) = vacuum_journal(journal, self.journal_max_bytes)
        {
            changes.push(change);
        }
        Ok(changes)
    }

    fn verify(&mut self) -> Verification {
        Verification::from_look(self.describe().map(|(detail, passed)| (passed, detail)))
    }
}

#[cfg(unix)]
fn device_of(path: &Path) -> std::io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::symlink_metadata(path)?.dev())
}

#[cfg(not(unix))]
fn device_of(path: &Path) -> std::io::Result<u64> {
    // One "device" per drive letter until the Windows walk is built.
    let drive = path.components().next();
    std::fs::symlink_metadata(path)?;
    Ok(drive.map_or(0, |c| c.as_os_str().len() as u64))
}

/// Space a file takes on disk (its blocks), which is what freeing it gives back.
#[cfg(unix)]
fn allocated_bytes(meta: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.blocks().saturating_mul(512)
}

#[cfg(not(unix))]
fn allocated_bytes(meta: &std::fs::Metadata) -> u64 {
    meta.len()
}

#[derive(Debug, Default)]
struct Swept {
    files: u64,
    bytes: u64,
    error: Option<String>,
}

/// Removes what `place` allows, staying on `device` and never following a link.
fn sweep(place: &Place, cutoff: SystemTime, device: u64) -> Swept {
    let mut swept = Swept::default();
    let mut visited = 0usize;
    match place.kind {
        Kind::Trash => {
            // Trash/files/NAME was put there when Trash/info/NAME.trashinfo was written.
            let files = place.path.join("files");
            let info = place.path.join("info");
            let Ok(entries) = std::fs::read_dir(&files) else {
                return swept;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let info_file = info.join(format!("{}.trashinfo", name.to_string_lossy()));
                let trashed = std::fs::symlink_metadata(&info_file)
                    .or_else(|_| entry.metadata())
                    .and_then(|meta| meta.modified());
                if !trashed.is_ok_and(|time| time < cutoff) {
                    continue;
                }
                remove_tree(&entry.path(), None, device, 0, &mut visited, &mut swept);
                if std::fs::symlink_metadata(entry.path()).is_err() {
                    let _ = std::fs::remove_file(&info_file);
                }
            }
        }
        Kind::Packages => {
            let Ok(entries) = std::fs::read_dir(&place.path) else {
                return swept;
            };
            for entry in entries.flatten() {
                if entry.path().extension().is_some_and(|ext| ext == "deb") {
                    remove_tree(&entry.path(), None, device, 0, &mut visited, &mut swept);
                }
            }
        }
        Kind::Temp | Kind::Cache | Kind::CrashDumps => {
            let Ok(entries) = std::fs::read_dir(&place.path) else {
                return swept;
            };
            for entry in entries.flatten() {
                remove_tree(
                    &entry.path(),
                    Some(cutoff),
                    device,
                    0,
                    &mut visited,
                    &mut swept,
                );
            }
        }
    }
    swept
}

/// Removes `path` if it is old enough (files: neither modified nor read since `cutoff`;
/// folders: emptied by this walk and not modified since), depth first. `None` removes all.
fn remove_tree(
    path: &Path,
    cutoff: Option<SystemTime>,
    device: u64,
    depth: usize,
    visited: &mut usize,
    swept: &mut Swept,
) {
    *visited += 1;
    if *visited > MAX_ENTRIES_PER_PLACE || depth > MAX_DEPTH {
        swept.error.get_or_insert_with(|| {
            format!("stopped after {MAX_ENTRIES_PER_PLACE} entries or {MAX_DEPTH} folders deep")
        });
        return;
    }
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    if device_of(path).ok() != Some(device) {
        return;
    }
    let old = |meta: &std::fs::Metadata| match cutoff {
        None => true,
        Some(cutoff) => {
            let modified = meta.modified().unwrap_or(SystemTime::now());
            let accessed = meta.accessed().unwrap_or(modified);
            modified.max(accessed) < cutoff
        }
    };
    let file_type = meta.file_type();
    if file_type.is_dir() {
        // Read the folder's age before emptying it changes its modification time.
        let was_old = old(&meta);
        if let Ok(entries) = std::fs::read_dir(path) {
            for entry in entries.flatten() {
                remove_tree(&entry.path(), cutoff, device, depth + 1, visited, swept);
            }
        }
        if was_old {
            // Only an empty folder goes; one with newer files stays.
            let _ = std::fs::remove_dir(path);
        }
    } else if (file_type.is_file() || file_type.is_symlink()) && old(&meta) {
        match std::fs::remove_file(path) {
            Ok(()) => {
                swept.files += 1;
                if file_type.is_file() {
                    swept.bytes += allocated_bytes(&meta);
                }
            }
            Err(e) => {
                swept
                    .error
                    .get_or_insert_with(|| format!("{}: {e}", path.display()));
            }
        }
    }
    // Sockets, pipes and devices are someone's live endpoints: left alone.
}

/// `journalctl --vacuum-size`, when the journal is larger than `max_bytes`.
fn vacuum_journal(journal: &Path, max_bytes: u64) -> Option<Change> {
    let before = tree_bytes(journal);
    if before <= max_bytes || !have_program("journalctl") {
        return None;
    }
    let size = format!("--vacuum-size={}M", max_bytes / (1024 * 1024));
    let outcome = run_program("journalctl", &[&size], Duration::from_secs(60));
    let after = tree_bytes(journal);
    Some(Change {
        target: journal.display().to_string(),
        action: format!(
            "shrank the system journal to at most {} (it was {})",
            human_bytes(max_bytes),
            human_bytes(before)
        ),
        bytes_freed: Some(before.saturating_sub(after)),
        error: outcome.err(),
    })
}

fn tree_bytes(path: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![path.to_owned()];
    let mut visited = 0;
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            visited += 1;
            if visited > MAX_ENTRIES_PER_PLACE {
                return total;
            }
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.is_file() {
                total += allocated_bytes(&meta);
            }
        }
    }
    total
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::fs::FileTimes;

    fn write_aged(path: &Path, bytes: usize, age_days: u64) {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, vec![7u8; bytes]).expect("write");
        let then = SystemTime::now() - Duration::from_secs(age_days * 86_400);
        std::fs::File::options()
            .write(true)
            .open(path)
            .expect("open")
            .set_times(FileTimes::new().set_accessed(then).set_modified(then))
            .expect("set times");
    }

    #[test]
    fn old_temp_files_old_trash_and_package_files_go_and_recent_ones_stay() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        let home = root.join("home/anna");
        write_aged(&root.join("tmp/old.bin"), 40_000, 30);
        write_aged(&root.join("tmp/deep/er/old.log"), 8_000, 30);
        write_aged(&root.join("tmp/new.bin"), 40_000, 0);
        write_aged(&root.join("apt/archives/vim_9.0_amd64.deb"), 12_000, 0);
        write_aged(&root.join("apt/archives/lock"), 10, 100);
        write_aged(&home.join(".local/share/Trash/files/report.odt"), 20_000, 0);
        write_aged(
            &home.join(".local/share/Trash/info/report.odt.trashinfo"),
            60,
            20,
        );
        write_aged(&home.join(".local/share/Trash/files/today.txt"), 500, 30);
        write_aged(
            &home.join(".local/share/Trash/info/today.txt.trashinfo"),
            60,
            0,
        );
        write_aged(&home.join(".cache/thumbnails/large/a.png"), 4_000, 60);
        write_aged(&home.join("Documents/old-but-mine.txt"), 4_000, 400);
        std::os::unix::fs::symlink(home.join("Documents"), root.join("tmp/link-to-documents"))
            .expect("symlink");

        let old = SystemTime::now() - Duration::from_secs(30 * 86_400);
        for folder in ["tmp/deep/er", "tmp/deep"] {
            std::fs::File::open(root.join(folder))
                .expect("open folder")
                .set_times(FileTimes::new().set_accessed(old).set_modified(old))
                .expect("age folder");
        }
        let roots = Roots {
            homes: vec![home.clone()],
            temp_dirs: vec![root.join("tmp")],
            package_caches: vec![root.join("apt/archives")],
            crash_dirs: vec![root.join("crash-that-does-not-exist")],
            journal: None,
        };
        let device = device_of(root).expect("device");
        let cutoff = SystemTime::now() - Duration::from_secs(7 * 86_400);
        let mut freed = 0;
        for place in roots.places() {
            freed += sweep(&place, cutoff, device).bytes;
        }
        assert!(freed >= 40_000 + 8_000 + 12_000 + 20_000 + 4_000, "{freed}");
        for gone in [
            "tmp/old.bin",
            "tmp/deep",
            "apt/archives/vim_9.0_amd64.deb",
            "home/anna/.local/share/Trash/files/report.odt",
            "home/anna/.local/share/Trash/info/report.odt.trashinfo",
            "home/anna/.cache/thumbnails/large/a.png",
        ] {
            assert!(!root.join(gone).exists(), "{gone} should be gone");
        }
        for kept in [
            "tmp/new.bin",
            "apt/archives/lock",
            "home/anna/.local/share/Trash/files/today.txt",
            "home/anna/Documents/old-but-mine.txt",
        ] {
            assert!(root.join(kept).exists(), "{kept} should stay");
        }
    }

    #[test]
    fn homes_are_people_accounts_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let passwd = dir.path().join("passwd");
        std::fs::write(
            &passwd,
            "root:x:0:0:root:/root:/bin/bash\n\
             anna:x:1000:1000:Anna:/home/anna:/bin/bash\n\
             nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n\
             odd:x:1001:1001::/:/bin/sh\n\
             garbage line\n",
        )
        .expect("write");
        assert_eq!(homes_in(&passwd), vec![PathBuf::from("/home/anna")]);
    }
}
