//! Enrollment: one-time, expiring tokens (stored hashed) exchanged for a device certificate
//! signed from the agent's own CSR. The private key never leaves the device.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use firstline_proto::v1 as pb;
use tonic::{Request, Response, Status};

use crate::model::{now_ms, system_time_ms};
use crate::pki::CertificateAuthority;
use crate::random;
use crate::store::{EnrollError, NewDevice, Store, StoreError};

/// Every token starts with this, so a pasted secret is recognisable in logs and chat.
pub const TOKEN_PREFIX: &str = "flt_";
const TOKEN_SECRET_BYTES: usize = 32;

/// A token as shown once to the administrator.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    /// What `token list` and `token revoke` call it (see `store::staff::token_id`).
    pub id: String,
    pub expires_at: SystemTime,
}

/// The longest an enrollment token may stay valid: a rollout longer than a year should mint
/// fresh tokens rather than keep one secret alive.
pub const MAX_TOKEN_TTL: Duration = Duration::from_secs(365 * 24 * 3600);

/// Creates a one-time token that expires after `ttl`. The token ends with the pin of the CA
/// in `ca_pem` (`flt_SECRET.PIN`), so an agent given only the token can tell our collector
/// from an impostor without a CA file.
pub async fn create_token(
    store: &Store,
    ca_pem: &str,
    ttl: Duration,
) -> Result<IssuedToken, StoreError> {
    if ttl.is_zero() || ttl > MAX_TOKEN_TTL {
        return Err(StoreError::Invalid {
            what: "token TTL",
            detail: format!(
                "{} must be longer than zero and at most 365 days",
                humantime::format_duration(ttl)
            ),
        });
    }
    let expires_at = SystemTime::now()
        .checked_add(ttl)
        .ok_or_else(|| StoreError::Invalid {
            what: "token TTL",
            detail: format!(
                "{} is too far in the future",
                humantime::format_duration(ttl)
            ),
        })?;
    create_token_expiring_at(store, ca_pem, expires_at).await
}

/// Creates a one-time token that expires at `expires_at` (which may be in the past, for tests
/// and for invalidating a batch).
pub async fn create_token_expiring_at(
    store: &Store,
    ca_pem: &str,
    expires_at: SystemTime,
) -> Result<IssuedToken, StoreError> {
    let pin = crate::pki::ca_pin(ca_pem).ok_or_else(|| StoreError::Invalid {
        what: "CA certificate",
        detail: "it does not parse".to_owned(),
    })?;
    let token = format!(
        "{TOKEN_PREFIX}{}.{pin}",
        random::token_text(TOKEN_SECRET_BYTES)
    );
    let token_hash = random::sha256(&token);
    store
        .insert_token(&token_hash, now_ms(), system_time_ms(expires_at))
        .await?;
    Ok(IssuedToken {
        token,
        id: crate::store::staff::token_id(&token_hash),
        expires_at,
    })
}

/// Which unused enrollment tokens to revoke.
#[derive(Debug, Clone, Copy)]
pub enum TokenSelection<'a> {
    AllUnused,
    /// The one unused token whose id starts with this (at least 4 hex digits).
    IdPrefix(&'a str),
}

#[derive(Debug, thiserror::Error)]
pub enum RevokeTokensError {
    #[error("token id prefix {0:?} must be 4 to 12 hex digits (see `token list`)")]
    BadPrefix(String),
    #[error("no unused enrollment token has an id starting with {0:?}")]
    NoMatch(String),
    #[error("{} unused enrollment tokens have ids starting with {prefix:?} ({}); give more of the id", ids.len(), ids.join(", "))]
    Ambiguous { prefix: String, ids: Vec<String> },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Revokes unused enrollment tokens: they can no longer enroll anything. Returns the ids
/// revoked (a token used meanwhile is left alone and not listed).
pub async fn revoke_tokens(
    store: &Store,
    selection: TokenSelection<'_>,
) -> Result<Vec<String>, RevokeTokensError> {
    let unused = store.unused_tokens().await?;
    let chosen: Vec<_> = match selection {
        TokenSelection::AllUnused => unused,
        TokenSelection::IdPrefix(prefix) => {
            let prefix_lower = prefix.to_ascii_lowercase();
            if !(4..=12).contains(&prefix.len()) || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(RevokeTokensError::BadPrefix(prefix.to_owned()));
            }
            let matching: Vec<_> = unused
                .into_iter()
                .filter(|token| token.id.starts_with(&prefix_lower))
                .collect();
            match matching.len() {
                0 => return Err(RevokeTokensError::NoMatch(prefix.to_owned())),
                1 => matching,
                _ => {
                    return Err(RevokeTokensError::Ambiguous {
                        prefix: prefix.to_owned(),
                        ids: matching.into_iter().map(|token| token.id).collect(),
                    });
                }
            }
        }
    };
    let mut revoked = Vec::with_capacity(chosen.len());
    for token in chosen {
        if store.revoke_unused_token(&token.token_hash).await? {
            revoked.push(token.id);
        }
    }
    Ok(revoked)
}

