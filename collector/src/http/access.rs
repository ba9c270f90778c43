//! Who is asking: an API key (`Authorization: Bearer flk_…`, for scripts) or a signed-in
//! session (the `firstline_session` cookie, for people, with a CSRF token required on every
//! state-changing request), and whether their role may do what they ask.

use std::net::SocketAddr;

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
                request.extensions_mut().insert(Caller { name, role });
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
    let session = match state.store.session(&random::sha256(&token), now_ms()).await {
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

/// `POST /login`: a session cookie for a right name and password; repeated failures for one
/// name are refused for a while, and every failure is logged with where it came from.
pub async fn login(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<SignIn>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(SignIn { name, password })) = body else {
        return error(
            StatusCode::BAD_REQUEST,
            "send {\"name\": \"…\", \"password\": \"…\"}",
        );
    };
    match sign_in(&state, name, password, peer).await {
        Ok((cookie, signed_in)) => {
            let mut response = Json(signed_in).into_response();
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            response
        }
        Err(refusal) => refusal,
    }
}

/// Checks a name and password and starts a session: the cookie to set and who signed in.
/// Shared by the JSON sign-in and the web UI's form.
pub(crate) async fn sign_in(
    state: &HttpState,
    name: String,
    password: String,
    peer: SocketAddr,
) -> Result<(HeaderValue, SignedIn), Response> {
    let now = now_ms();
    let peer_text = peer.ip().to_string();
    let plausible = !name.is_empty()
        && name.chars().count() <= auth::MAX_NAME_CHARS
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "._-@".contains(c))
        && password.len() <= auth::MAX_PASSWORD_BYTES;
    if !plausible {
        tracing::warn!(user = ?name, peer = %peer_text, "failed sign-in (implausible name or password)");
        return Err(error(StatusCode::UNAUTHORIZED, "wrong name or password"));
    }
    // The attempt is counted before it is checked, so guesses sent at once all count.
    if let Err(e) = state
        .store
        .record_login_attempt(&name, &peer_text, now)
        .await
    {
        return Err(super::store_unavailable("recording a sign-in attempt", &e));
    }
    match state
        .store
        .login_attempts_since(&name, &peer_text, now - auth::FAILURE_WINDOW_MS)
        .await
    {
        Ok((for_name, from_peer))
            if for_name > auth::MAX_FAILURES || from_peer > auth::MAX_FAILURES_FROM_PEER =>
        {
            tracing::warn!(user = ?name, peer = %peer_text, for_name, from_peer, "sign-in refused: too many failures");
            return Err(error(
                StatusCode::TOO_MANY_REQUESTS,
                "too many failed sign-ins; try again in 15 minutes",
            ));
        }
        Ok(_) => {}
        Err(e) => return Err(super::store_unavailable("counting sign-in attempts", &e)),
    }
    let credentials = match state.store.user_credentials(&name).await {
        Ok(credentials) => credentials,
        Err(e) => return Err(super::store_unavailable("reading a user", &e)),
    };
    // Argon2 is slow and large on purpose: a few checks at a time, on blocking threads.
    static CHECKS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let checks = CHECKS.get_or_init(|| tokio::sync::Semaphore::new(auth::CONCURRENT_CHECKS));
    let Ok(_turn) = checks.acquire().await else {
        return Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the collector is stopping",
        ));
    };
    let checked = tokio::task::spawn_blocking(move || match credentials {
        Some((role, hash)) => auth::verify_password(&password, &hash).then_some(role),
        None => {
            auth::burn_time(&password);
            None
        }
    })
    .await
    .ok()
    .flatten();
    let Some(role) = checked else {
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
        "{}={token}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={}",
        auth::SESSION_COOKIE,
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

/// The signed-in session behind a browser request, if any (no CSRF check: reads only).
pub(crate) async fn session_of(state: &HttpState, headers: &HeaderMap) -> Option<(Caller, String)> {
    let token = session_cookie(headers)?;
    let session = state
        .store
        .session(&random::sha256(&token), now_ms())
        .await
        .ok()??;
    Some((
        Caller {
            name: session.user_name,
            role: session.role,
        },
        session.csrf_token,
    ))
}

/// `POST /logout`: ends the session (CSRF token required like any change).
pub async fn logout(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    let Some(token) = session_cookie(&headers) else {
        return error(StatusCode::UNAUTHORIZED, "not signed in");
    };
    let hash = random::sha256(&token);
    match state.store.session(&hash, now_ms()).await {
        Ok(Some(session)) => {
            if !auth::csrf_matches(csrf_header(&headers), &session.csrf_token) {
                return error(StatusCode::FORBIDDEN, "the CSRF token is missing or wrong");
            }
            if let Err(e) = state.store.delete_session(&hash).await {
                return super::store_unavailable("ending a session", &e);
            }
        }
        Ok(None) => {}
        Err(e) => return super::store_unavailable("ending a session", &e),
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(value) = HeaderValue::from_str(&auth::expired_session_cookie()) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// `GET /api/v1/me`: who the caller is.
#[utoipa::path(get, path = "/me", tag = "access",
    responses((status = 200, description = "The caller's name and role"), (status = 401, body = super::ApiError)),
    security(("api_key" = []), ("session" = [])))]
pub async fn me(axum::extract::Extension(caller): axum::extract::Extension<Caller>) -> Response {
    Json(serde_json::json!({ "name": caller.name, "role": caller.role })).into_response()
}
