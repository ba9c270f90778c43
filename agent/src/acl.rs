//! Windows access control (Windows only): security descriptors built from SDDL strings for the
//! report pipe, the state folder and the private key restricted to SYSTEM and Administrators
//! (the Unix modes 0700/0600), and a DACL read back to check what was set.
#![allow(unsafe_code)]

use std::ffi::OsStr;
use std::os::windows::ffi::OsStrExt;
use std::path::Path;

use windows_sys::Win32::Foundation::{
    ERROR_ACCESS_DENIED, ERROR_INVALID_OWNER, ERROR_SUCCESS, GetLastError, LocalFree,
};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW,
    GetNamedSecurityInfoW, SDDL_REVISION_1, SE_FILE_OBJECT, SetNamedSecurityInfoW,
};
use windows_sys::Win32::Security::{
    ACCESS_ALLOWED_ACE, ACL, ACL_SIZE_INFORMATION, AclSizeInformation, DACL_SECURITY_INFORMATION,
    GetAce, GetAclInformation, GetSecurityDescriptorControl, GetSecurityDescriptorDacl,
    GetSecurityDescriptorOwner, OWNER_SECURITY_INFORMATION, PROTECTED_DACL_SECURITY_INFORMATION,
    PSECURITY_DESCRIPTOR, PSID, SE_DACL_PROTECTED, SECURITY_ATTRIBUTES,
};

/// LocalSystem, the account the service runs as.
pub const SYSTEM_SID: &str = "S-1-5-18";
/// BUILTIN\Administrators.
pub const ADMINISTRATORS_SID: &str = "S-1-5-32-544";

/// The state folder: owned by Administrators, full control for SYSTEM and Administrators only,
/// inherited by what is created inside (`OICI`), nothing inherited from `%ProgramData%`
/// (`P`, protected), whose DACL lets every user read.
pub const PRIVATE_FOLDER_SDDL: &str = "O:BAD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)";
/// The private key: the same two, on the file itself and protected, so that moving it or
/// loosening the folder later does not open it.
pub const PRIVATE_FILE_SDDL: &str = "O:BAD:P(A;;FA;;;SY)(A;;FA;;;BA)";

/// A security descriptor made by `ConvertStringSecurityDescriptorToSecurityDescriptorW`,
/// freed with `LocalFree`.
pub struct SecurityDescriptor {
    descriptor: PSECURITY_DESCRIPTOR,
}

// SAFETY: the descriptor is an immutable, self-relative block of memory owned by this value;
// Windows reads it from any thread.
unsafe impl Send for SecurityDescriptor {}
// SAFETY: as above: nothing writes to it after it was made.
unsafe impl Sync for SecurityDescriptor {}

impl SecurityDescriptor {
    /// Parses `sddl` into a self-relative security descriptor.
    pub fn from_sddl(sddl: &str) -> Result<Self, String> {
        let wide = wide(OsStr::new(sddl));
        let mut descriptor: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        // SAFETY: `wide` is NUL-terminated and outlives the call; `descriptor` receives a
        // LocalAlloc'd block that `Drop` frees.
        let ok = unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                wide.as_ptr(),
                SDDL_REVISION_1,
                &mut descriptor,
                std::ptr::null_mut(),
            )
        };
        if ok == 0 || descriptor.is_null() {
            return Err(format!(
                "ConvertStringSecurityDescriptorToSecurityDescriptorW({sddl:?}): error {}",
                last_error()
            ));
        }
        Ok(SecurityDescriptor { descriptor })
    }

    /// `SECURITY_ATTRIBUTES` pointing at this descriptor (not inherited by child processes);
    /// valid while `self` lives.
    pub fn attributes(&self) -> SECURITY_ATTRIBUTES {
        SECURITY_ATTRIBUTES {
            nLength: u32::try_from(std::mem::size_of::<SECURITY_ATTRIBUTES>()).unwrap_or(0),
            lpSecurityDescriptor: self.descriptor,
            bInheritHandle: 0,
        }
    }

    /// The DACL and the owner inside the descriptor (null when absent).
    fn parts(&self) -> Result<(*mut ACL, PSID), String> {
        let (mut present, mut defaulted) = (0, 0);
        let mut dacl: *mut ACL = std::ptr::null_mut();
        // SAFETY: `self.descriptor` is a valid descriptor; the out-pointers are locals. The
        // DACL returned points into the descriptor, which outlives its use by the caller.
        let ok = unsafe {
            GetSecurityDescriptorDacl(self.descriptor, &mut present, &mut dacl, &mut defaulted)
        };
        if ok == 0 {
            return Err(format!("GetSecurityDescriptorDacl: error {}", last_error()));
        }
        let mut owner: PSID = std::ptr::null_mut();
        // SAFETY: as above, for the owner SID.
        let ok = unsafe { GetSecurityDescriptorOwner(self.descriptor, &mut owner, &mut defaulted) };
        if ok == 0 {
            return Err(format!(
                "GetSecurityDescriptorOwner: error {}",
                last_error()
            ));
        }
        Ok((
            if present == 0 {
                std::ptr::null_mut()
            } else {
                dacl
            },
            owner,
        ))
    }
}

