//! `firstline-agent enroll`: make a key here, send only a CSR and the one-time token, keep the
//! signed certificate and the collector's CA in the state dir.

use std::path::{Path, PathBuf};
use std::time::Duration;

use firstline_proto::v1 as pb;
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};

use crate::identity::{self, Enrollment, Identity, IdentityError};
use crate::inventory;
use crate::uplink::channel::{self, ChannelError};

const ENROLL_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct EnrollOptions {
    pub collector_url: String,
    pub token: String,
    /// PEM of the collector's CA; when None, `ca.pem` already in the state dir is used.
    pub ca_file: Option<PathBuf>,
    pub state_dir: PathBuf,
    /// Replace an existing identity (the collector will see a new device).
    pub force: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error(
        "already enrolled as device {device_id} with {collector_url} (state dir {state_dir}); pass --force to replace this identity (the collector will see a new device)"
    )]
    AlreadyEnrolled {
        device_id: String,
        collector_url: String,
        state_dir: PathBuf,
    },
    #[error(
        "no CA to trust: the token carries no CA pin; pass --ca-file with the collector's CA certificate (the collector writes it to DATA_DIR/ca.pem), or place it at {path}"
    )]
    NoCa { path: PathBuf },
    #[error("reading CA file {path}: {reason}")]
    CaFile { path: PathBuf, reason: String },
    #[error("the token is empty")]
    EmptyToken,
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// The collector's own words, e.g. "enrollment refused: the enrollment token expired; …".
    #[error("{0}")]
    Refused(String),
    #[error("the collector did not answer within {}s", ENROLL_TIMEOUT.as_secs())]
    Timeout,
    #[error("the collector's answer is unusable: {0}")]
    BadAnswer(String),
    #[error("making the device key: {0}")]
    Key(rcgen::Error),
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

/// Enrolls this device and saves its identity.
pub async fn enroll(options: &EnrollOptions) -> Result<Identity, EnrollError> {
    match Identity::load(&options.state_dir) {
        Ok(existing) if !options.force => {
            return Err(EnrollError::AlreadyEnrolled {
                device_id: existing.enrollment.device_id,
                collector_url: existing.enrollment.collector_url,
                state_dir: options.state_dir.clone(),
            });
        }
        _ => {}
    }
    let token = options.token.trim();
    if token.is_empty() {
        return Err(EnrollError::EmptyToken);
    }
    let collector_url = channel::normalize_collector_url(&options.collector_url)?;
    // Which CA to trust: the file given, else the one the token's pin names (`flt_SECRET.PIN`),
    // else one an installer left in the state dir.
    let pin = token
        .rsplit_once('.')
        .map(|(_, pin)| pin)
        .filter(|pin| pin.len() >= 16 && pin.bytes().all(|b| b.is_ascii_hexdigit()));
    let ca_pem = match (&options.ca_file, pin) {
        (Some(path), _) => read_ca(Some(path), &options.state_dir)?,
        (None, Some(pin)) => channel::fetch_pinned_ca(&collector_url, pin).await?,
        (None, None) => read_ca(None, &options.state_dir)?,
    };

    let key = KeyPair::generate().map_err(EnrollError::Key)?;
    let hostname = inventory::hostname();
    let mut request = CertificateParams::default();
    request.distinguished_name = DistinguishedName::new();
    request
        .distinguished_name
        .push(DnType::CommonName, hostname.clone());
    let csr = request.serialize_request(&key).map_err(EnrollError::Key)?;

    let channel = channel::connect(&collector_url, &ca_pem, None).await?;
    let mut client = pb::enrollment_client::EnrollmentClient::new(channel);
    let call = client.enroll(pb::EnrollRequest {
        token: token.to_owned(),
        csr_der: csr.der().to_vec(),
        hostname,
        agent_version: crate::AGENT_VERSION.to_owned(),
    });
    let response = match tokio::time::timeout(ENROLL_TIMEOUT, call).await {
        Err(_) => return Err(EnrollError::Timeout),
        Ok(Err(status)) if is_refusal(status.code()) => {
            return Err(EnrollError::Refused(status.message().to_owned()));
        }
        Ok(Err(status)) => {
            return Err(ChannelError::Connect {
                url: collector_url,
                detail: channel::describe_status(&status),
            }
            .into());
        }
        Ok(Ok(response)) => response.into_inner(),
    };
    check_certificate(&response, &key)?;

    let identity = Identity {
        state_dir: options.state_dir.clone(),
        enrollment: Enrollment {
            device_id: response.device_id,
            collector_url,
            enrolled_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now())
                .to_string(),
        },
        key_pem: key.serialize_pem(),
        certificate_pem: response.certificate_pem,
        // Keep pinning the CA we were given; the collector's copy is only compared.
        ca_pem,
    };
    identity.save()?;
    tracing::info!(device = %identity.device_id(), "enrolled");
    Ok(identity)
}

fn is_refusal(code: tonic::Code) -> bool {
    matches!(
        code,
        tonic::Code::Unauthenticated | tonic::Code::PermissionDenied | tonic::Code::InvalidArgument
    )
}

fn read_ca(ca_file: Option<&Path>, state_dir: &Path) -> Result<String, EnrollError> {
    let path = match ca_file {
        Some(path) => path.to_owned(),
        None => {
            let path = state_dir.join(identity::CA_FILE);
            if !path.exists() {
                return Err(EnrollError::NoCa { path });
            }
            path
        }
    };
    let text = std::fs::read_to_string(&path).map_err(|e| EnrollError::CaFile {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    match x509_parser::pem::parse_x509_pem(text.as_bytes()) {
        Ok((_, pem)) if pem.label == "CERTIFICATE" && pem.parse_x509().is_ok() => Ok(text),
        _ => Err(EnrollError::CaFile {
            path,
            reason: "it is not a PEM certificate".to_owned(),
        }),
    }
}

/// The certificate must be for our key and name the device id we were given.
fn check_certificate(response: &pb::EnrollResponse, key: &KeyPair) -> Result<(), EnrollError> {
    let bad = |reason: &str| EnrollError::BadAnswer(reason.to_owned());
    let (_, pem) = x509_parser::pem::parse_x509_pem(response.certificate_pem.as_bytes())
        .map_err(|_| bad("the certificate is not PEM"))?;
    let certificate = pem
        .parse_x509()
        .map_err(|_| bad("the certificate does not parse"))?;
    if certificate.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
        return Err(bad("the certificate is not for this device's key"));
    }
    let common_name = certificate
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok());
    if common_name != Some(response.device_id.as_str()) || response.device_id.is_empty() {
        return Err(bad(
            "the certificate does not name the device id it came with",
        ));
    }
    Ok(())
}
