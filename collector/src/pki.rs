//! The collector's own certificate authority: created on first start, it issues the server
//! certificate and signs device CSRs; a device's id lives only in its certificate.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, DnValue, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
    SerialNumber,
};
use time::OffsetDateTime;

/// File names inside the data dir.
pub const CA_CERT_FILE: &str = "ca.pem";
const CA_KEY_FILE: &str = "ca-key.pem";
/// The gRPC port's certificate and key, kept across restarts (see `server_certificate`).
pub const SERVER_CERT_FILE: &str = "server.pem";
const SERVER_KEY_FILE: &str = "server-key.pem";

const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
const SERVER_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
/// Device certificates live a year; renewal arrives with a later protocol revision.
pub const DEVICE_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
/// Certificates are valid from this long before they are made, so that an agent whose clock
/// is behind (hours, not only minutes: a laptop off the network, a VM restored from a
/// snapshot) still accepts the collector's certificate. A certificate valid earlier than it
/// was made gives nobody anything: its key did not exist before.
const BACKDATE: Duration = Duration::from_secs(2 * 24 * 3600);
/// A kept server certificate is replaced at start once it has less than this left.
const SERVER_RENEW_BEFORE: Duration = Duration::from_secs(30 * 24 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
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
    #[error(
        "{path} exists but {missing} is missing; restore it from backup or move both away to create a new CA (every agent must then re-enroll)"
    )]
    HalfCa { path: PathBuf, missing: PathBuf },
    #[error("parsing {path}: {source}")]
    ParseCa { path: PathBuf, source: rcgen::Error },
    #[error("malformed certificate signing request: {0}")]
    MalformedCsr(String),
    #[error("signing certificate: {0}")]
    Sign(rcgen::Error),
    #[error("certificate does not name a device: {0}")]
    NoDeviceId(String),
}

/// A certificate signed for a device.
#[derive(Debug, Clone)]
pub struct IssuedCertificate {
    pub certificate_pem: String,
    pub serial_hex: String,
    pub not_after: SystemTime,
}

/// The collector's CA: its certificate (public, pinned by agents) and signing key (0600 on disk).
pub struct CertificateAuthority {
    ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .finish_non_exhaustive()
    }
}