/// The `firstline.v1.Enrollment` service.
#[derive(Debug, Clone)]
pub struct EnrollmentService {
    store: Store,
    authority: Arc<CertificateAuthority>,
    /// The agent port's gate, told when a connection makes its request.
    gate: Option<Arc<crate::connections::Gate>>,
}

impl EnrollmentService {
    pub fn new(
        store: Store,
        authority: Arc<CertificateAuthority>,
        gate: Option<Arc<crate::connections::Gate>>,
    ) -> Self {
        Self {
            store,
            authority,
            gate,
        }
    }
}

#[tonic::async_trait]
impl pb::enrollment_server::Enrollment for EnrollmentService {
    async fn enroll(
        &self,
        request: Request<pb::EnrollRequest>,
    ) -> Result<Response<pb::EnrollResponse>, Status> {
        let peer = request.remote_addr();
        let request = request.into_inner();
        let token = request.token.trim();
        let malformed = if !token.starts_with(TOKEN_PREFIX) {
            Some("it does not start with flt_")
        } else if token.len() > 256 {
            Some("it is longer than any token this collector prints")
        } else {
            None
        };
        if let Some(reason) = malformed {
            tracing::warn!(peer = ?peer, reason, "enrollment refused: malformed token");
            return Err(Status::unauthenticated(format!(
                "enrollment refused: the token is malformed ({reason}); use the text printed by `firstline-collector token create`"
            )));
        }
        // A cheap look at the token first, so strangers cannot make us sign for nothing.
        let token_hash = random::sha256(token);
        if let Err(refusal) = self
            .store
            .check_token(&token_hash, now_ms())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "enrollment failed in the store");
                Status::unavailable(
                    "enrollment failed: the collector's store is unavailable; try again",
                )
            })?
        {
            tracing::warn!(peer = ?peer, reason = %refusal, "enrollment refused");
            return Err(Status::unauthenticated(format!(
                "enrollment refused: {refusal}; create a new one with `firstline-collector token create`"
            )));
        }
        let hostname: String = request
            .hostname
            .chars()
            .filter(|c| !c.is_control())
            .take(255)
            .collect();
        let agent_version: String = request
            .agent_version
            .chars()
            .filter(|c| !c.is_control())
            .take(64)
            .collect();

        // Check the CSR before spending the token: a broken agent must not burn it.
        let device_id = uuid::Uuid::new_v4().to_string();
        let issued = self
            .authority
            .sign_device_csr(&request.csr_der, &device_id)
            .map_err(|e| {
                tracing::warn!(peer = ?peer, error = %e, "enrollment refused");
                Status::invalid_argument(format!("enrollment refused: {e}"))
            })?;

        let device = NewDevice {
            id: device_id.clone(),
            hostname: if hostname.is_empty() {
                "unknown".to_owned()
            } else {
                hostname
            },
            agent_version,
            certificate_serial: issued.serial_hex.clone(),
            certificate_not_after_ms: system_time_ms(issued.not_after),
        };
        match self
            .store
            .enroll_device(&random::sha256(token), now_ms(), &device)
            .await
        {
            Ok(()) => {}
            Err(EnrollError::Refused(refusal)) => {
                tracing::warn!(peer = ?peer, reason = %refusal, "enrollment refused");
                return Err(Status::unauthenticated(format!(
                    "enrollment refused: {refusal}; create a new one with `firstline-collector token create`"
                )));
            }
            Err(EnrollError::Store(e)) => {
                tracing::error!(error = %e, "enrollment failed in the store");
                return Err(Status::unavailable(
                    "enrollment failed: the collector's store is unavailable; try again",
                ));
            }
        }
        tracing::info!(device = %device_id, hostname = %device.hostname, serial = %issued.serial_hex, "device enrolled");
        // A successful enrollment proved a token: its connection keeps its slot.
        if let Some(gate) = &self.gate {
            gate.request_started(peer);
        }
        Ok(Response::new(pb::EnrollResponse {
            device_id,
            certificate_pem: issued.certificate_pem,
            ca_chain_pem: self.authority.ca_pem().to_owned(),
        }))
    }
}
