//! Who is asking: an API key (`Authorization: Bearer flk_…`, for scripts) or a signed-in
//! session (the `firstline_session` cookie, for people, with a CSRF token required on every
//! state-changing request), and whether their role may do what they ask.

use std::net::{IpAddr, SocketAddr};

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::{API_KEY_PREFIX, HttpState, error};
use crate::auth;
use crate::model::{Role, now_ms};
use crate::random;

/// The header a signed-in browser sends its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The caller behind a request, once verified.
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub role: Role,
    /// The hash of the session's token when a person signed in (None for an API key).
    pub session: Option<Vec<u8>>,
}

/// Accepts an API key or a session; a session must also show its CSRF token on anything
/// that changes state.
pub async fn authenticate(
    State(state): State<HttpState>,
    headers: HeaderMap,
    mut request: Request,
    next: Next,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    if let Some(key) = bearer {
        if !key.starts_with(API_KEY_PREFIX) {
            return error(
                StatusCode::UNAUTHORIZED,
                "that is not a Firstline API key (flk_…)",
            );
        }
        return match state.store.api_key(&random::sha256(key)).await {
            Ok(Some((name, role))) => {
                request.extensions_mut().insert(Caller {
                    name,
                    role,
                    session: None,
                });
                next.run(request).await
            }
            Ok(None) => {
                tracing::warn!("API request with an unknown or revoked key");
                error(
                    StatusCode::UNAUTHORIZED,
                    "the API key is unknown or revoked",
                )
            }
            Err(e) => super::store_unavailable("checking an API key", &e),
        };
    }
    let Some(token) = session_cookie(&headers) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "sign in (POST /login) or send an API key as `Authorization: Bearer flk_…` (create one with `firstline-collector apikey create`)",
        );
    };
    let token_hash = random::sha256(&token);
    let session = match state.store.session(&token_hash, now_ms()).await {
        Ok(Some(session)) => session,
        Ok(None) => return error(StatusCode::UNAUTHORIZED, "the session ended; sign in again"),
        Err(e) => return super::store_unavailable("checking a session", &e),
    };
    let changes_state = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if changes_state && !auth::csrf_matches(csrf_header(&headers), &session.csrf_token) {
        tracing::warn!(user = %session.user_name, "request without a valid CSRF token refused");
        return error(
            StatusCode::FORBIDDEN,
            "the CSRF token is missing or wrong; reload the page",
        );
    }
    request.extensions_mut().insert(Caller {
        name: session.user_name,
        role: session.role,
        session: Some(token_hash),
    });
    next.run(request).await
}

/// Refuses callers below `minimum`.
pub async fn require(minimum: Role, request: Request, next: Next) -> Response {
    let allowed = request
        .extensions()
        .get::<Caller>()
        .is_some_and(|caller| caller.role >= minimum);
    if allowed {
        next.run(request).await
    } else {
        error(
            StatusCode::FORBIDDEN,
            format!("this needs the {} role", minimum.as_str()),
        )
    }
}

fn csrf_header(headers: &HeaderMap) -> Option<&str> {
    headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok())
}

pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == auth::SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    name: String,
    password: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct SignedIn {
    pub(crate) name: String,
    pub(crate) role: Role,
    /// Send this as `X-CSRF-Token` on every request that changes something.
    pub(crate) csrf_token: String,
}

/// `POST /login`: a session cookie for a right name and password. Failures slow the account
/// down and, past a limit, stop the address (see `crate::auth`); each is logged with where it
/// came from.
pub async fn login(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Json<SignIn>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(SignIn { name, password })) = body else {
        return error(
            StatusCode::BAD_REQUEST,
            "send {\"name\": \"…\", \"password\": \"…\"}",
        );
    };
    let client = client_address(&state, peer, &headers);
    match sign_in(&state, name, password, client).await {
        Ok((cookie, signed_in)) => {
            let mut response = Json(signed_in).into_response();
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            response
        }
        Err(refusal) => refusal,
    }
}

/// Where a request came from: the peer, or the client behind it when the peer is one of the
/// `trusted_proxies` (from `X-Forwarded-For`).
pub(crate) fn client_address(state: &HttpState, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    crate::net::client_address(
        peer.ip(),
        headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok()),
        &state.trusted_proxies,
    )
}