impl Drop for SecurityDescriptor {
    fn drop(&mut self) {
        // SAFETY: allocated by ConvertStringSecurityDescriptorToSecurityDescriptorW, freed once.
        unsafe { LocalFree(self.descriptor) };
    }
}

/// Gives `path` (a folder when `folder`) the protected DACL "full control for SYSTEM and
/// Administrators, nobody else", and Administrators as owner where this process may set it
/// (an administrator may; anyone else keeps themselves as owner, which changes nothing about
/// who may read it).
pub fn restrict_to_system_and_administrators(path: &Path, folder: bool) -> Result<(), String> {
    let sddl = if folder {
        PRIVATE_FOLDER_SDDL
    } else {
        PRIVATE_FILE_SDDL
    };
    let descriptor = SecurityDescriptor::from_sddl(sddl)?;
    let (dacl, owner) = descriptor.parts()?;
    let name = wide(path.as_os_str());
    let set = |information, owner: PSID| {
        // SAFETY: `name` is NUL-terminated; `dacl` and `owner` point into `descriptor`, alive
        // for the call; the function copies what it needs.
        unsafe {
            SetNamedSecurityInfoW(
                name.as_ptr(),
                SE_FILE_OBJECT,
                information,
                owner,
                std::ptr::null_mut(),
                dacl,
                std::ptr::null(),
            )
        }
    };
    let dacl_only = DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION;
    let error = match set(dacl_only | OWNER_SECURITY_INFORMATION, owner) {
        ERROR_SUCCESS => return Ok(()),
        // Not allowed to give the file to Administrators: the DACL alone is what matters.
        ERROR_INVALID_OWNER | ERROR_ACCESS_DENIED => set(dacl_only, std::ptr::null_mut()),
        other => other,
    };
    if error == ERROR_SUCCESS {
        Ok(())
    } else {
        Err(format!(
            "SetNamedSecurityInfoW({}): error {error}",
            path.display()
        ))
    }
}

/// One access-control entry as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// ACCESS_ALLOWED_ACE_TYPE (0), ACCESS_DENIED_ACE_TYPE (1), ...
    pub ace_type: u8,
    /// The trustee as a string SID ("S-1-5-18"); empty for entry types without a plain SID.
    pub sid: String,
    pub mask: u32,
}

/// A file's DACL as Windows reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dacl {
    /// Not inheriting from the parent folder (SE_DACL_PROTECTED).
    pub protected: bool,
    pub entries: Vec<Entry>,
}

