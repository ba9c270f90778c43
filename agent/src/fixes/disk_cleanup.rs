//! `disk.cleanup`: frees space on the file system that is full — old temporary files, users'
//! emptied-long-ago trash, old browser caches and thumbnails, downloaded package files, old
//! crash dumps, and the system journal down to a size — and says how many bytes each place
//! gave back. Only the known folders are touched, only on the full file system, by a walk
//! that goes by folder descriptor and never follows links (see `walk`); in a home, only the
//! home owner's files. Verified by the disk check's own rule clearing.
//!
//! Linux is built and tested here. Windows (`%SystemRoot%\Temp`, each profile's
//! `AppData\Local\Temp`, `$Recycle.Bin`, WER's `ReportArchive`) is the same walk over other
//! folders and is not built yet.

#[cfg(unix)]
mod walk;

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
    not_built: &[
        (
            "windows",
            "it needs a handle-based walk that never follows reparse points (junctions, symbolic links) over %SystemRoot%\\Temp, each profile's AppData\\Local\\Temp and the Recycle Bin; the Linux walk goes by descriptor (openat), which Windows does not have",
        ),
        (
            "macos",
            "its places (~/Library/Caches, /private/var/folders) are not chosen or tested yet",
        ),
    ],
};

/// Entries looked at per place at most, and how deep: a hostile tree cannot keep the fix busy.
const MAX_ENTRIES_PER_PLACE: usize = 200_000;
// Only the Unix walk goes down folders yet.
#[cfg_attr(not(unix), allow(dead_code))]
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

/// A person's home folder and the account that owns it: only that account's files in it may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    pub path: PathBuf,
    pub uid: u32,
}

/// One place the fix may clean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub kind: Kind,
    pub path: PathBuf,
    /// The home the place is in, when it is in one: the walk follows no link from the home
    /// down, and removes only entries owned by the home's owner.
    pub home: Option<Home>,
}

/// Where the places are: the platform's folders, or a test's.
#[derive(Debug, Clone)]
pub struct Roots {
    /// People's home folders.
    pub homes: Vec<Home>,
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
        let mut add = |kind, path: PathBuf, home: Option<&Home>| {
            places.push(Place {
                kind,
                path,
                home: home.cloned(),
            })
        };
        for dir in &self.temp_dirs {
            add(Kind::Temp, dir.clone(), None);
        }
        for dir in &self.package_caches {
            add(Kind::Packages, dir.clone(), None);
        }
        for dir in &self.crash_dirs {
            add(Kind::CrashDumps, dir.clone(), None);
        }
        for home in &self.homes {
            for cache in [
                ".cache/thumbnails",
                ".cache/mozilla/firefox",
                ".cache/google-chrome",
                ".cache/chromium",
            ] {
                add(Kind::Cache, home.path.join(cache), Some(home));
            }
            add(
                Kind::Trash,
                home.path.join(".local/share/Trash"),
                Some(home),
            );
        }
        places
    }
}

/// Home folders of people's accounts (uid 1000 and up, below 65534) from a passwd file, with
/// their owners. A folder two accounts claim as home is left out: whose files are whose there
/// is not clear.
pub fn homes_in(passwd: &Path) -> Vec<Home> {
    let Ok(text) = std::fs::read_to_string(passwd) else {
        return Vec::new();
    };
    let mut homes: Vec<Home> = text
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            let uid: u32 = fields.get(2)?.parse().ok()?;
            let path = Path::new(fields.get(5)?);
            ((1000..65534).contains(&uid) && path.is_absolute() && path != Path::new("/")).then(
                || Home {
                    path: path.to_owned(),
                    uid,
                },
            )
        })
        .collect();
    homes.sort_by(|a, b| a.path.cmp(&b.path).then(a.uid.cmp(&b.uid)));
    homes.dedup();
    let shared: Vec<PathBuf> = homes
        .windows(2)
        .filter(|pair| pair[0].path == pair[1].path)
        .map(|pair| pair[0].path.clone())
        .collect();
    homes.retain(|home| !shared.contains(&home.path));
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
            // Only places on the full file system help: `sweep` says None for the others.
            let Some(swept) = sweep(&place, cutoff, device) else {
                continue;
            };
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