impl CertificateAuthority {
    /// Loads the CA from `data_dir`, or creates one there on first start.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, PkiError> {
        let cert_path = data_dir.join(CA_CERT_FILE);
        let key_path = data_dir.join(CA_KEY_FILE);
        match (cert_path.exists(), key_path.exists()) {
            (true, true) => Self::load(&cert_path, &key_path),
            (false, false) => {
                let ca = Self::generate()?;
                // The key goes first: a crash in between leaves a key without a certificate,
                // which the next start reports instead of silently minting a second CA.
                write_private(&key_path, ca.issuer.key().serialize_pem().as_bytes())?;
                write_atomically(&cert_path, ca.ca_pem.as_bytes())?;
                tracing::info!(path = %cert_path.display(), "created collector certificate authority");
                Ok(ca)
            }
            (true, false) => Err(PkiError::HalfCa {
                path: cert_path,
                missing: key_path,
            }),
            (false, true) => Err(PkiError::HalfCa {
                path: key_path,
                missing: cert_path,
            }),
        }
    }

    fn load(cert_path: &Path, key_path: &Path) -> Result<Self, PkiError> {
        let ca_pem = fs::read_to_string(cert_path).map_err(|source| PkiError::Read {
            path: cert_path.to_owned(),
            source,
        })?;
        let key_pem = fs::read_to_string(key_path).map_err(|source| PkiError::Read {
            path: key_path.to_owned(),
            source,
        })?;
        let key = KeyPair::from_pem(&key_pem).map_err(|source| PkiError::ParseCa {
            path: key_path.to_owned(),
            source,
        })?;
        let issuer =
            Issuer::from_ca_cert_pem(&ca_pem, key).map_err(|source| PkiError::ParseCa {
                path: cert_path.to_owned(),
                source,
            })?;
        Ok(Self { ca_pem, issuer })
    }

    fn generate() -> Result<Self, PkiError> {
        let key = KeyPair::generate().map_err(PkiError::Sign)?;
        let mut params = CertificateParams::default();
        // A unique name per CA: verifiers look issuers up by name, and two CAs sharing one would
        // turn "not our CA" into a confusing signature failure.
        params.distinguished_name = distinguished_name(&format!(
            "Firstline collector CA {}",
            crate::random::token_text(4)
        ));
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.serial_number = Some(random_serial());
        set_validity(&mut params, CA_VALIDITY);
        let certificate = params.self_signed(&key).map_err(PkiError::Sign)?;
        Ok(Self {
            ca_pem: certificate.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// PEM of the CA certificate, which agents pin.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The server certificate and key (PEM) for the gRPC port, valid for `names` (DNS names or
    /// IP addresses) plus the loopback names: the one kept in `data_dir` while it is for these
    /// names, from this CA, for its key, and more than 30 days from expiry; otherwise a new
    /// one, written there (key 0600) for the next start. Keeping it means a restart changes
    /// nothing an agent sees: an agent whose clock is behind keeps connecting, where a
    /// certificate made at each start would be "not valid yet" to it. A kept pair that cannot
    /// be read or does not fit is replaced, and said so in the log.
    pub fn server_certificate(
        &self,
        data_dir: &Path,
        names: &[String],
    ) -> Result<(String, String), PkiError> {
        let names = server_names(names);
        let cert_path = data_dir.join(SERVER_CERT_FILE);
        let key_path = data_dir.join(SERVER_KEY_FILE);
        match self.kept_server_certificate(&cert_path, &key_path, &names, SystemTime::now()) {
            Ok(Some(kept)) => return Ok(kept),
            Ok(None) => {}
            Err(reason) => {
                tracing::warn!(path = %cert_path.display(), %reason, "issuing a new server certificate");
            }
        }
        let (certificate_pem, key_pem) = self.issue_server_certificate(&names)?;
        // Key first: a crash in between leaves a certificate that does not match it, which the
        // next start replaces.
        write_private(&key_path, key_pem.as_bytes())?;
        write_atomically(&cert_path, certificate_pem.as_bytes())?;
        tracing::info!(path = %cert_path.display(), names = ?names, "issued the collector's server certificate");
        Ok((certificate_pem, key_pem))
    }

    /// The kept pair if it is still good for `names` at `now`; `Ok(None)` when there is none
    /// yet, `Err` with the reason it is not kept.
    fn kept_server_certificate(
        &self,
        cert_path: &Path,
        key_path: &Path,
        names: &[String],
        now: SystemTime,
    ) -> Result<Option<(String, String)>, String> {
        let read = |path: &Path| match fs::read_to_string(path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("reading {}: {e}", path.display())),
        };
        let (Some(certificate_pem), Some(key_pem)) = (read(cert_path)?, read(key_path)?) else {
            return Ok(None);
        };
        let (_, pem) = x509_parser::pem::parse_x509_pem(certificate_pem.as_bytes())
            .map_err(|e| format!("{}: not a PEM certificate: {e}", cert_path.display()))?;
        let (_, certificate) = x509_parser::parse_x509_certificate(&pem.contents)
            .map_err(|e| format!("{}: not a certificate: {e}", cert_path.display()))?;
        let key = KeyPair::from_pem(&key_pem)
            .map_err(|e| format!("{}: not a private key: {e}", key_path.display()))?;
        if certificate.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return Err(format!(
                "{} is not the certificate of {}",
                cert_path.display(),
                key_path.display()
            ));
        }
        if !self.signed(&certificate) {
            return Err("it was not issued by this collector's CA".to_owned());
        }
        let mut held = certificate_names(&certificate);
        let mut wanted = names.to_vec();
        held.sort();
        wanted.sort();
        if held != wanted {
            return Err(format!(
                "it is for {held:?}, and the collector is now configured for {wanted:?}"
            ));
        }
        let now_secs = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| {
                i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
            });
        let validity = certificate.validity();
        if validity.not_before.timestamp() > now_secs {
            return Err(format!(
                "it is not valid until {} (this collector's clock went back?)",
                validity.not_before
            ));
        }
        let renew_secs = i64::try_from(SERVER_RENEW_BEFORE.as_secs()).unwrap_or(i64::MAX);
        if validity.not_after.timestamp() - now_secs < renew_secs {
            return Err(format!("it expires {}: renewing", validity.not_after));
        }
        Ok(Some((certificate_pem, key_pem)))
    }

    /// Whether this CA signed `certificate` (the CA's ECDSA P-256 key, as `generate` makes).
    fn signed(&self, certificate: &x509_parser::certificate::X509Certificate<'_>) -> bool {
        let ecdsa_with_sha256 = x509_parser::oid_registry::OID_SIG_ECDSA_WITH_SHA256;
        if certificate.signature_algorithm.algorithm != ecdsa_with_sha256 {
            return false;
        }
        let public_key = ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_ASN1,
            self.issuer.key().public_key_raw(),
        );
        public_key
            .verify(
                certificate.tbs_certificate.as_ref(),
                certificate.signature_value.data.as_ref(),
            )
            .is_ok()
    }

    /// A new server certificate and key (PEM) for `names` (as `server_names` completes them).
    fn issue_server_certificate(&self, names: &[String]) -> Result<(String, String), PkiError> {
        let mut params = CertificateParams::new(names.to_vec()).map_err(PkiError::Sign)?;
        params.distinguished_name = distinguished_name("Firstline collector");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.serial_number = Some(random_serial());
        params.use_authority_key_identifier_extension = true;
        set_validity(&mut params, SERVER_VALIDITY);
        let key = KeyPair::generate().map_err(PkiError::Sign)?;
        let certificate = params
            .signed_by(&key, &self.issuer)
            .map_err(PkiError::Sign)?;
        Ok((certificate.pem(), key.serialize_pem()))
    }

    /// Parses and verifies a DER CSR (its self-signature proves possession of the key) and
    /// signs a client certificate for `device_id`. Whatever names the CSR asks for are ignored:
    /// the collector alone decides the identity.
    pub fn sign_device_csr(
        &self,
        csr_der: &[u8],
        device_id: &str,
    ) -> Result<IssuedCertificate, PkiError> {
        if csr_der.is_empty() {
            return Err(PkiError::MalformedCsr("the CSR is empty".to_owned()));
        }
        let request = CertificateSigningRequestParams::from_der(&csr_der.into())
            .map_err(|e| PkiError::MalformedCsr(e.to_string()))?;
        let mut params = CertificateParams::default();
        params.distinguished_name = distinguished_name(device_id);
        params.subject_alt_names = vec![SanType::URI(
            format!("urn:firstline:device:{device_id}")
                .try_into()
                .map_err(PkiError::Sign)?,
        )];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let serial = random_serial();
        let serial_hex = serial
            .to_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        params.serial_number = Some(serial);
        params.use_authority_key_identifier_extension = true;
        let not_after = set_validity(&mut params, DEVICE_VALIDITY);
        let certificate = params
            .signed_by(&request.public_key, &self.issuer)
            .map_err(PkiError::Sign)?;
        Ok(IssuedCertificate {
            certificate_pem: certificate.pem(),
            serial_hex,
            not_after,
        })
    }
}

