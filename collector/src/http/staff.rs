//! Admin REST for staff credentials: list, disable and enable users and reset their
//! passwords, revoke API keys, list and revoke unused enrollment tokens. Every change is
//! logged with who made it.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::paging::{self, PageQuery, Paging};
use super::{ApiError, Caller, HttpState, error, query_refused, store_unavailable};
use crate::enrollment::{RevokeTokensError, TokenSelection};
use crate::model::now_ms;

/// Checked `limit` and `cursor` of a list that takes nothing else.
#[allow(clippy::result_large_err)]
fn page_query(query: Result<Query<PageQuery>, QueryRejection>) -> Result<Paging, Response> {
    match query {
        Ok(Query(query)) => paging::paging(&query),
        Err(rejection) => Err(query_refused(&rejection)),
    }
}

/// A page of `GET /api/v1/users`, by name.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserPage {
    users: Vec<crate::store::staff::UserRecord>,
    /// Send it as `cursor` for the next page; `null` on the last page.
    next_cursor: Option<String>,
}

/// `GET /api/v1/users` (admin): everyone who may sign in, with whether they are disabled, by
/// name.
#[utoipa::path(get, path = "/users", tag = "admin", params(PageQuery),
    responses((status = 200, body = UserPage), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
pub async fn list_users(
    State(state): State<HttpState>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    let paging = match page_query(query) {
        Ok(paging) => paging,
        Err(refusal) => return refusal,
    };
    match state.store.users().await {
        Ok(users) => {
            let (users, next_cursor) = paging::page_of(users, |user| user.name.clone(), &paging);
            Json(UserPage { users, next_cursor }).into_response()
        }
        Err(e) => store_unavailable("listing users", &e),
    }
}

async fn set_disabled(state: &HttpState, caller: &Caller, name: &str, disabled: bool) -> Response {
    if disabled && caller.session.is_some() && caller.name == name {
        return error(
            StatusCode::CONFLICT,
            "you cannot disable yourself; another admin can",
        );
    }
    match state
        .store
        .set_user_disabled(name, disabled, now_ms())
        .await
    {
        Ok(true) => {
            if disabled {
                tracing::warn!(user = %name, by = %caller.name, "user disabled; their sessions ended");
            } else {
                tracing::warn!(user = %name, by = %caller.name, "user enabled");
            }
            Json(serde_json::json!({ "name": name, "disabled": disabled })).into_response()
        }
        Ok(false) => error(StatusCode::NOT_FOUND, format!("no user named {name:?}")),
        Err(e) => store_unavailable("disabling or enabling a user", &e),
    }
}

/// `POST /api/v1/users/{name}/disable` (admin): their sessions end at once and they cannot
/// sign in until enabled again.
#[utoipa::path(post, path = "/users/{name}/disable", tag = "admin",
    params(("name" = String, Path, description = "User name")),
    responses((status = 200, description = "Disabled"), (status = 403, body = ApiError), (status = 404, body = ApiError),
        (status = 409, description = "An admin cannot disable themselves", body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
pub async fn disable_user(
    State(state): State<HttpState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Response {
    set_disabled(&state, &caller, &name, true).await
}

/// `POST /api/v1/users/{name}/enable` (admin): a disabled user may sign in again.
#[utoipa::path(post, path = "/users/{name}/enable", tag = "admin",
    params(("name" = String, Path, description = "User name")),
    responses((status = 200, description = "Enabled"), (status = 403, body = ApiError), (status = 404, body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
pub async fn enable_user(
    State(state): State<HttpState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Response {
    set_disabled(&state, &caller, &name, false).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    password: String,
}

/// `POST /api/v1/users/{name}/password` (admin): sets someone's password; every session of
/// theirs ends (but the admin's own, when resetting their own).
#[utoipa::path(post, path = "/users/{name}/password", tag = "admin",
    params(("name" = String, Path, description = "User name")),
    request_body = PasswordReset,
    responses((status = 200, description = "Set; the user's sessions ended"), (status = 400, body = ApiError),
        (status = 403, body = ApiError), (status = 404, body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
pub async fn reset_password(
    State(state): State<HttpState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    body: Result<Json<PasswordReset>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(PasswordReset { password })) = body else {
        return error(StatusCode::BAD_REQUEST, "send {\"password\": \"…\"}");
    };
    if password.len() > crate::auth::MAX_PASSWORD_BYTES {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "a password must be at most {} bytes",
                crate::auth::MAX_PASSWORD_BYTES
            ),
        );
    }
    let keep = caller.session.as_deref().filter(|_| caller.name == name);
    match super::access::set_password(&state, &name, password, keep).await {
        Ok(()) => {
            tracing::warn!(user = %name, by = %caller.name, "password reset; the user's sessions ended");
            Json(serde_json::json!({ "name": name, "password_changed": true })).into_response()
        }
        Err(refusal) => refusal,
    }
}

/// `POST /api/v1/apikeys/{name}/revoke` (admin): the key is refused from the next request on.
#[utoipa::path(post, path = "/apikeys/{name}/revoke", tag = "admin",
    params(("name" = String, Path, description = "The API key's name")),
    responses((status = 200, description = "Revoked"), (status = 403, body = ApiError),
        (status = 404, description = "No live key has that name", body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
pub async fn revoke_api_key(
    State(state): State<HttpState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Response {
    match state.store.revoke_api_key(&name, now_ms()).await {
        Ok(true) => {
            tracing::warn!(api_key = %name, by = %caller.name, "API key revoked");
            Json(serde_json::json!({ "name": name, "revoked": true })).into_response()
        }
        Ok(false) => error(
            StatusCode::NOT_FOUND,
            format!("no live API key named {name:?}"),
        ),
        Err(e) => store_unavailable("revoking an API key", &e),
    }
}

/// A page of `GET /api/v1/tokens`, by id.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenPage {
    tokens: Vec<crate::store::staff::UnusedToken>,
    /// Send it as `cursor` for the next page; `null` on the last page.
    next_cursor: Option<String>,
}

/// `GET /api/v1/tokens` (admin): enrollment tokens not used yet, by id.
#[utoipa::path(get, path = "/tokens", tag = "admin", params(PageQuery),
    responses((status = 200, body = TokenPage), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
pub async fn list_tokens(
    State(state): State<HttpState>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    let paging = match page_query(query) {
        Ok(paging) => paging,
        Err(refusal) => return refusal,
    };
    match state.store.unused_tokens().await {
        Ok(tokens) => {
            let (tokens, next_cursor) = paging::page_of(tokens, |token| token.id.clone(), &paging);
            Json(TokenPage {
                tokens,
                next_cursor,
            })
            .into_response()
        }
        Err(e) => store_unavailable("listing tokens", &e),
    }
}

/// `POST /api/v1/tokens/revoke` body: `{"all_unused": true}` or `{"id_prefix": "3fa2c1"}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRevocation {
    #[serde(default)]
    all_unused: bool,
    #[serde(default)]
    id_prefix: Option<String>,
}

/// `POST /api/v1/tokens/revoke` (admin): unused enrollment tokens can no longer enroll.
#[utoipa::path(post, path = "/tokens/revoke", tag = "admin",
    request_body = TokenRevocation,
    responses((status = 200, description = "The ids revoked"), (status = 400, body = ApiError),
        (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, description = "The prefix names several tokens", body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
pub async fn revoke_tokens(
    State(state): State<HttpState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<TokenRevocation>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let selection = match &body {
        Ok(Json(TokenRevocation {
            all_unused: true,
            id_prefix: None,
        })) => TokenSelection::AllUnused,
        Ok(Json(TokenRevocation {
            all_unused: false,
            id_prefix: Some(prefix),
        })) => TokenSelection::IdPrefix(prefix),
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "send {\"all_unused\": true} or {\"id_prefix\": \"…\"} (an id from GET /api/v1/tokens)",
            );
        }
    };
    match crate::enrollment::revoke_tokens(&state.store, selection).await {
        Ok(revoked) => {
            tracing::warn!(tokens = ?revoked, by = %caller.name, "enrollment tokens revoked");
            Json(serde_json::json!({ "revoked": revoked })).into_response()
        }
        Err(e @ RevokeTokensError::BadPrefix(_)) => error(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e @ RevokeTokensError::NoMatch(_)) => error(StatusCode::NOT_FOUND, e.to_string()),
        Err(e @ RevokeTokensError::Ambiguous { .. }) => error(StatusCode::CONFLICT, e.to_string()),
        Err(RevokeTokensError::Store(e)) => store_unavailable("revoking tokens", &e),
    }
}

/// A page of `GET /api/v1/alerts`, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AlertPage {
    alerts: Vec<crate::store::alerts::CollectorAlert>,
    /// Send it as `cursor` for the next page; `null` on the last page.
    next_cursor: Option<String>,
}

/// `GET /api/v1/alerts` (admin): alerts about the collector itself (a database that lost
/// findings it had acknowledged), newest first; `?all=true` includes acknowledged ones.
#[utoipa::path(get, path = "/alerts", tag = "admin", params(AlertsQuery),
    responses((status = 200, body = AlertPage), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
pub async fn list_alerts(
    State(state): State<HttpState>,
    query: Result<Query<AlertsQuery>, QueryRejection>,
) -> Response {
    let query = match query {
        Ok(Query(query)) => query,
        Err(rejection) => return query_refused(&rejection),
    };
    let paging = match Paging::parse(query.limit.as_deref(), query.cursor.as_deref()) {
        Ok(paging) => paging,
        Err(refusal) => return refusal,
    };
    let alerts = if query.all {
        state.store.recent_alerts().await
    } else {
        state.store.open_alerts().await
    };
    match alerts {
        Ok(alerts) => {
            // Newest first: the key counts down as ids go up.
            let (alerts, next_cursor) = paging::page_of(
                alerts,
                |alert| paging::number_key(i64::MAX - alert.id),
                &paging,
            );
            Json(AlertPage {
                alerts,
                next_cursor,
            })
            .into_response()
        }
        Err(e) => store_unavailable("listing alerts", &e),
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertsQuery {
    /// Include acknowledged alerts.
    #[serde(default)]
    all: bool,
    /// How many alerts at most (default 100, at most 1000).
    #[param(value_type = Option<u32>)]
    limit: Option<String>,
    /// Where to go on from: the `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// `POST /api/v1/alerts/{id}/acknowledge` (admin): the alert has been seen and leaves the
/// open list.
#[utoipa::path(post, path = "/alerts/{id}/acknowledge", tag = "admin",
    params(("id" = i64, Path, description = "Alert id")),
    responses((status = 200, description = "Acknowledged"), (status = 403, body = ApiError),
        (status = 404, description = "No such open alert", body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
pub async fn acknowledge_alert(
    State(state): State<HttpState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> Response {
    match state
        .store
        .acknowledge_alert(id, &caller.name, now_ms())
        .await
    {
        Ok(true) => {
            tracing::info!(alert = id, by = %caller.name, "collector alert acknowledged");
            Json(serde_json::json!({ "id": id, "acknowledged_by": caller.name })).into_response()
        }
        Ok(false) => error(StatusCode::NOT_FOUND, format!("no open alert {id}")),
        Err(e) => store_unavailable("acknowledging an alert", &e),
    }
}

/// A page of `GET /api/v1/people`, by account.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PeoplePage {
    people: Vec<crate::directory::Person>,
    /// Send it as `cursor` for the next page; `null` on the last page.
    next_cursor: Option<String>,
}

/// `GET /api/v1/people` (technician): the contact directory, by account (at most 10,000).
#[utoipa::path(get, path = "/people", tag = "people", params(PageQuery),
    responses((status = 200, body = PeoplePage), (status = 400, body = ApiError), (status = 401, body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
pub async fn list_people(
    State(state): State<HttpState>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    let paging = match page_query(query) {
        Ok(paging) => paging,
        Err(refusal) => return refusal,
    };
    match state.store.people(10_000).await {
        Ok(people) => {
            let (people, next_cursor) =
                paging::page_of(people, |person| person.account.clone(), &paging);
            Json(PeoplePage {
                people,
                next_cursor,
            })
            .into_response()
        }
        Err(e) => store_unavailable("listing the directory", &e),
    }
}

/// `PUT /api/v1/people/{account}` (admin): adds or replaces one entry:
/// `{"display_name", "email", "language"}` (language `en`, `zh`, `pl` or `el`).
#[utoipa::path(put, path = "/people/{account}", tag = "admin",
    params(("account" = String, Path, description = "The OS account, as agents report it")),
    request_body = crate::directory::PersonFields,
    responses((status = 200, body = crate::directory::Person), (status = 400, body = ApiError),
        (status = 403, body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
pub async fn put_person(
    State(state): State<HttpState>,
    Extension(caller): Extension<Caller>,
    Path(account): Path<String>,
    Json(fields): Json<crate::directory::PersonFields>,
) -> Response {
    let person = match crate::directory::validate(&account, &fields) {
        Ok(person) => person,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    match state
        .store
        .upsert_people(std::slice::from_ref(&person), &caller.name, now_ms())
        .await
    {
        Ok(_) => {
            tracing::info!(account = %person.account, by = %caller.name, "directory entry saved");
            Json(person).into_response()
        }
        Err(e) => store_unavailable("saving a directory entry", &e),
    }
}

/// `DELETE /api/v1/people/{account}` (admin): the account is shown by its name again.
#[utoipa::path(delete, path = "/people/{account}", tag = "admin",
    params(("account" = String, Path, description = "The OS account")),
    responses((status = 200, description = "Removed"), (status = 403, body = ApiError),
        (status = 404, body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
pub async fn delete_person(
    State(state): State<HttpState>,
    Extension(caller): Extension<Caller>,
    Path(account): Path<String>,
) -> Response {
    match state.store.delete_person(&account).await {
        Ok(true) => {
            tracing::info!(account = %account, by = %caller.name, "directory entry removed");
            Json(serde_json::json!({ "account": account, "removed": true })).into_response()
        }
        Ok(false) => error(
            StatusCode::NOT_FOUND,
            format!("{account:?} is not in the directory"),
        ),
        Err(e) => store_unavailable("removing a directory entry", &e),
    }
}
