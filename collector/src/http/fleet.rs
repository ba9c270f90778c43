//! Fleet configuration over REST (admin): groups of devices, policies in `agent.toml`'s own
//! schema with their versions (who, when, why, what changed), rollback, and per config
//! version how many devices run it or refused it; a device's effective config for staff.

use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::{ApiError, Caller, HttpState, error, refusal, store_unavailable};
use crate::store::fleet::{
    ConfigReport, EffectiveConfig, FleetError, Group, GroupRule, Policy, PolicyVersion,
};

/// A group to add (unknown fields are refused by the rule, which takes all but `name`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct NewGroup {
    name: String,
    #[serde(flatten)]
    rule: GroupRule,
}

/// The groups, and per config version how many devices run it or refused it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Fleet {
    groups: Vec<Group>,
    policies: Vec<Policy>,
    versions: Vec<VersionCount>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct VersionCount {
    version: String,
    running: i64,
    refused: i64,
}

/// A policy to add, or a new version of one.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PolicyBody {
    /// Required to add; a new version keeps the name unless given.
    #[serde(default)]
    name: Option<String>,
    /// The group's name. Required to add.
    #[serde(default)]
    group: Option<String>,
    /// Higher wins where two policies of a device set the same key (default 0).
    #[serde(default)]
    precedence: Option<i64>,
    /// Settings in agent.toml's schema, checked by the agent's own rules.
    toml: String,
    /// Why, for the audit trail.
    #[serde(default)]
    note: String,
    /// A change rolled out to canaries first (not for a new policy): the rest keep the
    /// version before until `POST …/promote`.
    #[serde(default)]
    canary: Option<crate::store::fleet::Rollout>,
}

/// A policy with its versions, newest first, each with what changed from the one before.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct PolicyDetail {
    #[serde(flatten)]
    policy: Policy,
    versions: Vec<VersionWithDiff>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct VersionWithDiff {
    #[serde(flatten)]
    version: PolicyVersion,
    /// `-` lines gone, `+` lines new, against the version before.
    diff: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rollback {
    version: i64,
}

/// A device's fleet config: what it should run and what it says it runs.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct DeviceConfig {
    effective: EffectiveConfig,
    reported: ConfigReport,
}

fn refused(e: FleetError, doing: &str) -> Response {
    match e {
        FleetError::Refused(refused) => refusal(
            StatusCode::UNPROCESSABLE_ENTITY,
            if refused.field == "toml" {
                "invalid_config"
            } else {
                "unprocessable"
            },
            Some(refused.field),
            refused.to_string(),
        ),
        FleetError::Store(e) => store_unavailable(doing, &e),
    }
}

/// After a change to groups or policies: every session here looks again (their devices may
/// run another config now), and the caller gets what changed with `status`; or the refusal.
fn changed<T: Serialize>(
    state: &HttpState,
    outcome: Result<T, FleetError>,
    status: StatusCode,
    doing: &str,
) -> Response {
    match outcome {
        Ok(value) => {
            state.sessions.nudge_all();
            (status, Json(value)).into_response()
        }
        Err(e) => refused(e, doing),
    }
}

fn unreadable(rejection: &axum::extract::rejection::JsonRejection, example: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        format!("{} (expected e.g. {example})", rejection.body_text()),
    )
}