/// The 429 answer to an attempt refused by a limit, saying when to try again.
fn too_many(retry_after_ms: i64, message: &str) -> Response {
    let seconds = (retry_after_ms.max(0) + 999) / 1000;
    let mut response = error(
        StatusCode::TOO_MANY_REQUESTS,
        format!("{message}; try again in {}", wait_text(seconds)),
    );
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// "45 seconds", "3 minutes".
pub(crate) fn wait_text(seconds: i64) -> String {
    match seconds {
        ..=1 => "a second".to_owned(),
        2..=90 => format!("{seconds} seconds"),
        _ => format!("{} minutes", (seconds + 59) / 60),
    }
}

/// Sign-ins refused until a time, by address, kept in memory: a flood of attempts from a
/// refused address is answered without writing each one to the database, where it would compete with ingest for SQLite's single
/// writer. The database stays the truth; this only repeats refusals it already made.
#[derive(Debug, Default)]
pub struct SignInHolds {
    until_ms: std::sync::Mutex<std::collections::HashMap<String, (i64, &'static str)>>,
}

/// Holds kept at once, at most; expired ones are dropped first.
const MAX_SIGN_IN_HOLDS: usize = 100_000;

impl SignInHolds {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, (i64, &'static str)>> {
        // A map of single inserts and removes: usable after a panic elsewhere.
        self.until_ms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The refusal still in force for any of `keys`: (until when, why).
    fn held(&self, keys: &[&str], now: i64) -> Option<(i64, &'static str)> {
        let holds = self.lock();
        keys.iter()
            .filter_map(|key| holds.get(*key))
            .filter(|(until, _)| *until > now)
            .max_by_key(|(until, _)| *until)
            .copied()
    }

    fn hold(&self, key: String, until_ms: i64, why: &'static str, now: i64) {
        let mut holds = self.lock();
        if holds.len() >= MAX_SIGN_IN_HOLDS {
            holds.retain(|_, (until, _)| *until > now);
        }
        if holds.len() < MAX_SIGN_IN_HOLDS {
            holds.insert(key, (until_ms, why));
        }
    }
}

const FROM_ADDRESS: &str = "too many failed sign-ins from your address";
const FOR_ACCOUNT: &str = "too many failed sign-ins for this account";

/// Counts a password check for `name` from `client` before it happens (so guesses sent at
/// once all count) and applies the limits: the account's backoff, then the address's cap.
/// Returns the attempt's id; an attempt refused here is set aside so it does not lengthen the
/// account's wait (a flood of refused guesses cannot keep the owner out).
async fn admit_attempt(
    state: &HttpState,
    name: &str,
    client: &str,
    now: i64,
) -> Result<String, Response> {
    // An address already refused is refused again from memory. (An account's backoff is not
    // held here: its refused attempts still count against their address, which is what stops
    // one address from flooding one account.)
    let peer_key = format!("peer {client}");
    if let Some((until, why)) = state.sign_in_holds.held(&[&peer_key], now) {
        return Err(too_many(until - now, why));
    }
    let attempt_id = random::token_text(12);
    if let Err(e) = state
        .store
        .record_login_attempt(name, client, &attempt_id, now)
        .await
    {
        return Err(super::store_unavailable("recording a sign-in attempt", &e));
    }
    let attempts = match state
        .store
        .login_attempts_since(name, client, &attempt_id, now - auth::FAILURE_WINDOW_MS)
        .await
    {
        Ok(attempts) => attempts,
        Err(e) => return Err(super::store_unavailable("counting sign-in attempts", &e)),
    };
    let backoff_ms = auth::account_backoff_ms(attempts.for_account);
    let account_wait_ms = attempts
        .last_for_account_at_ms
        .map_or(0, |last| last.saturating_add(backoff_ms) - now);
    let refusal = if attempts.from_peer >= auth::MAX_FAILURES_FROM_PEER {
        tracing::warn!(user = ?name, peer = %client, from_peer = attempts.from_peer, "sign-in refused: too many attempts from this address");
        state
            .sign_in_holds
            .hold(peer_key, now + auth::FAILURE_WINDOW_MS, FROM_ADDRESS, now);
        Some(too_many(auth::FAILURE_WINDOW_MS, FROM_ADDRESS))
    } else if backoff_ms > 0 && account_wait_ms > 0 {
        tracing::warn!(user = ?name, peer = %client, failures = attempts.for_account, wait_ms = account_wait_ms, "sign-in refused: the account is backing off after failures");
        Some(too_many(account_wait_ms, FOR_ACCOUNT))
    } else {
        None
    };
    match refusal {
        Some(refusal) => {
            if let Err(e) = state.store.set_login_attempt_aside(&attempt_id, now).await {
                tracing::error!(error = %e, "setting a refused sign-in attempt aside");
            }
            Err(refusal)
        }
        None => Ok(attempt_id),
    }
}

/// Whether `password` is `name`'s (an enabled user's): their role if so. Argon2 is slow and
/// large on purpose: a few checks at a time, on blocking threads. Unknown names take as long.
async fn check_password(
    state: &HttpState,
    name: &str,
    password: String,
) -> Result<Option<Role>, Response> {
    let credentials = match state.store.user_credentials(name).await {
        Ok(credentials) => credentials,
        Err(e) => return Err(super::store_unavailable("reading a user", &e)),
    };
    static CHECKS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let checks = CHECKS.get_or_init(|| tokio::sync::Semaphore::new(auth::CONCURRENT_CHECKS));
    let Ok(_turn) = checks.acquire().await else {
        return Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the collector is stopping",
        ));
    };
    Ok(tokio::task::spawn_blocking(move || match credentials {
        Some((role, hash)) => auth::verify_password(&password, &hash).then_some(role),
        None => {
            auth::burn_time(&password);
            None
        }
    })
    .await
    .ok()
    .flatten())
}

fn plausible_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= auth::MAX_NAME_CHARS
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "._-@".contains(c))
}

