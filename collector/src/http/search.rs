//! Search over REST: one query across tickets, devices, people and the knowledge base
//! (`Store::search`), for staff.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{HttpState, error, store_unavailable};
use crate::store::StoreError;
use crate::store::search::{DEFAULT_LIMIT, SearchKind, SearchQuery, SearchResults};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct SearchParams {
    /// The words to find, all of them (the last one as a prefix); punctuation separates
    /// words and means nothing else. At most 500 characters.
    q: String,
    /// Only this kind: `tickets`, `devices`, `people` or `knowledge` (default: all four).
    kind: Option<String>,
    /// Hits per kind, 1 to 100 (default 10).
    limit: Option<usize>,
}

/// `GET /api/v1/search?q=…&kind=…&limit=…`: tickets, devices, people and knowledge entries
/// matching every word, best first, each with a snippet and the matched words' offsets in it.
#[utoipa::path(get, path = "/search", tag = "search", params(SearchParams),
    responses((status = 200, body = SearchResults),
        (status = 400, description = "an empty, too long or malformed query", body = super::ApiError)),
    security(("api_key" = []), ("session" = [])))]
pub(crate) async fn search(
    State(state): State<HttpState>,
    params: Result<Query<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(params)) = params else {
        return error(
            StatusCode::BAD_REQUEST,
            "search takes q=TEXT, and optionally kind=tickets|devices|people|knowledge and limit=1..100",
        );
    };
    let kinds = match params.kind.as_deref() {
        None => Vec::new(),
        Some(name) => match SearchKind::parse(name) {
            Some(kind) => vec![kind],
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("no kind {name:?}: tickets, devices, people or knowledge"),
                );
            }
        },
    };
    let query = SearchQuery {
        text: params.q,
        kinds,
        limit: params.limit.unwrap_or(DEFAULT_LIMIT),
    };
    match state.store.search(&query).await {
        Ok(results) => Json(results).into_response(),
        Err(e @ StoreError::Invalid { .. }) => error(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e) => store_unavailable("searching", &e),
    }
}