#[cfg(unix)]
use walk::sweep;

/// The walk goes by descriptor and is built for Unix only; elsewhere nothing is removed.
#[cfg(not(unix))]
#[derive(Debug, Default)]
struct Swept {
    files: u64,
    bytes: u64,
    error: Option<String>,
}

#[cfg(not(unix))]
fn sweep(place: &Place, _cutoff: SystemTime, _device: u64) -> Option<Swept> {
    Some(Swept {
        error: Some(format!(
            "{}: cleaning is not built for this OS yet",
            place.path.display()
        )),
        ..Swept::default()
    })
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
    use super::walk::Swept;
    use super::*;
    use std::fs::FileTimes;

    fn age(path: &Path, age_days: u64) {
        let then = SystemTime::now() - Duration::from_secs(age_days * 86_400);
        let then = rustix::fs::Timespec {
            tv_sec: i64::try_from(
                then.duration_since(SystemTime::UNIX_EPOCH)
                    .expect("after 1970")
                    .as_secs(),
            )
            .expect("fits"),
            tv_nsec: 0,
        };
        // Without following a link: a link's own times are what the walk reads.
        rustix::fs::utimensat(
            rustix::fs::CWD,
            path,
            &rustix::fs::Timestamps {
                last_access: then,
                last_modification: then,
            },
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )
        .expect("set times");
    }

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

    fn me() -> u32 {
        rustix::process::getuid().as_raw()
    }

    /// Every place of `roots` swept as the fix does, keyed by path.
    fn sweep_all(roots: &Roots, device: u64, older_than_days: u64) -> Vec<(PathBuf, Swept)> {
        let cutoff = SystemTime::now() - Duration::from_secs(older_than_days * 86_400);
        roots
            .places()
            .into_iter()
            .filter_map(|place| sweep(&place, cutoff, device).map(|swept| (place.path, swept)))
            .collect()
    }

    /// Says past the harness's capture that a test skips, and why.
    fn skip(reason: &str) {
        use std::io::Write;
        let test = std::thread::current().name().unwrap_or("a test").to_owned();
        let _ = writeln!(std::io::stderr(), "SKIP {test}: {reason}");
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
        // Trashed 20 days ago, its info file read today (a file manager listing the trash).
        write_aged(&home.join(".local/share/Trash/files/listed.txt"), 500, 20);
        let listed_info = home.join(".local/share/Trash/info/listed.txt.trashinfo");
        write_aged(&listed_info, 60, 20);
        std::fs::File::options()
            .write(true)
            .open(&listed_info)
            .expect("open")
            .set_times(FileTimes::new().set_accessed(SystemTime::now()))
            .expect("read today");
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

        for folder in ["tmp/deep/er", "tmp/deep"] {
            age(&root.join(folder), 30);
        }
        let roots = Roots {
            homes: vec![Home {
                path: home.clone(),
                uid: me(),
            }],
            temp_dirs: vec![root.join("tmp")],
            package_caches: vec![root.join("apt/archives")],
            crash_dirs: vec![root.join("crash-that-does-not-exist")],
            journal: None,
        };
        let device = device_of(root).expect("device");
        let swept = sweep_all(&roots, device, 7);
        let freed: u64 = swept.iter().map(|(_, swept)| swept.bytes).sum();
        assert!(freed >= 40_000 + 8_000 + 12_000 + 20_000 + 4_000, "{freed}");
        assert!(
            swept.iter().all(|(_, swept)| swept.error.is_none()),
            "{swept:?}"
        );
        for gone in [
            "tmp/old.bin",
            "tmp/deep",
            "apt/archives/vim_9.0_amd64.deb",
            "home/anna/.local/share/Trash/files/report.odt",
            "home/anna/.local/share/Trash/info/report.odt.trashinfo",
            "home/anna/.local/share/Trash/files/listed.txt",
            "home/anna/.local/share/Trash/info/listed.txt.trashinfo",
            "home/anna/.cache/thumbnails/large/a.png",
        ] {
            assert!(!root.join(gone).exists(), "{gone} should be gone");
        }
        for kept in [
            "tmp/new.bin",
            "tmp/link-to-documents",
            "apt/archives/lock",
            "home/anna/.local/share/Trash/files/today.txt",
            "home/anna/Documents/old-but-mine.txt",
        ] {
            assert!(
                root.join(kept).symlink_metadata().is_ok(),
                "{kept} should stay"
            );
        }
    }

    /// The review's finding: a user's link inside a cleaned folder (or in the path to one)
    /// pointing at a folder of old files elsewhere. The link is an old entry of the cleaned
    /// folder, so it goes itself; what it points at is never looked into.
    #[test]
    fn a_link_to_a_folder_of_old_files_is_removed_as_a_link_and_never_followed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        let outside = root.join("etc-like");
        write_aged(&outside.join("shadow"), 1_000, 400);
        write_aged(&outside.join("deep/passwd"), 1_000, 400);
        age(&outside.join("deep"), 400);
        age(&outside, 400);
        let home = root.join("home/anna");
        std::fs::create_dir_all(root.join("tmp")).expect("tmp");
        std::fs::create_dir_all(home.join(".local/share/Trash/files")).expect("trash");
        // In a cleaned folder, and in the trash (the review's `Trash/files/x -> /etc`).
        for link in [root.join("tmp/x"), home.join(".local/share/Trash/files/x")] {
            std::os::unix::fs::symlink(&outside, &link).expect("symlink");
            age(&link, 30);
        }
        write_aged(&home.join(".local/share/Trash/info/x.trashinfo"), 60, 30);
        // A folder in the path to a home's cache that is a link (`~/.cache -> elsewhere`, with
        // an old `thumbnails` there): the place is left alone, saying why.
        let elsewhere = root.join("elsewhere");
        write_aged(&elsewhere.join("thumbnails/old.png"), 1_000, 400);
        std::os::unix::fs::symlink(&elsewhere, home.join(".cache")).expect("symlink");

        let roots = Roots {
            homes: vec![Home {
                path: home.clone(),
                uid: me(),
            }],
            temp_dirs: vec![root.join("tmp")],
            package_caches: Vec::new(),
            crash_dirs: Vec::new(),
            journal: None,
        };
        let swept = sweep_all(&roots, device_of(root).expect("device"), 7);

        for kept in [
            "etc-like/shadow",
            "etc-like/deep/passwd",
            "elsewhere/thumbnails/old.png",
        ] {
            assert!(
                root.join(kept).exists(),
                "{kept} was deleted through a link"
            );
        }
        for link in ["tmp/x", "home/anna/.local/share/Trash/files/x"] {
            assert!(
                root.join(link).symlink_metadata().is_err(),
                "the old link {link} itself should go"
            );
        }
        let through_link = swept
            .iter()
            .find(|(path, _)| path.ends_with(".cache/thumbnails"))
            .expect("the linked cache is reported");
        assert!(
            through_link
                .1
                .error
                .as_deref()
                .unwrap_or("")
                .contains("symbolic link"),
            "{swept:?}"
        );
        assert_eq!(through_link.1.files, 0);
    }

    /// The race the review named: a folder swapped, between the walk's look and its open, for
    /// a link to a folder of old files elsewhere, or for another folder. Neither is entered.
    #[test]
    fn a_folder_swapped_after_the_look_is_not_entered() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        let tmp = root.join("tmp");
        write_aged(&root.join("etc-like/shadow"), 1_000, 400);
        age(&root.join("etc-like"), 400);
        for folder in ["to-link", "to-folder"] {
            write_aged(&tmp.join(folder).join("old.bin"), 1_000, 30);
            age(&tmp.join(folder), 30);
        }
        let place = Place {
            kind: Kind::Temp,
            path: tmp.clone(),
            home: None,
        };
        let cutoff = SystemTime::now() - Duration::from_secs(7 * 86_400);
        let swept = walk::sweep_with(
            &place,
            cutoff,
            device_of(root).expect("device"),
            &mut |name| {
                let name = name.to_str().expect("utf-8");
                let path = tmp.join(name);
                match name {
                    "to-link" => {
                        std::fs::rename(&path, root.join("moved-away")).expect("move");
                        std::os::unix::fs::symlink(root.join("etc-like"), &path).expect("link");
                    }
                    "to-folder" => {
                        std::fs::rename(&path, root.join("moved-away-too")).expect("move");
                        write_aged(&path.join("new-folders-old.bin"), 1_000, 30);
                    }
                    _ => {}
                }
            },
        )
        .expect("swept");
        assert!(
            root.join("etc-like/shadow").exists(),
            "deleted through the link"
        );
        assert!(tmp.join("to-folder/new-folders-old.bin").exists());
        assert!(
            swept
                .error
                .as_deref()
                .unwrap_or("")
                .contains("to-folder changed while it was looked at"),
            "{swept:?}"
        );
        assert_eq!(swept.files, 0, "{swept:?}");
    }

    #[test]
    fn in_a_home_only_the_owners_files_go() {
        if me() != 0 {
            skip("giving files to other accounts needs root");
            return;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let home = dir.path().join("home/anna");
        let (anna, mallory) = (4_242, 4_343);
        let trash = home.join(".local/share/Trash");
        for (name, owner) in [("mine.txt", anna), ("planted.txt", mallory)] {
            let file = trash.join("files").join(name);
            let info = trash.join("info").join(format!("{name}.trashinfo"));
            write_aged(&file, 1_000, 30);
            write_aged(&info, 60, 30);
            std::os::unix::fs::lchown(&file, Some(owner), Some(owner)).expect("chown");
            std::os::unix::fs::lchown(&info, Some(anna), Some(anna)).expect("chown");
        }
        let roots = Roots {
            homes: vec![Home {
                path: home.clone(),
                uid: anna,
            }],
            temp_dirs: Vec::new(),
            package_caches: Vec::new(),
            crash_dirs: Vec::new(),
            journal: None,
        };
        sweep_all(&roots, device_of(dir.path()).expect("device"), 7);
        assert!(
            !trash.join("files/mine.txt").exists(),
            "anna's old trash goes"
        );
        assert!(!trash.join("info/mine.txt.trashinfo").exists());
        assert!(
            trash.join("files/planted.txt").exists(),
            "a file of another account in anna's trash stays"
        );
        assert!(trash.join("info/planted.txt.trashinfo").exists());
    }

    /// A file system mounted inside a cleaned folder is another device: not crossed.
    #[test]
    fn a_mount_inside_a_cleaned_folder_is_not_crossed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let tmp = dir.path().join("tmp");
        let mounted = tmp.join("mounted");
        std::fs::create_dir_all(&mounted).expect("mkdir");
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "firstline-test"])
            .arg(&mounted)
            .status();
        if !status.as_ref().is_ok_and(|s| s.success()) {
            assert!(
                me() != 0,
                "mount -t tmpfs failed as root: {status:?}; this test needs it"
            );
            skip("mounting a tmpfs needs root");
            return;
        }
        struct Unmount(PathBuf);
        impl Drop for Unmount {
            fn drop(&mut self) {
                let _ = std::process::Command::new("umount").arg(&self.0).status();
            }
        }
        let _unmount = Unmount(mounted.clone());
        write_aged(&mounted.join("old.bin"), 4_000, 30);
        write_aged(&mounted.join("deeper/old.bin"), 4_000, 30);
        age(&mounted.join("deeper"), 30);
        age(&mounted, 30);
        write_aged(&tmp.join("old.bin"), 4_000, 30);
        let roots = Roots {
            homes: Vec::new(),
            temp_dirs: vec![tmp.clone()],
            package_caches: Vec::new(),
            crash_dirs: Vec::new(),
            journal: None,
        };
        let swept = sweep_all(&roots, device_of(dir.path()).expect("device"), 7);
        assert_eq!(swept.len(), 1, "{swept:?}");
        assert_eq!(swept[0].1.files, 1, "only tmp/old.bin: {swept:?}");
        assert!(!tmp.join("old.bin").exists());
        assert!(mounted.join("old.bin").exists(), "the mount was crossed");
        assert!(
            mounted.join("deeper/old.bin").exists(),
            "the mount was crossed"
        );
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
             shared1:x:1002:1002::/srv/shared:/bin/sh\n\
             shared2:x:1003:1003::/srv/shared:/bin/sh\n\
             garbage line\n",
        )
        .expect("write");
        assert_eq!(
            homes_in(&passwd),
            vec![Home {
                path: PathBuf::from("/home/anna"),
                uid: 1000
            }]
        );
    }
}