/// Checks a name and password and starts a session: the cookie to set and who signed in.
/// Shared by the JSON sign-in and the web UI's form.
pub(crate) async fn sign_in(
    state: &HttpState,
    name: String,
    password: String,
    client: IpAddr,
) -> Result<(HeaderValue, SignedIn), Response> {
    let now = now_ms();
    let peer_text = client.to_string();
    if !plausible_name(&name) || password.len() > auth::MAX_PASSWORD_BYTES {
        tracing::warn!(user = ?name, peer = %peer_text, "failed sign-in (implausible name or password)");
        return Err(error(StatusCode::UNAUTHORIZED, "wrong name or password"));
    }
    admit_attempt(state, &name, &peer_text, now).await?;
    let Some(role) = check_password(state, &name, password).await? else {
        tracing::warn!(user = ?name, peer = %peer_text, "failed sign-in");
        return Err(error(StatusCode::UNAUTHORIZED, "wrong name or password"));
    };
    if let Err(e) = state.store.clear_login_attempts(&name, &peer_text).await {
        tracing::error!(error = %e, "forgetting sign-in attempts");
    }
    let (token, csrf_token) = auth::new_session_tokens();
    if let Err(e) = state
        .store
        .create_session(
            &random::sha256(&token),
            &name,
            &csrf_token,
            now,
            now + auth::SESSION_TTL_MS,
        )
        .await
    {
        return Err(super::store_unavailable("starting a session", &e));
    }
    tracing::info!(user = ?name, peer = %peer_text, "signed in");
    let cookie = format!(
        "{}={token}; Path=/; HttpOnly;{} SameSite=Strict; Max-Age={}",
        auth::SESSION_COOKIE,
        auth::secure_attribute(state.public_url.starts_with("https://")),
        auth::SESSION_TTL_MS / 1000
    );
    let cookie = HeaderValue::from_str(&cookie).map_err(|_| {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "could not set the session cookie",
        )
    })?;
    Ok((
        cookie,
        SignedIn {
            name,
            role,
            csrf_token,
        },
    ))
}

/// A signed-in person changes their own password, proving the current one (which counts
/// against the account like a sign-in, so a borrowed session cannot guess it quickly). Every
/// other session of theirs ends. Shared by the REST API and the web UI's form.
pub(crate) async fn change_own_password(
    state: &HttpState,
    caller: &Caller,
    client: IpAddr,
    current_password: String,
    new_password: String,
) -> Result<(), Response> {
    let Some(session) = &caller.session else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "an API key has no password: sign in as the person, or revoke the key and create another",
        ));
    };
    let now = now_ms();
    let peer_text = client.to_string();
    if current_password.len() > auth::MAX_PASSWORD_BYTES
        || new_password.len() > auth::MAX_PASSWORD_BYTES
    {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!(
                "a password must be at most {} bytes",
                auth::MAX_PASSWORD_BYTES
            ),
        ));
    }
    admit_attempt(state, &caller.name, &peer_text, now).await?;
    if check_password(state, &caller.name, current_password)
        .await?
        .is_none()
    {
        tracing::warn!(user = %caller.name, peer = %peer_text, "password change refused: wrong current password");
        return Err(error(
            StatusCode::FORBIDDEN,
            "the current password is wrong",
        ));
    }
    if let Err(e) = state
        .store
        .clear_login_attempts(&caller.name, &peer_text)
        .await
    {
        tracing::error!(error = %e, "forgetting sign-in attempts");
    }
    set_password(state, &caller.name, new_password, Some(session)).await?;
    tracing::warn!(user = %caller.name, by = %caller.name, peer = %peer_text, "password changed; the user's other sessions ended");
    Ok(())
}

