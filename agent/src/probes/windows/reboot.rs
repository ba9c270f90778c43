//! Whether Windows wants a restart, from the registry: Component Based Servicing's
//! RebootPending key, Windows Update's RebootRequired key, and Session Manager's
//! PendingFileRenameOperations (files to replace or delete at the next start).

use super::registry::{self, RegistryRoot};
use crate::probes::reboot::{RebootState, windows_reboot_state};

pub const CBS_KEY: &str =
    r"SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending";
pub const WINDOWS_UPDATE_KEY: &str =
    r"SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired";
pub const SESSION_MANAGER_KEY: &str = r"SYSTEM\CurrentControlSet\Control\Session Manager";
pub const PENDING_RENAMES_VALUE: &str = "PendingFileRenameOperations";

/// This machine's state (HKLM).
pub fn state() -> Result<RebootState, String> {
    state_under(RegistryRoot::LocalMachine, "")
}

/// The state read from keys under `root\prefix` (the prefix is "" for the real keys; a test
/// points it at a key of its own, ending in a backslash).
pub fn state_under(root: RegistryRoot, prefix: &str) -> Result<RebootState, String> {
    let servicing = registry::key_exists(root, &format!("{prefix}{CBS_KEY}"))?;
    let update = registry::key_exists(root, &format!("{prefix}{WINDOWS_UPDATE_KEY}"))?;
    let renames = registry::multi_string(
        root,
        &format!("{prefix}{SESSION_MANAGER_KEY}"),
        PENDING_RENAMES_VALUE,
    )?
    .unwrap_or_default();
    Ok(windows_reboot_state(servicing, update, &renames))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_restart_is_read_from_the_registry_and_cleared_with_it() {
        // The same key paths under a test key of the current user's, removed afterwards.
        let base = format!(r"Software\FirstlineTest-reboot-{}", std::process::id());
        let prefix = format!(r"{base}\");
        let root = RegistryRoot::CurrentUser;
        registry::delete_tree(root, &base).expect("clean start");

        let nothing = state_under(root, &prefix).expect("no keys at all");
        assert!(!nothing.pending, "{nothing:?}");

        registry::create_key(root, &format!("{prefix}{WINDOWS_UPDATE_KEY}")).expect("create");
        registry::create_key(root, &format!("{prefix}{CBS_KEY}")).expect("create");
        registry::set_multi_string(
            root,
            &format!("{prefix}{SESSION_MANAGER_KEY}"),
            PENDING_RENAMES_VALUE,
            &[
                r"\??\C:\Temp\new.dll",
                r"!\??\C:\Windows\old.dll",
                r"\??\C:\Temp\gone.tmp",
                "",
            ],
        )
        .expect("set value");
        let pending = state_under(root, &prefix).expect("read");
        assert!(pending.pending);
        assert_eq!(
            pending.reasons,
            [
                "component servicing (CBS) needs a restart",
                "Windows Update needs a restart",
                "2 files to be replaced at restart",
            ]
        );

        registry::delete_tree(root, &base).expect("delete");
        let cleared = state_under(root, &prefix).expect("read after delete");
        assert!(!cleared.pending, "{cleared:?}");
        assert!(cleared.reasons.is_empty());

        // The machine's own keys can be read (pending or not).
        state().expect("HKLM");
    }
}