/// Hex characters of the CA pin: the start of the SHA-256 of the CA certificate (DER). 128
/// bits are far beyond any second-preimage search.
pub const PIN_HEX_CHARS: usize = 32;

/// The pin agents check the CA against when they were given only a token.
pub fn ca_pin(ca_pem: &str) -> Option<String> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(ca_pem.as_bytes()).ok()?;
    let digest = ring::digest::digest(&ring::digest::SHA256, &pem.contents);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    Some(hex[..PIN_HEX_CHARS].to_owned())
}

/// The device id carried in a client certificate's subject common name. The TLS layer has
/// already verified the chain against our CA; this only reads the name.
pub fn device_id_from_certificate(der: &[u8]) -> Result<String, PkiError> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| PkiError::NoDeviceId(e.to_string()))?;
    let common_name = certificate
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .ok_or_else(|| PkiError::NoDeviceId("no subject common name".to_owned()))?;
    uuid::Uuid::parse_str(common_name)
        .map(|id| id.to_string())
        .map_err(|_| {
            PkiError::NoDeviceId(format!("common name {common_name:?} is not a device id"))
        })
}

/// The names a server certificate is for: the loopback names, then the configured ones.
fn server_names(names: &[String]) -> Vec<String> {
    let mut all_names: Vec<String> = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    for name in names {
        if !all_names.contains(name) {
            all_names.push(name.clone());
        }
    }
    all_names
}

