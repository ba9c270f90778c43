//! The device's identity in its state dir: private key (0600, never sent anywhere), the
//! certificate the collector signed, the CA to pin, and where the collector is.

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

impl Identity {
    pub fn device_id(&self) -> &str {
        &self.enrollment.device_id
    }

    /// Loads the identity from `state_dir`.
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
        let enrollment: Enrollment =
            toml::from_str(&enrollment_text).map_err(|e| IdentityError::Corrupt {
                path: enrollment_path.clone(),
                detail: e.to_string(),
            })?;
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
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
        }
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
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(&temporary).map_err(error)?;
    file.write_all(contents).map_err(error)?;
    file.sync_all().map_err(error)?;
    drop(file);
    fs::rename(&temporary, path).map_err(error)
}

#[cfg(test)]
mod tests {
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
        }
    }
}