/// `GET /api/v1/fleet`: groups, policies, and how many devices run or refused each version.
#[utoipa::path(get, path = "/fleet", tag = "fleet",
    responses((status = 200, body = Fleet), (status = 403, body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
pub(crate) async fn fleet(State(state): State<HttpState>) -> Response {
    let groups = match state.store.groups().await {
        Ok(groups) => groups,
        Err(e) => return store_unavailable("reading groups", &e),
    };
    let policies = match state.store.policies().await {
        Ok(policies) => policies,
        Err(e) => return store_unavailable("reading policies", &e),
    };
    let versions = match state.store.config_versions().await {
        Ok(versions) => versions
            .into_iter()
            .map(|(version, running, refused)| VersionCount {
                version,
                running,
                refused,
            })
            .collect(),
        Err(e) => return store_unavailable("counting config versions", &e),
    };
    Json(Fleet {
        groups,
        policies,
        versions,
    })
    .into_response()
}

/// `POST /api/v1/fleet/groups`: a group by site, by rule on inventory, or by hand.
#[utoipa::path(post, path = "/fleet/groups", tag = "fleet",
    request_body = NewGroup,
    responses((status = 201, body = Group), (status = 400, body = ApiError), (status = 422, body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
pub(crate) async fn add_group(
    State(state): State<HttpState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<NewGroup>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let request = match body {
        Ok(Json(request)) => request,
        Err(rejection) => {
            return unreadable(
                &rejection,
                r#"{"name": "warsaw", "kind": "site", "site": "warsaw"}"#,
            );
        }
    };
    let outcome = state
        .store
        .add_group(
            &request.name,
            &request.rule,
            &caller.name,
            crate::model::now_ms(),
        )
        .await;
    changed(&state, outcome, StatusCode::CREATED, "adding a group")
}

/// `POST /api/v1/fleet/policies`: a policy for a group; refused with the key and the reason
/// when an agent would refuse it.
#[utoipa::path(post, path = "/fleet/policies", tag = "fleet",
    request_body = PolicyBody,
    responses((status = 201, body = Policy), (status = 400, body = ApiError), (status = 422, description = "The settings or a field are refused; `field` names it", body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
pub(crate) async fn add_policy(
    State(state): State<HttpState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<PolicyBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let request = match body {
        Ok(Json(request)) => request,
        Err(rejection) => {
            return unreadable(
                &rejection,
                r#"{"name": "warsaw dns", "group": "warsaw", "toml": "[checks.dns]\nnames = [\"intranet.example.com\"]\n"}"#,
            );
        }
    };
    let (Some(name), Some(group)) = (request.name.as_deref(), request.group.as_deref()) else {
        return refusal(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable",
            Some(if request.name.is_none() {
                "name"
            } else {
                "group"
            }),
            "a new policy needs a name and a group".to_owned(),
        );
    };
    let saved = state
        .store
        .save_policy(
            None,
            name,
            group,
            request.precedence.unwrap_or(0),
            &request.toml,
            &request.note,
            request.canary.as_ref(),
            &caller.name,
            crate::model::now_ms(),
        )
        .await;
    changed(&state, saved, StatusCode::CREATED, "adding a policy")
}

async fn find_policy(state: &HttpState, id: i64) -> Result<Policy, Response> {
    match state.store.policies().await {
        Ok(policies) => policies
            .into_iter()
            .find(|policy| policy.id == id)
            .ok_or_else(|| error(StatusCode::NOT_FOUND, format!("no policy {id}"))),
        Err(e) => Err(store_unavailable("reading policies", &e)),
    }
}

/// `PUT /api/v1/fleet/policies/{id}`: a new version of a policy.
#[utoipa::path(put, path = "/fleet/policies/{id}", tag = "fleet",
    params(("id" = i64, Path, description = "Policy id")),
    request_body = PolicyBody,
    responses((status = 200, body = Policy), (status = 404, body = ApiError), (status = 422, body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
pub(crate) async fn change_policy(
    State(state): State<HttpState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
    body: Result<Json<PolicyBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let request = match body {
        Ok(Json(request)) => request,
        Err(rejection) => {
            return unreadable(&rejection, r#"{"toml": "…", "note": "why"}"#);
        }
    };
    let current = match find_policy(&state, id).await {
        Ok(policy) => policy,
        Err(response) => return response,
    };
    let saved = state
        .store
        .save_policy(
            Some(id),
            request.name.as_deref().unwrap_or(&current.name),
            request.group.as_deref().unwrap_or(&current.group),
            request.precedence.unwrap_or(current.precedence),
            &request.toml,
            &request.note,
            request.canary.as_ref(),
            &caller.name,
            crate::model::now_ms(),
        )
        .await;
    changed(&state, saved, StatusCode::OK, "changing a policy")
}

/// `POST /api/v1/fleet/policies/{id}/promote`: the version rolling out to its canaries goes
/// to every device of the group.
#[utoipa::path(post, path = "/fleet/policies/{id}/promote", tag = "fleet",
    params(("id" = i64, Path, description = "Policy id")),
    responses((status = 200, body = Policy), (status = 404, body = ApiError), (status = 422, body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
pub(crate) async fn promote(State(state): State<HttpState>, Path(id): Path<i64>) -> Response {
    if let Err(response) = find_policy(&state, id).await {
        return response;
    }
    let promoted = state.store.promote_policy(id, crate::model::now_ms()).await;
    changed(&state, promoted, StatusCode::OK, "promoting a policy")
}

/// `GET /api/v1/fleet/policies/{id}`: a policy and its versions, each with its diff.
#[utoipa::path(get, path = "/fleet/policies/{id}", tag = "fleet",
    params(("id" = i64, Path, description = "Policy id")),
    responses((status = 200, body = PolicyDetail), (status = 404, body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
pub(crate) async fn show_policy(State(state): State<HttpState>, Path(id): Path<i64>) -> Response {
    let policy = match find_policy(&state, id).await {
        Ok(policy) => policy,
        Err(response) => return response,
    };
    let versions = match state.store.policy_versions(id).await {
        Ok(versions) => versions,
        Err(e) => return store_unavailable("reading a policy's versions", &e),
    };
    let mut with_diffs = Vec::with_capacity(versions.len());
    for (index, version) in versions.iter().enumerate() {
        let before = versions.get(index + 1).map_or("", |v| v.toml.as_str());
        with_diffs.push(VersionWithDiff {
            diff: crate::store::fleet::diff(before, &version.toml),
            version: version.clone(),
        });
    }
    Json(PolicyDetail {
        policy,
        versions: with_diffs,
    })
    .into_response()
}

/// `POST /api/v1/fleet/policies/{id}/rollback`: an earlier version back in force, as a new
/// version; every device it applies to gets it.
#[utoipa::path(post, path = "/fleet/policies/{id}/rollback", tag = "fleet",
    params(("id" = i64, Path, description = "Policy id")),
    request_body = Rollback,
    responses((status = 200, body = Policy), (status = 404, body = ApiError), (status = 422, body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
pub(crate) async fn roll_back(
    State(state): State<HttpState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
    body: Result<Json<Rollback>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let request = match body {
        Ok(Json(request)) => request,
        Err(rejection) => return unreadable(&rejection, r#"{"version": 1}"#),
    };
    if let Err(response) = find_policy(&state, id).await {
        return response;
    }
    let outcome = state
        .store
        .roll_back_policy(id, request.version, &caller.name, crate::model::now_ms())
        .await;
    changed(&state, outcome, StatusCode::OK, "rolling back a policy")
}

/// `GET /api/v1/devices/{id}/config`: the fleet config a device should run (its policies,
/// merged) and what it says it runs or refused.
#[utoipa::path(get, path = "/devices/{id}/config", tag = "devices",
    params(("id" = String, Path, description = "Device id")),
    responses((status = 200, body = DeviceConfig), (status = 404, body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
pub(crate) async fn device_config(
    State(state): State<HttpState>,
    Path(id): Path<String>,
) -> Response {
    let effective = match state.store.effective_config(&id).await {
        Ok(Some(effective)) => effective,
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("no device {id:?}")),
        Err(e) => return store_unavailable("working out a device's config", &e),
    };
    match state.store.config_report(&id).await {
        Ok(reported) => Json(DeviceConfig {
            effective,
            reported,
        })
        .into_response(),
        Err(e) => store_unavailable("reading a device's config report", &e),
    }
}
