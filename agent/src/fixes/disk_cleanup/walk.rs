//! The descriptor walk behind `disk.cleanup`: every folder is opened relative to the folder
//! that holds it, without following links, and every removal names an entry of a folder
//! already open, so a link or a swapped folder can only ever cost itself, never its target.
//!
//! The rules, each against a race or a trick a local user could play (CVE-2018-6954 class):
//! - a place's folder is opened `O_DIRECTORY | O_NOFOLLOW`, and in a home every folder from
//!   the home down is, so a user's link in the place's own path is not followed either;
//! - each entry is looked at with `statat(AT_SYMLINK_NOFOLLOW)`; only a real folder is entered,
//!   by `openat(parent, name, O_DIRECTORY | O_NOFOLLOW)`, and the opened folder must be the one
//!   looked at (same device and inode), else it was swapped and is left alone;
//! - nothing on another device is entered or removed (a mount inside a place is not crossed);
//! - removal is `unlinkat(parent, name)`: a name swapped for a link after the look removes the
//!   link only; sockets, pipes and devices are never removed;
//! - in a home, only entries owned by the home's owner are removed or entered.

use std::ffi::{CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::time::SystemTime;

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{
    AtFlags, CWD, Dir, FileType, Mode, OFlags, Stat, fstat, openat, statat, unlinkat,
};

use super::{Kind, MAX_DEPTH, MAX_ENTRIES_PER_PLACE, Place};

/// What one place gave back.
#[derive(Debug, Default)]
pub struct Swept {
    pub files: u64,
    pub bytes: u64,
    /// The first thing that could not be done, or why the walk stopped early.
    pub error: Option<String>,
}

/// What the walk reads of a `struct stat`, in fixed widths (the struct's widths differ by
/// architecture, so the casts below are no-ops on some and widenings on others).
#[derive(Debug, Clone, Copy)]
struct Facts {
    device: u64,
    inode: u64,
    uid: u32,
    file_type: FileType,
    allocated_bytes: u64,
    /// The last write, in seconds since 1970.
    modified_secs: i64,
    /// The later of the last write and the last read.
    last_used_secs: i64,
}

#[allow(clippy::unnecessary_cast, clippy::cast_sign_loss)]
fn facts(stat: &Stat) -> Facts {
    let blocks = stat.st_blocks as i64;
    Facts {
        device: stat.st_dev as u64,
        inode: stat.st_ino as u64,
        uid: stat.st_uid as u32,
        file_type: FileType::from_raw_mode(stat.st_mode as _),
        allocated_bytes: (blocks.max(0) as u64).saturating_mul(512),
        modified_secs: stat.st_mtime as i64,
        last_used_secs: (stat.st_mtime as i64).max(stat.st_atime as i64),
    }
}

const DIRECTORY_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// Opens the place's folder without following a link at any step the user controls: the
/// configured folder (or the home) itself, and in a home each folder below it.
fn open_place(place: &Place) -> rustix::io::Result<OwnedFd> {
    let (start, below) = match &place.home {
        Some(home) => (
            home.path.as_path(),
            place
                .path
                .strip_prefix(&home.path)
                .unwrap_or(place.path.as_path()),
        ),
        None => (place.path.as_path(), std::path::Path::new("")),
    };
    let mut folder = openat(CWD, start, DIRECTORY_FLAGS, Mode::empty())?;
    for component in below.components() {
        folder = openat(
            &folder,
            component.as_os_str(),
            DIRECTORY_FLAGS,
            Mode::empty(),
        )?;
    }
    Ok(folder)
}

/// Removes what `place` allows, staying on `device`. `None` when there is nothing to clean
/// there: the place does not exist or is on another file system.
pub fn sweep(place: &Place, cutoff: SystemTime, device: u64) -> Option<Swept> {
    sweep_with(place, cutoff, device, &mut |_| {})
}

/// `sweep`, calling `between_look_and_act` with each entry's name after it was looked at and
/// before anything is done to it: where a test plays the user who swaps it.
pub fn sweep_with(
    place: &Place,
    cutoff: SystemTime,
    device: u64,
    between_look_and_act: &mut dyn FnMut(&CStr),
) -> Option<Swept> {
    let root = match open_place(place) {
        Ok(root) => root,
        Err(rustix::io::Errno::NOENT) => return None,
        Err(rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR) => {
            return Some(Swept {
                error: Some(format!(
                    "{} is reached through a symbolic link or is not a folder; left alone",
                    place.path.display()
                )),
                ..Swept::default()
            });
        }
        Err(e) => {
            return Some(Swept {
                error: Some(format!("opening {}: {e}", place.path.display())),
                ..Swept::default()
            });
        }
    };
    let root_facts = fstat(&root).ok().map(|stat| facts(&stat))?;
    // Only places on the full file system help; others are left alone.
    if root_facts.device != device {
        return None;
    }
    let cutoff_secs = cutoff
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
        });
    let mut walk = Walk {
        device,
        owner: place.home.as_ref().map(|home| home.uid),
        visited: 0,
        swept: Swept::default(),
        between_look_and_act,
    };
    match place.kind {
        Kind::Trash => walk.trash(&root, cutoff_secs),
        Kind::Packages => {
            for name in walk.names(&root) {
                if name.to_bytes().ends_with(b".deb") {
                    walk.remove_entry(root.as_fd(), &name, None, 0);
                }
            }
        }
        Kind::Temp | Kind::Cache | Kind::CrashDumps => {
            for name in walk.names(&root) {
                walk.remove_entry(root.as_fd(), &name, Some(cutoff_secs), 0);
            }
        }
    }
    Some(walk.swept)
}