/// Reads `path`'s DACL back (GetNamedSecurityInfoW, then each ACE).
pub fn read_dacl(path: &Path) -> Result<Dacl, String> {
    let name = wide(path.as_os_str());
    let mut dacl: *mut ACL = std::ptr::null_mut();
    let mut descriptor: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
    // SAFETY: `name` is NUL-terminated; the descriptor is LocalAlloc'd by the call and freed
    // below; `dacl` points into it.
    let error = unsafe {
        GetNamedSecurityInfoW(
            name.as_ptr(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut dacl,
            std::ptr::null_mut(),
            &mut descriptor,
        )
    };
    if error != ERROR_SUCCESS {
        return Err(format!(
            "GetNamedSecurityInfoW({}): error {error}",
            path.display()
        ));
    }
    let read = read_descriptor(descriptor, dacl, path);
    // SAFETY: allocated by GetNamedSecurityInfoW, freed once, after its last use.
    unsafe { LocalFree(descriptor) };
    read
}

fn read_descriptor(
    descriptor: PSECURITY_DESCRIPTOR,
    dacl: *mut ACL,
    path: &Path,
) -> Result<Dacl, String> {
    let (mut control, mut revision) = (0u16, 0u32);
    // SAFETY: `descriptor` is the valid descriptor GetNamedSecurityInfoW returned.
    let ok = unsafe { GetSecurityDescriptorControl(descriptor, &mut control, &mut revision) };
    if ok == 0 {
        return Err(format!(
            "GetSecurityDescriptorControl({}): error {}",
            path.display(),
            last_error()
        ));
    }
    let protected = control & SE_DACL_PROTECTED != 0;
    if dacl.is_null() {
        // A null DACL grants everyone everything.
        return Err(format!(
            "{} has no DACL: everyone has access",
            path.display()
        ));
    }
    let mut size = ACL_SIZE_INFORMATION::default();
    // SAFETY: `dacl` points into the live descriptor; `size` is a local of the asked-for type
    // and size.
    let ok = unsafe {
        GetAclInformation(
            dacl,
            (&raw mut size).cast(),
            u32::try_from(std::mem::size_of::<ACL_SIZE_INFORMATION>()).unwrap_or(0),
            AclSizeInformation,
        )
    };
    if ok == 0 {
        return Err(format!(
            "GetAclInformation({}): error {}",
            path.display(),
            last_error()
        ));
    }
    let mut entries = Vec::new();
    for index in 0..size.AceCount {
        let mut ace: *mut core::ffi::c_void = std::ptr::null_mut();
        // SAFETY: `index` is below the ACL's own count; `ace` points into the live ACL.
        let ok = unsafe { GetAce(dacl, index, &mut ace) };
        if ok == 0 || ace.is_null() {
            return Err(format!(
                "GetAce({}, {index}): error {}",
                path.display(),
                last_error()
            ));
        }
        let ace = ace.cast::<ACCESS_ALLOWED_ACE>();
        // SAFETY: every ACE starts with an ACE_HEADER; allowed and denied ACEs (types 0 and
        // 1) share ACCESS_ALLOWED_ACE's layout, with the SID starting at `SidStart`.
        let (ace_type, mask) = unsafe { ((*ace).Header.AceType, (*ace).Mask) };
        let sid = if ace_type <= 1 {
            // SAFETY: as above: the SID of an allowed/denied ACE is at `SidStart`.
            let sid = unsafe { (&raw mut (*ace).SidStart).cast::<core::ffi::c_void>() };
            sid_string(sid)?
        } else {
            String::new()
        };
        entries.push(Entry {
            ace_type,
            sid,
            mask,
        });
    }
    Ok(Dacl { protected, entries })
}

/// A SID as a string ("S-1-5-21-…-1001"); `sid` must point to a valid SID (crate-private:
/// every caller has one from Windows).
pub(crate) fn sid_string(sid: PSID) -> Result<String, String> {
    let mut text: windows_sys::core::PWSTR = std::ptr::null_mut();
    // SAFETY: `sid` is a valid SID from the caller; `text` receives a LocalAlloc'd string.
    let ok = unsafe { ConvertSidToStringSidW(sid, &mut text) };
    if ok == 0 || text.is_null() {
        return Err(format!("ConvertSidToStringSidW: error {}", last_error()));
    }
    // SAFETY: `text` is a NUL-terminated UTF-16 string from the call above.
    let string = unsafe { from_wide_nul(text) };
    // SAFETY: allocated by ConvertSidToStringSidW, freed once.
    unsafe { LocalFree(text.cast()) };
    Ok(string)
}

/// Reads a NUL-terminated UTF-16 string.
///
/// # Safety
/// `text` must point to a NUL-terminated UTF-16 string.
pub unsafe fn from_wide_nul(text: *const u16) -> String {
    let mut length = 0usize;
    // SAFETY: the caller promises a terminating NUL; no SID or name comes near 64 Ki units.
    while length < 65_536 && unsafe { *text.add(length) } != 0 {
        length += 1;
    }
    // SAFETY: `length` units were just read.
    String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(text, length) })
}

/// `text` as NUL-terminated UTF-16.
pub fn wide(text: &OsStr) -> Vec<u16> {
    text.encode_wide().chain(std::iter::once(0)).collect()
}

/// The calling thread's last Win32 error.
pub fn last_error() -> u32 {
    // SAFETY: reads thread-local state only.
    unsafe { GetLastError() }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Access allowed to exactly SYSTEM and Administrators, nothing inherited: what Windows
    /// reads back, not what was asked for. Wine stores and returns ACLs but does not enforce
    /// them, so "another user cannot open it" is not shown here.
    fn assert_private(dacl: &Dacl, what: &str) {
        assert!(
            dacl.protected,
            "{what}: not protected from inheritance: {dacl:?}"
        );
        let mut sids: Vec<(u8, &str)> = dacl
            .entries
            .iter()
            .map(|entry| (entry.ace_type, entry.sid.as_str()))
            .collect();
        sids.sort_unstable();
        assert_eq!(
            sids,
            [(0, SYSTEM_SID), (0, ADMINISTRATORS_SID)],
            "{what}: {dacl:?}"
        );
        // FILE_ALL_ACCESS.
        assert!(
            dacl.entries.iter().all(|entry| entry.mask == 0x001F_01FF),
            "{what}: {dacl:?}"
        );
    }

    #[test]
    fn a_restricted_folder_and_file_read_back_as_system_and_administrators_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let folder = dir.path().join("state");
        std::fs::create_dir(&folder).expect("mkdir");
        restrict_to_system_and_administrators(&folder, true).expect("restrict the folder");
        assert_private(&read_dacl(&folder).expect("read back"), "folder");
        let file = folder.join("key.pem");
        std::fs::write(&file, "KEY").expect("write");
        restrict_to_system_and_administrators(&file, false).expect("restrict the file");
        assert_private(&read_dacl(&file).expect("read back"), "file");
    }

    #[test]
    fn a_bad_sddl_string_names_itself_and_a_missing_file_names_its_path() {
        let error = SecurityDescriptor::from_sddl("D:(A;;XX;;;nobody)")
            .err()
            .expect("refused");
        assert!(error.contains("D:(A;;XX;;;nobody)"), "{error}");
        let error = read_dacl(Path::new(r"C:\no\such\firstline-file")).expect_err("missing");
        assert!(error.contains(r"C:\no\such\firstline-file"), "{error}");
    }
}
