//! Mounted file systems: space and inodes, with the device behind each mount.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MountUsage {
    pub mount_point: String,
    pub device: String,
    pub file_system: String,
    pub total_bytes: u64,
    pub available_bytes: u64,
    pub inodes_total: u64,
    pub inodes_free: u64,
    pub read_only: bool,
}

/// Every mounted disk sysinfo knows, with inode counts where the OS has them.
pub fn mounts() -> Result<Vec<MountUsage>, String> {
    let disks =
        sysinfo::Disks::new_with_refreshed_list().map_err(|e| format!("listing mounts: {e}"))?;
    Ok(disks
        .iter()
        .map(|disk| {
            let mount_point = disk.mount_point().display().to_string();
            let (inodes_total, inodes_free) = inodes(disk.mount_point()).unwrap_or((0, 0));
            MountUsage {
                device: disk.name().to_string_lossy().into_owned(),
                file_system: disk.file_system().to_string_lossy().into_owned(),
                total_bytes: disk.total_space(),
                available_bytes: disk.available_space(),
                inodes_total,
                inodes_free,
                read_only: disk.is_read_only(),
                mount_point,
            }
        })
        .collect())
}

#[cfg(unix)]
fn inodes(path: &std::path::Path) -> Option<(u64, u64)> {
    let stats = rustix::fs::statvfs(path).ok()?;
    Some((stats.f_files, stats.f_favail))
}

#[cfg(not(unix))]
fn inodes(_path: &std::path::Path) -> Option<(u64, u64)> {
    None
}