/// Hashes `password` (refusing one too short) and stores it for `name`, ending every
/// session of theirs but `keep_session`.
pub(crate) async fn set_password(
    state: &HttpState,
    name: &str,
    password: String,
    keep_session: Option<&[u8]>,
) -> Result<(), Response> {
    let hashed = match tokio::task::spawn_blocking(move || auth::hash_password(&password)).await {
        Ok(Ok(hash)) => hash,
        Ok(Err(e @ auth::PasswordError::TooShort)) => {
            return Err(error(StatusCode::BAD_REQUEST, format!("new password: {e}")));
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "hashing a password");
            return Err(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "hashing the password failed",
            ));
        }
        Err(_) => {
            return Err(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "hashing the password failed",
            ));
        }
    };
    match state
        .store
        .set_user_password(name, &hashed, keep_session)
        .await
    {
        Ok(true) => Ok(()),
        Ok(false) => Err(error(
            StatusCode::NOT_FOUND,
            format!("no user named {name:?}"),
        )),
        Err(e) => Err(super::store_unavailable("changing a password", &e)),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// `POST /api/v1/me/password`: a signed-in person changes their own password; their other
/// sessions end, this one goes on.
#[utoipa::path(post, path = "/me/password", tag = "access",
    request_body = PasswordChange,
    responses((status = 200, description = "Changed; every other session of the user ended"),
        (status = 400, body = super::ApiError), (status = 403, description = "The current password is wrong", body = super::ApiError),
        (status = 429, description = "Too many wrong passwords for this account; see Retry-After", body = super::ApiError)),
    security(("session" = [])))]
pub async fn change_my_password(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    axum::extract::Extension(caller): axum::extract::Extension<Caller>,
    headers: HeaderMap,
    body: Result<Json<PasswordChange>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(PasswordChange {
        current_password,
        new_password,
    })) = body
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "send {\"current_password\": \"…\", \"new_password\": \"…\"}",
        );
    };
    let client = client_address(&state, peer, &headers);
    match change_own_password(&state, &caller, client, current_password, new_password).await {
        Ok(()) => Json(serde_json::json!({ "name": caller.name, "password_changed": true }))
            .into_response(),
        Err(refusal) => refusal,
    }
}

/// The signed-in session behind a browser request, if any (no CSRF check: reads only).
/// With the session's CSRF token and what the person chose to read pages in.
pub(crate) async fn session_of(
    state: &HttpState,
    headers: &HeaderMap,
) -> Option<(Caller, String, crate::store::staff::Preferences)> {
    let token = session_cookie(headers)?;
    let token_hash = random::sha256(&token);
    let session = state.store.session(&token_hash, now_ms()).await.ok()??;
    Some((
        Caller {
            name: session.user_name,
            role: session.role,
            session: Some(token_hash),
        },
        session.csrf_token,
        session.preferences,
    ))
}

/// `POST /logout`: ends the session. Like every change it needs the session's CSRF token;
/// without it nothing happens and no cookie is touched, so another site cannot sign people
/// out.
pub async fn logout(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    let Some(token) = session_cookie(&headers) else {
        return error(StatusCode::UNAUTHORIZED, "not signed in");
    };
    let hash = random::sha256(&token);
    match state.store.session(&hash, now_ms()).await {
        Ok(Some(session)) => {
            if !auth::csrf_matches(csrf_header(&headers), &session.csrf_token) {
                tracing::warn!(user = %session.user_name, "sign-out without a valid CSRF token refused");
                return error(
                    StatusCode::FORBIDDEN,
                    "the CSRF token is missing or wrong; send it as X-CSRF-Token",
                );
            }
            if let Err(e) = state.store.delete_session(&hash).await {
                return super::store_unavailable("ending a session", &e);
            }
            tracing::info!(user = %session.user_name, "signed out");
            let mut response = StatusCode::NO_CONTENT.into_response();
            if let Ok(value) = HeaderValue::from_str(&auth::expired_session_cookie(
                state.public_url.starts_with("https://"),
            )) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Ok(None) => error(StatusCode::UNAUTHORIZED, "the session already ended"),
        Err(e) => super::store_unavailable("ending a session", &e),
    }
}

/// `GET /api/v1/me`: who the caller is.
#[utoipa::path(get, path = "/me", tag = "access",
    responses((status = 200, description = "The caller's name and role"), (status = 401, body = super::ApiError)),
    security(("api_key" = []), ("session" = [])))]
pub async fn me(axum::extract::Extension(caller): axum::extract::Extension<Caller>) -> Response {
    Json(serde_json::json!({ "name": caller.name, "role": caller.role })).into_response()
}
