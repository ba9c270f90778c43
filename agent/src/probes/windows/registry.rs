//! Reading (and, for tests, writing) the Windows registry: whether a key exists, a
//! REG_MULTI_SZ value. Safe wrappers whose errors name the key and the call.
#![allow(unsafe_code)]

use windows_sys::Win32::Foundation::{ERROR_FILE_NOT_FOUND, ERROR_MORE_DATA, ERROR_SUCCESS};
use windows_sys::Win32::System::Registry::{
    HKEY, HKEY_CURRENT_USER, HKEY_LOCAL_MACHINE, KEY_READ, KEY_WRITE, REG_MULTI_SZ,
    REG_OPTION_NON_VOLATILE, REG_SZ, RegCloseKey, RegCreateKeyExW, RegDeleteTreeW, RegOpenKeyExW,
    RegQueryValueExW, RegSetValueExW,
};

use super::wide::to_wide;

/// A value larger than this is not read (PendingFileRenameOperations can be long, not this).
const MAX_VALUE_BYTES: u32 = 4 * 1024 * 1024;

/// Where a key path starts: the machine's settings, or (for tests) the current user's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryRoot {
    LocalMachine,
    CurrentUser,
}

impl RegistryRoot {
    fn handle(self) -> HKEY {
        match self {
            RegistryRoot::LocalMachine => HKEY_LOCAL_MACHINE,
            RegistryRoot::CurrentUser => HKEY_CURRENT_USER,
        }
    }

    fn name(self) -> &'static str {
        match self {
            RegistryRoot::LocalMachine => "HKLM",
            RegistryRoot::CurrentUser => "HKCU",
        }
    }
}

/// An open key, closed when dropped.
struct Key(HKEY);

impl Drop for Key {
    fn drop(&mut self) {
        // SAFETY: the handle came from RegOpenKeyExW/RegCreateKeyExW and is closed only here.
        unsafe { RegCloseKey(self.0) };
    }
}

/// Opens `root\subkey` for reading; `None` when it does not exist.
fn open(root: RegistryRoot, subkey: &str) -> Result<Option<Key>, String> {
    let wide = to_wide(subkey);
    let mut key: HKEY = std::ptr::null_mut();
    // SAFETY: `wide` is NUL-terminated and alive; `key` is a live out-pointer.
    let status = unsafe { RegOpenKeyExW(root.handle(), wide.as_ptr(), 0, KEY_READ, &mut key) };
    match status {
        ERROR_SUCCESS => Ok(Some(Key(key))),
        ERROR_FILE_NOT_FOUND => Ok(None),
        error => Err(format!(
            "RegOpenKeyExW {}\\{subkey}: error {error}",
            root.name()
        )),
    }
}

/// Whether the key `root\subkey` exists.
pub fn key_exists(root: RegistryRoot, subkey: &str) -> Result<bool, String> {
    Ok(open(root, subkey)?.is_some())
}

