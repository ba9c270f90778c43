//! HTTP for people and monitoring: `/healthz`, and the REST API under `/api/v1` for holders of
//! an API key (`Authorization: Bearer flk_…`). The web UI and sign-in arrive with later issues.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use crate::ingest::Sessions;
use crate::model::{Device, Role, StoredFinding};
use crate::random;
use crate::store::Store;

/// Every API key starts with this.
pub const API_KEY_PREFIX: &str = "flk_";

#[derive(Debug, Clone)]
pub struct HttpState {
    pub store: Store,
    pub sessions: Arc<Sessions>,
}

pub fn router(state: HttpState) -> Router {
    let api = Router::new()
        .route("/devices", get(list_devices))
        .route("/devices/{id}", get(show_device))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_api_key,
        ));
    Router::new()
        .route("/healthz", get(healthz))
        .nest("/api/v1", api)
        .fallback(not_found)
        .with_state(state)
}

/// Creates an API key for scripts; the key is shown once and stored hashed.
pub async fn create_api_key(
    store: &Store,
    name: &str,
    role: Role,
) -> Result<String, crate::store::StoreError> {
    let key = format!("{API_KEY_PREFIX}{}", random::token_text(32));
    store
        .insert_api_key(name, role, &random::sha256(&key), crate::model::now_ms())
        .await?;
    Ok(key)
}

/// JSON error body: `{"error": "..."}`.
#[derive(Debug, Serialize)]
struct ApiError {
    error: String,
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(ApiError {
            error: message.into(),
        }),
    )
        .into_response()
}

/// The caller behind a request, once its key is verified.
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

async fn require_api_key(
    State(state): State<HttpState>,
    headers: HeaderMap,
    mut request: Request,
    next: Next,
) -> Response {
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(key) = key.filter(|key| key.starts_with(API_KEY_PREFIX)) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "an API key is required: send `Authorization: Bearer flk_…` (create one with `firstline-collector apikey create`)",
        );
    };
    match state.store.api_key(&random::sha256(key)).await {
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
        Err(e) => {
            tracing::error!(error = %e, "checking API key");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the collector's store is unavailable",
            )
        }
    }
}

async fn healthz(State(state): State<HttpState>) -> Response {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n").into_response()
        }
    }
}

#[derive(Debug, Serialize)]
struct DeviceView {
    #[serde(flatten)]
    device: Device,
    connected: bool,
}

#[derive(Debug, Serialize)]
struct DeviceDetail {
    #[serde(flatten)]
    device: DeviceView,
    /// The most recent findings, oldest first.
    findings: Vec<StoredFinding>,
}

async fn list_devices(State(state): State<HttpState>) -> Response {
    match state.store.devices().await {
        Ok(devices) => {
            let views: Vec<DeviceView> = devices
                .into_iter()
                .map(|device| DeviceView {
                    connected: state.sessions.is_connected(&device.id),
                    device,
                })
                .collect();
            Json(views).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "listing devices");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the collector's store is unavailable",
            )
        }
    }
}

async fn show_device(State(state): State<HttpState>, Path(id): Path<String>) -> Response {
    let device = match state.store.device(&id).await {
        Ok(Some(device)) => device,
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("no device with id {id:?}")),
        Err(e) => {
            tracing::error!(error = %e, "showing device");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the collector's store is unavailable",
            );
        }
    };
    let findings = match state.store.recent_findings(&id, 100).await {
        Ok(findings) => findings,
        Err(e) => {
            tracing::error!(error = %e, "listing findings");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the collector's store is unavailable",
            );
        }
    };
    let connected = state.sessions.is_connected(&device.id);
    Json(DeviceDetail {
        device: DeviceView { device, connected },
        findings,
    })
    .into_response()
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such route")
}