struct Walk<'hook> {
    device: u64,
    /// In a home: the only owner whose entries may go.
    owner: Option<u32>,
    visited: usize,
    swept: Swept,
    between_look_and_act: &'hook mut dyn FnMut(&CStr),
}

impl Walk<'_> {
    /// The names in an open folder (not "." or ".."), read before anything in it is removed.
    fn names(&mut self, folder: &OwnedFd) -> Vec<CString> {
        let Ok(dir) = Dir::read_from(folder) else {
            return Vec::new();
        };
        let mut names = Vec::new();
        for entry in dir {
            let Ok(entry) = entry else {
                break;
            };
            let name = entry.file_name();
            if name != c"." && name != c".." {
                names.push(name.to_owned());
            }
            if names.len() > MAX_ENTRIES_PER_PLACE {
                break;
            }
        }
        names
    }

    fn look(&self, parent: BorrowedFd<'_>, name: &CStr) -> Option<Facts> {
        let facts = facts(&statat(parent, name, AtFlags::SYMLINK_NOFOLLOW).ok()?);
        // Another device (a mount point inside the place) is not crossed, and in a home only
        // the home's owner's entries are this fix's business.
        (facts.device == self.device && self.owner.is_none_or(|owner| facts.uid == owner))
            .then_some(facts)
    }

    /// Removes `name` in `parent` if it is old enough (files and links: neither written nor
    /// read before `cutoff`; folders: emptied by this walk and not written before it), depth
    /// first. `None` removes everything the rules allow.
    fn remove_entry(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &CStr,
        cutoff_secs: Option<i64>,
        depth: usize,
    ) {
        self.visited += 1;
        if self.visited > MAX_ENTRIES_PER_PLACE || depth > MAX_DEPTH {
            self.swept.error.get_or_insert_with(|| {
                format!("stopped after {MAX_ENTRIES_PER_PLACE} entries or {MAX_DEPTH} folders deep")
            });
            return;
        }
        let Some(looked) = self.look(parent, name) else {
            return;
        };
        (self.between_look_and_act)(name);
        let old = cutoff_secs.is_none_or(|cutoff| looked.last_used_secs < cutoff);
        match looked.file_type {
            FileType::Directory => {
                let Ok(folder) = openat(parent, name, DIRECTORY_FLAGS, Mode::empty()) else {
                    return;
                };
                // The folder opened must be the one looked at: a swap in between (for another
                // folder, or a mount) leaves it alone.
                let opened = fstat(&folder).ok().map(|stat| facts(&stat));
                if opened.is_none_or(|o| o.device != looked.device || o.inode != looked.inode) {
                    self.swept.error.get_or_insert_with(|| {
                        format!("{} changed while it was looked at; left alone", show(name))
                    });
                    return;
                }
                for child in self.names(&folder) {
                    self.remove_entry(folder.as_fd(), &child, cutoff_secs, depth + 1);
                }
                drop(folder);
                if old {
                    // Only an empty folder goes (the kernel refuses others); one with newer
                    // files stays. A link swapped in under its name is refused too (ENOTDIR).
                    let _ = unlinkat(parent, name, AtFlags::REMOVEDIR);
                }
            }
            FileType::RegularFile | FileType::Symlink if old => {
                match unlinkat(parent, name, AtFlags::empty()) {
                    Ok(()) => {
                        self.swept.files += 1;
                        if looked.file_type == FileType::RegularFile {
                            self.swept.bytes += looked.allocated_bytes;
                        }
                    }
                    Err(e) => {
                        self.swept
                            .error
                            .get_or_insert_with(|| format!("{}: {e}", show(name)));
                    }
                }
            }
            // Sockets, pipes and devices are someone's live endpoints: left alone.
            _ => {}
        }
    }

    /// Trash/files/NAME was put there when Trash/info/NAME.trashinfo was written; both go
    /// when that was before the cutoff.
    fn trash(&mut self, trash: &OwnedFd, cutoff_secs: i64) {
        let Ok(files) = openat(trash, c"files", DIRECTORY_FLAGS, Mode::empty()) else {
            return;
        };
        let info = openat(trash, c"info", DIRECTORY_FLAGS, Mode::empty()).ok();
        for name in self.names(&files) {
            let mut info_name = name.as_bytes().to_vec();
            info_name.extend_from_slice(b".trashinfo");
            let Ok(info_name) = CString::new(info_name) else {
                continue;
            };
            let info_facts = info
                .as_ref()
                .and_then(|info| self.look(info.as_fd(), &info_name))
                .filter(|facts| facts.file_type == FileType::RegularFile);
            let Some(item) = self.look(files.as_fd(), &name) else {
                continue;
            };
            // When the info file was written (not read: a file manager listing the trash reads
            // it), else when the item itself last changed.
            let trashed_secs = info_facts.map_or(item.modified_secs, |f| f.modified_secs);
            if trashed_secs >= cutoff_secs {
                continue;
            }
            self.remove_entry(files.as_fd(), &name, None, 0);
            let gone = statat(&files, &name, AtFlags::SYMLINK_NOFOLLOW).is_err();
            if gone
                && info_facts.is_some()
                && let Some(info) = &info
            {
                let _ = unlinkat(info, &info_name, AtFlags::empty());
            }
        }
    }
}

fn show(name: &CStr) -> String {
    OsStr::from_bytes(name.to_bytes())
        .to_string_lossy()
        .into_owned()
}