/// The DNS names and IP addresses a certificate is for, as `server_names` spells them.
fn certificate_names(certificate: &x509_parser::certificate::X509Certificate<'_>) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Ok(Some(alternative)) = certificate.subject_alternative_name() else {
        return Vec::new();
    };
    alternative
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some((*dns).to_owned()),
            GeneralName::IPAddress(bytes) => match bytes.len() {
                4 => <[u8; 4]>::try_from(*bytes)
                    .ok()
                    .map(|octets| std::net::IpAddr::from(octets).to_string()),
                16 => <[u8; 16]>::try_from(*bytes)
                    .ok()
                    .map(|octets| std::net::IpAddr::from(octets).to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn distinguished_name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(
        DnType::OrganizationName,
        DnValue::Utf8String("Firstline".to_owned()),
    );
    name.push(
        DnType::CommonName,
        DnValue::Utf8String(common_name.to_owned()),
    );
    name
}

/// Sets not-before `BACKDATE` in the past and returns not-after.
fn set_validity(params: &mut CertificateParams, validity: Duration) -> SystemTime {
    let now = OffsetDateTime::now_utc();
    params.not_before = now - BACKDATE;
    params.not_after = now + validity;
    SystemTime::now() + validity
}

fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    crate::random::fill(&mut bytes);
    // A positive INTEGER with no leading zero byte.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&bytes)
}

/// Writes `contents` to `path` via a temporary file and a rename, so readers never see half.
pub fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), PkiError> {
    write_with_mode(path, contents, 0o644)
}

fn write_private(path: &Path, contents: &[u8]) -> Result<(), PkiError> {
    write_with_mode(path, contents, 0o600)
}

