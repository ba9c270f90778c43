//! The device's identity in its state dir: private key (0600, never sent anywhere; on Windows
//! SYSTEM and Administrators only), the certificate the collector signed, the CA to pin, and
//! where the collector is.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const KEY_FILE: &str = "device-key.pem";
pub const CERTIFICATE_FILE: &str = "device.pem";
pub const CA_FILE: &str = "ca.pem";
/// Written last by `enroll`: its presence means the identity is complete.
pub const ENROLLMENT_FILE: &str = "enrollment.toml";

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error(
        "this agent is not enrolled (no {path}); run `firstline-agent enroll --collector URL --token TOKEN` first"
    )]
    NotEnrolled { path: PathBuf },
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is corrupt: {detail}")]
    Corrupt { path: PathBuf, detail: String },
    /// Windows: the folder or the key could not be restricted to SYSTEM and Administrators.
    #[error("restricting access to {path}: {detail}")]
    Protect { path: PathBuf, detail: String },
}

/// What `enrollment.toml` records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enrollment {
    pub device_id: String,
    pub collector_url: String,
    pub enrolled_at: String,
}

/// Everything the agent needs to open its mutual-TLS stream.
#[derive(Clone)]
pub struct Identity {
    pub state_dir: PathBuf,
    pub enrollment: Enrollment,
    pub key_pem: String,
    pub certificate_pem: String,
    pub ca_pem: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The private key stays out of logs.
        f.debug_struct("Identity")
            .field("state_dir", &self.state_dir)
            .field("enrollment", &self.enrollment)
            .finish_non_exhaustive()
    }
}

impl Enrollment {
    /// Reads `STATE_DIR/enrollment.toml` alone: whether this agent is enrolled, and with which
    /// collector. Unlike the key, it is readable without privileges.
    pub fn load(state_dir: &Path) -> Result<Self, IdentityError> {
        let enrollment_path = state_dir.join(ENROLLMENT_FILE);
        let enrollment_text = match fs::read_to_string(&enrollment_path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(IdentityError::NotEnrolled {
                    path: enrollment_path,
                });
            }
            Err(source) => {
                return Err(IdentityError::Read {
                    path: enrollment_path,
                    source,
                });
            }
        };
        toml::from_str(&enrollment_text).map_err(|e| IdentityError::Corrupt {
            path: enrollment_path,
            detail: e.to_string(),
        })
    }
}

impl Identity {
    pub fn device_id(&self) -> &str {
        &self.enrollment.device_id
    }

    /// Loads the identity from `state_dir`.
    pub fn load(state_dir: &Path) -> Result<Self, IdentityError> {
        let enrollment = Enrollment::load(state_dir)?;
        let read = |name: &str| {
            let path = state_dir.join(name);
            fs::read_to_string(&path).map_err(|source| IdentityError::Read { path, source })
        };
        Ok(Identity {
            state_dir: state_dir.to_owned(),
            enrollment,
            key_pem: read(KEY_FILE)?,
            certificate_pem: read(CERTIFICATE_FILE)?,
            ca_pem: read(CA_FILE)?,
        })
    }

    /// Writes the identity into its state dir; `enrollment.toml` goes last so that a crash
    /// midway leaves an agent that is plainly "not enrolled" rather than half-enrolled.
    pub fn save(&self) -> Result<(), IdentityError> {
        let dir = &self.state_dir;
        fs::create_dir_all(dir).map_err(|source| IdentityError::Write {
            path: dir.clone(),
            source,
        })?;
        // 0711: local users may reach the report socket (0666) by its name but cannot list the
        // folder; the key is 0600 and what the running agent creates follows its umask.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o711));
        }
        // Windows: SYSTEM and Administrators only, inherited by everything created inside, so
        // no file in it is ever readable by others (the report pipe is not in the folder).
        #[cfg(windows)]
        crate::acl::restrict_to_system_and_administrators(dir, true).map_err(|detail| {
            IdentityError::Protect {
                path: dir.clone(),
                detail,
            }
        })?;
        // Remove the marker first: from here until the end the identity is incomplete.
        let marker = dir.join(ENROLLMENT_FILE);
        match fs::remove_file(&marker) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(IdentityError::Write {
                    path: marker,
                    source,
                });
            }
        }
        write_file(&dir.join(KEY_FILE), self.key_pem.as_bytes(), 0o600)?;
        write_file(
            &dir.join(CERTIFICATE_FILE),
            self.certificate_pem.as_bytes(),
            0o644,
        )?;
        write_file(&dir.join(CA_FILE), self.ca_pem.as_bytes(), 0o644)?;
        let enrollment = toml::to_string(&self.enrollment).map_err(|e| IdentityError::Corrupt {
            path: marker.clone(),
            detail: e.to_string(),
        })?;
        write_file(&marker, enrollment.as_bytes(), 0o644)
    }
}