/// The strings of the REG_MULTI_SZ (or REG_SZ) value `value` of `root\subkey`; `None` when the
/// key or the value does not exist. Empty strings inside the list are kept (a file rename
/// to nothing is a deletion in PendingFileRenameOperations).
pub fn multi_string(
    root: RegistryRoot,
    subkey: &str,
    value: &str,
) -> Result<Option<Vec<String>>, String> {
    let Some(key) = open(root, subkey)? else {
        return Ok(None);
    };
    let name = to_wide(value);
    let describe = || format!("{}\\{subkey} value {value}", root.name());
    let mut size: u32 = 0;
    let mut kind = 0;
    // SAFETY: a size query: null data, `size` and `kind` are live out-pointers.
    let status = unsafe {
        RegQueryValueExW(
            key.0,
            name.as_ptr(),
            std::ptr::null(),
            &mut kind,
            std::ptr::null_mut(),
            &mut size,
        )
    };
    // The value can grow between the two calls: try again with the size it says then.
    for _ in 0..4 {
        match status {
            ERROR_SUCCESS | ERROR_MORE_DATA => {}
            ERROR_FILE_NOT_FOUND => return Ok(None),
            error => return Err(format!("RegQueryValueExW {}: error {error}", describe())),
        }
        if size > MAX_VALUE_BYTES {
            return Err(format!(
                "RegQueryValueExW {}: {size} bytes (at most {MAX_VALUE_BYTES})",
                describe()
            ));
        }
        let mut units = vec![0u16; (size as usize).div_ceil(2)];
        let mut read = size;
        // SAFETY: `units` is writable for `read` bytes (rounded up); out-pointers are live.
        let status = unsafe {
            RegQueryValueExW(
                key.0,
                name.as_ptr(),
                std::ptr::null(),
                &mut kind,
                units.as_mut_ptr().cast::<u8>(),
                &mut read,
            )
        };
        match status {
            ERROR_SUCCESS => {
                if kind != REG_MULTI_SZ && kind != REG_SZ {
                    return Err(format!(
                        "{} is of registry type {kind}, not text",
                        describe()
                    ));
                }
                units.truncate((read as usize / 2).min(units.len()));
                return Ok(Some(crate::probes::reboot::parse_multi_string(&units)));
            }
            ERROR_MORE_DATA => size = read.max(size.saturating_add(2)),
            ERROR_FILE_NOT_FOUND => return Ok(None),
            error => return Err(format!("RegQueryValueExW {}: error {error}", describe())),
        }
    }
    Err(format!(
        "RegQueryValueExW {}: the value kept growing",
        describe()
    ))
}

/// Creates `root\subkey` (and the keys above it) if missing. For tests, under HKCU.
pub fn create_key(root: RegistryRoot, subkey: &str) -> Result<(), String> {
    create(root, subkey).map(drop)
}

fn create(root: RegistryRoot, subkey: &str) -> Result<Key, String> {
    let wide = to_wide(subkey);
    let mut key: HKEY = std::ptr::null_mut();
    // SAFETY: `wide` is NUL-terminated; null class and security; `key` is a live out-pointer.
    let status = unsafe {
        RegCreateKeyExW(
            root.handle(),
            wide.as_ptr(),
            0,
            std::ptr::null(),
            REG_OPTION_NON_VOLATILE,
            KEY_READ | KEY_WRITE,
            std::ptr::null(),
            &mut key,
            std::ptr::null_mut(),
        )
    };
    if status != ERROR_SUCCESS {
        return Err(format!(
            "RegCreateKeyExW {}\\{subkey}: error {status}",
            root.name()
        ));
    }
    Ok(Key(key))
}

/// Writes `strings` as the REG_MULTI_SZ value `value` of `root\subkey`, creating the key.
pub fn set_multi_string(
    root: RegistryRoot,
    subkey: &str,
    value: &str,
    strings: &[&str],
) -> Result<(), String> {
    let key = create(root, subkey)?;
    let mut data: Vec<u16> = Vec::new();
    for string in strings {
        data.extend(string.encode_utf16());
        data.push(0);
    }
    data.push(0);
    let bytes = u32::try_from(data.len() * 2)
        .map_err(|_| format!("{}\\{subkey} value {value}: too long", root.name()))?;
    let name = to_wide(value);
    // SAFETY: `data` holds `bytes` readable bytes; `name` is NUL-terminated.
    let status = unsafe {
        RegSetValueExW(
            key.0,
            name.as_ptr(),
            0,
            REG_MULTI_SZ,
            data.as_ptr().cast::<u8>(),
            bytes,
        )
    };
    if status != ERROR_SUCCESS {
        return Err(format!(
            "RegSetValueExW {}\\{subkey} value {value}: error {status}",
            root.name()
        ));
    }
    Ok(())
}

/// Deletes `root\subkey` with everything under it; a missing key is not an error.
pub fn delete_tree(root: RegistryRoot, subkey: &str) -> Result<(), String> {
    let wide = to_wide(subkey);
    // SAFETY: `wide` is NUL-terminated and alive.
    let status = unsafe { RegDeleteTreeW(root.handle(), wide.as_ptr()) };
    match status {
        ERROR_SUCCESS | ERROR_FILE_NOT_FOUND => Ok(()),
        error => Err(format!(
            "RegDeleteTreeW {}\\{subkey}: error {error}",
            root.name()
        )),
    }
}