fn write_with_mode(path: &Path, contents: &[u8], mode: u32) -> Result<(), PkiError> {
    let error = |source| PkiError::Write {
        path: path.to_owned(),
        source,
    };
    let temporary = path.with_extension("tmp");
    // A leftover from a crash may carry other permissions: start from a new file.
    match fs::remove_file(&temporary) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(PkiError::Write {
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
    fn ca_survives_restart_and_signs_csrs_for_the_given_device() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = CertificateAuthority::load_or_create(dir.path()).expect("create CA");
        let second = CertificateAuthority::load_or_create(dir.path()).expect("load CA");
        assert_eq!(first.ca_pem(), second.ca_pem());

        let device_key = KeyPair::generate().expect("key");
        let mut request = CertificateParams::default();
        // A hostile CSR asking for another identity gets the collector's choice anyway.
        request.distinguished_name = distinguished_name("someone-else");
        let csr = request.serialize_request(&device_key).expect("csr");
        let device_id = uuid::Uuid::new_v4().to_string();
        let issued = second.sign_device_csr(csr.der(), &device_id).expect("sign");
        let der = pem_to_der(&issued.certificate_pem);
        assert_eq!(
            device_id_from_certificate(&der).expect("device id"),
            device_id
        );
    }

    #[test]
    fn garbage_csr_is_refused_with_a_clear_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = CertificateAuthority::load_or_create(dir.path()).expect("create CA");
        for csr in [&b""[..], b"not a csr", &[0x30, 0x82, 0x01]] {
            let error = ca.sign_device_csr(csr, "x").expect_err("must refuse");
            assert!(
                error
                    .to_string()
                    .starts_with("malformed certificate signing request"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_half_present_ca_is_reported_not_replaced() {
        let dir = tempfile::tempdir().expect("temp dir");
        CertificateAuthority::load_or_create(dir.path()).expect("create CA");
        fs::remove_file(dir.path().join(CA_KEY_FILE)).expect("remove key");
        let error = CertificateAuthority::load_or_create(dir.path()).expect_err("must refuse");
        assert!(matches!(error, PkiError::HalfCa { .. }), "{error}");
    }

    #[test]
    fn the_server_certificate_is_kept_across_restarts_and_replaced_when_it_no_longer_fits() {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = CertificateAuthority::load_or_create(dir.path()).expect("create CA");
        let names = vec!["collector.example.com".to_owned()];
        let first = ca.server_certificate(dir.path(), &names).expect("issue");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(SERVER_KEY_FILE))
                .expect("key file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "the server key is private");
        }
        // A restart (the CA loaded again) presents the very same certificate.
        let reloaded = CertificateAuthority::load_or_create(dir.path()).expect("load CA");
        assert_eq!(
            reloaded
                .server_certificate(dir.path(), &names)
                .expect("kept"),
            first
        );
        // Valid from well before it was made: an agent hours behind accepts it.
        let der = pem_to_der(&first.0);
        let (_, parsed) = x509_parser::parse_x509_certificate(&der).expect("certificate");
        let now = OffsetDateTime::now_utc().unix_timestamp();
        assert!(
            now - parsed.validity().not_before.timestamp() >= 24 * 3600,
            "back-dated by a day at least"
        );

        // Another name configured: a new certificate for it.
        let renamed = vec!["collector.example.org".to_owned()];
        let second = ca
            .server_certificate(dir.path(), &renamed)
            .expect("reissue");
        assert_ne!(second, first);
        assert_eq!(
            ca.server_certificate(dir.path(), &renamed).expect("kept"),
            second
        );

        // Another CA (the data dir's CA replaced): not ours, replaced.
        let other_dir = tempfile::tempdir().expect("temp dir");
        let other = CertificateAuthority::load_or_create(other_dir.path()).expect("other CA");
        let third = other
            .server_certificate(dir.path(), &renamed)
            .expect("reissue");
        assert_ne!(third, second);

        // A damaged certificate or a key that is not its own: replaced, never an error.
        fs::write(dir.path().join(SERVER_CERT_FILE), "garbage").expect("damage");
        let fourth = other
            .server_certificate(dir.path(), &renamed)
            .expect("reissue");
        assert_ne!(fourth, third);
        fs::write(dir.path().join(SERVER_KEY_FILE), &first.1).expect("swap key");
        let fifth = other
            .server_certificate(dir.path(), &renamed)
            .expect("reissue");
        assert_ne!(fifth.1, first.1);
    }

    #[test]
    fn a_server_certificate_near_its_expiry_or_from_the_future_is_renewed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = CertificateAuthority::load_or_create(dir.path()).expect("create CA");
        let names = server_names(&[]);
        ca.server_certificate(dir.path(), &[]).expect("issue");
        let cert_path = dir.path().join(SERVER_CERT_FILE);
        let key_path = dir.path().join(SERVER_KEY_FILE);
        let day = Duration::from_secs(24 * 3600);
        let kept = |now| ca.kept_server_certificate(&cert_path, &key_path, &names, now);
        assert!(matches!(kept(SystemTime::now()), Ok(Some(_))));
        let reason = kept(SystemTime::now() + SERVER_VALIDITY - 10 * day).expect_err("renew");
        assert!(reason.contains("renewing"), "{reason}");
        let reason = kept(SystemTime::now() - 3 * day).expect_err("from the future");
        assert!(reason.contains("not valid until"), "{reason}");
    }

    fn pem_to_der(pem: &str) -> Vec<u8> {
        let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("pem");
        parsed.contents
    }
}
