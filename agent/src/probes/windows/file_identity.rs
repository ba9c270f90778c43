//! A file's identity on Windows: the serial number of its volume and its file index, from
//! `GetFileInformationByHandle`. The log watch tells files apart by it (`FileId`), since
//! Windows has no inode and Wine changes a file's creation time on every write.
#![allow(unsafe_code)]

use std::os::windows::io::AsRawHandle;

use windows_sys::Win32::Foundation::GetLastError;
use windows_sys::Win32::Storage::FileSystem::{
    BY_HANDLE_FILE_INFORMATION, GetFileInformationByHandle,
};

/// The volume serial number and the 64-bit file index of the open `file`.
pub fn volume_and_index(file: &std::fs::File) -> Result<(u32, u64), String> {
    let mut info = BY_HANDLE_FILE_INFORMATION::default();
    // SAFETY: the handle is the open file's, alive for this call; `info` is a live out-struct.
    let ok = unsafe { GetFileInformationByHandle(file.as_raw_handle(), &mut info) };
    if ok == 0 {
        // SAFETY: this thread's last error; no arguments.
        let error = unsafe { GetLastError() };
        return Err(format!("GetFileInformationByHandle: error {error}"));
    }
    Ok((
        info.dwVolumeSerialNumber,
        u64::from(info.nFileIndexHigh) << 32 | u64::from(info.nFileIndexLow),
    ))
}