/// Waits until `state_dir` holds a complete identity and returns it, or None once `stop` is set.
///
/// An installed agent starts before anyone has enrolled it: instead of failing (and being
/// restarted in a loop by the service manager) it says once what to do, then looks again every
/// `poll_interval`. `enroll` writes `enrollment.toml` last, so a complete identity is all there
/// is to see. Errors other than "not enrolled" (a corrupt or unreadable file) end the wait.
pub async fn wait_until_enrolled(
    state_dir: &Path,
    poll_interval: std::time::Duration,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> Result<Option<Identity>, IdentityError> {
    let mut said_so = false;
    loop {
        match Identity::load(state_dir) {
            Ok(identity) => {
                if said_so {
                    tracing::info!(state_dir = %state_dir.display(), "enrolled: starting");
                }
                return Ok(Some(identity));
            }
            Err(IdentityError::NotEnrolled { .. }) if !said_so => {
                tracing::warn!(
                    state_dir = %state_dir.display(),
                    "not enrolled yet: waiting for `firstline-agent enroll --collector URL --token TOKEN`"
                );
                said_so = true;
            }
            Err(IdentityError::NotEnrolled { .. }) => {}
            Err(error) => return Err(error),
        }
        if *stop.borrow() {
            return Ok(None);
        }
        tokio::select! {
            () = tokio::time::sleep(poll_interval) => {}
            () = crate::uplink::stopped(stop) => return Ok(None),
        }
    }
}

/// Writes via a temporary file and a rename, so a reader never sees half a file.
pub fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), IdentityError> {
    let error = |source| IdentityError::Write {
        path: path.to_owned(),
        source,
    };
    let temporary = path.with_extension("tmp");
    // A leftover from a crash may carry other permissions (the key must be 0600): start anew.
    match fs::remove_file(&temporary) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(IdentityError::Write {
                path: temporary,
                source,
            });
        }
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    let mut file = options.open(&temporary).map_err(error)?;
    // Windows: a private file (the key) gets its own protected DACL before it holds anything;
    // until then it has the folder's, which `Identity::save` restricted first.
    #[cfg(windows)]
    if mode & 0o077 == 0 {
        crate::acl::restrict_to_system_and_administrators(&temporary, false).map_err(|detail| {
            IdentityError::Protect {
                path: temporary.clone(),
                detail,
            }
        })?;
    }
    #[cfg(not(any(unix, windows)))]
    let _ = mode;
    file.write_all(contents).map_err(error)?;
    file.sync_all().map_err(error)?;
    drop(file);
    fs::rename(&temporary, path).map_err(error)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn identity_round_trips_and_keeps_the_key_private() {
        let dir = tempfile::tempdir().expect("temp dir");
        let state_dir = dir.path().join("state");
        assert!(matches!(
            Identity::load(&state_dir),
            Err(IdentityError::NotEnrolled { .. })
        ));
        let identity = Identity {
            state_dir: state_dir.clone(),
            enrollment: Enrollment {
                device_id: "d".to_owned(),
                collector_url: "https://collector.example.com:7443".to_owned(),
                enrolled_at: "2026-01-01T00:00:00Z".to_owned(),
            },
            key_pem: "KEY".to_owned(),
            certificate_pem: "CERT".to_owned(),
            ca_pem: "CA".to_owned(),
        };
        identity.save().expect("save");
        let loaded = Identity::load(&state_dir).expect("load");
        assert_eq!(loaded.enrollment, identity.enrollment);
        assert_eq!(loaded.key_pem, "KEY");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(state_dir.join(KEY_FILE))
                .expect("stat")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
            assert!(!format!("{loaded:?}").contains("KEY"));
            // Traversable, not listable: the report socket inside must be reachable.
            let mode = fs::metadata(&state_dir).expect("stat").permissions().mode();
            assert_eq!(mode & 0o777, 0o711);
        }
        // Windows: saving restricted the folder and the key without an error; what the DACLs
        // read back is `acl::tests` (not under Wine, which keeps no DACL on files).
    }

    fn identity_in(state_dir: &Path) -> Identity {
        Identity {
            state_dir: state_dir.to_owned(),
            enrollment: Enrollment {
                device_id: "d".to_owned(),
                collector_url: "https://collector.example.com:7443".to_owned(),
                enrolled_at: "2026-01-01T00:00:00Z".to_owned(),
            },
            key_pem: "KEY".to_owned(),
            certificate_pem: "CERT".to_owned(),
            ca_pem: "CA".to_owned(),
        }
    }

    #[tokio::test]
    async fn an_unenrolled_agent_waits_until_enrollment_appears() {
        let dir = tempfile::tempdir().expect("temp dir");
        let state_dir = dir.path().join("state");
        let (_stop, mut stop_watch) = tokio::sync::watch::channel(false);
        let waiting = tokio::spawn({
            let state_dir = state_dir.clone();
            async move {
                wait_until_enrolled(&state_dir, Duration::from_millis(20), &mut stop_watch).await
            }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiting.is_finished(), "still waiting without an identity");
        identity_in(&state_dir).save().expect("enrol");
        let identity = tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("notices the enrollment")
            .expect("task")
            .expect("no error")
            .expect("an identity");
        assert_eq!(identity.device_id(), "d");
    }

    #[tokio::test]
    async fn waiting_for_enrollment_ends_promptly_when_stopped() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (stop, mut stop_watch) = tokio::sync::watch::channel(false);
        let waiting = tokio::spawn({
            let state_dir = dir.path().to_owned();
            // A long poll interval: only the stop signal can end this wait in time.
            async move {
                wait_until_enrolled(&state_dir, Duration::from_secs(3600), &mut stop_watch).await
            }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        stop.send(true).expect("send stop");
        let outcome = tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("stops promptly")
            .expect("task")
            .expect("no error");
        assert!(outcome.is_none());
    }

    #[tokio::test]
    async fn a_corrupt_enrollment_ends_the_wait_with_an_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::write(dir.path().join(ENROLLMENT_FILE), "device_id = ").expect("write");
        let (_stop, mut stop_watch) = tokio::sync::watch::channel(false);
        let error = wait_until_enrolled(dir.path(), Duration::from_millis(20), &mut stop_watch)
            .await
            .expect_err("corrupt");
        assert!(error.to_string().contains(ENROLLMENT_FILE), "{error}");
    }
}
