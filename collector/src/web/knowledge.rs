//! The knowledge base (`/knowledge`): articles staff write in Markdown, linked to the checks
//! and fault fingerprints they answer (and so suggested on matching tickets), searchable by
//! words; the solutions log resolutions feed; and the canned replies admins keep for the
//! reply form.

use std::collections::HashMap;
use std::fmt::Write;

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use firstline_i18n::msg;

use super::frame::{Staff, moment};
use super::html::esc;
use super::{
    csrf_field, fix_items, markdown, problem, signed_in, signed_in_form, signed_page, unavailable,
};
use crate::http::HttpState;
use crate::model::{Role, now_ms};
use crate::net::url_encode;
use crate::store::articles::{
    Article, ArticleDraft, DraftProblem, MAX_BODY_BYTES, MAX_LINKS, MAX_TITLE_CHARS,
};

/// `/knowledge?q=…`.
pub(super) async fn page(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let staff = match signed_in(&state, &headers).await {
        Ok(staff) => staff,
        Err(redirect) => return redirect,
    };
    let lang = staff.lang;
    let t = |id: &str| esc(&staff.t(id));
    let q = query.get("q").map(|q| q.trim()).unwrap_or_default();
    let (articles, entries, replies) = match (
        state.store.articles(Some(q)).await,
        state.store.knowledge(Some(q)).await,
        state.store.canned_replies().await,
    ) {
        (Ok(a), Ok(e), Ok(r)) => (a, e, r),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            return unavailable(&staff, "knowledge page", &e);
        }
    };
    let now = now_ms();
    let mut body = format!(
        "<h1>{}</h1><form class=\"filters\" method=\"get\" action=\"/knowledge\"><input type=\"search\" name=\"q\" value=\"{}\" placeholder=\"{}\"><button type=\"submit\">{}</button> <a href=\"/knowledge/articles/new\" id=\"new-article\">{}</a></form>",
        t("staff-knowledge-heading"),
        esc(q),
        t("staff-knowledge-placeholder"),
        t("staff-search"),
        t("staff-knowledge-write"),
    );
    let _ = write!(body, "<h2>{}</h2>", t("staff-knowledge-articles"));
    if articles.is_empty() {
        let _ = write!(
            body,
            "<p class=\"muted\">{}</p>",
            t("staff-knowledge-no-articles")
        );
    } else {
        body.push_str("<ul class=\"hits\" id=\"articles\">");
        for article in &articles {
            body.push_str(&article_line(&staff, article, now));
        }
        body.push_str("</ul>");
    }
    let _ = write!(body, "<h2>{}</h2>", t("staff-knowledge-solutions"));
    if entries.is_empty() {
        let _ = write!(
            body,
            "<p class=\"muted\">{}</p>",
            t("staff-knowledge-no-solutions")
        );
    }
    for entry in &entries {
        let _ = write!(
            body,
            "<div class=\"card\"><strong>{}</strong>{}<ol>",
            esc(&entry.fingerprint),
            if entry.problem_candidate {
                format!(
                    " <span class=\"badge\">{}</span>",
                    t("staff-ticket-problem-candidate")
                )
            } else {
                String::new()
            }
        );
        body.push_str(&fix_items(&staff, &entry.solutions));
        body.push_str("</ol></div>");
    }
    let _ = write!(
        body,
        "<h2 id=\"replies\">{}</h2>",
        t("staff-replies-heading")
    );
    if replies.is_empty() {
        let _ = write!(body, "<p class=\"muted\">{}</p>", t("staff-replies-none"));
    }
    let admin = staff.caller.role == Role::Admin;
    for reply in &replies {
        let _ = write!(
            body,
            "<div class=\"card reply\"><strong>{}</strong><p>{}</p><p class=\"muted\">{} · {}</p>",
            esc(&reply.title),
            esc(&reply.body),
            esc(&reply.updated_by),
            moment(lang, reply.updated_at_ms, now)
        );
        if admin {
            let _ = write!(
                body,
                "<form class=\"inline\" method=\"post\" action=\"/knowledge/replies/{}/delete\">{}<button type=\"submit\">{}</button></form>",
                reply.id,
                csrf_field(&staff.csrf),
                t("staff-delete")
            );
        }
        body.push_str("</div>");
    }
    if admin {
        let _ = write!(
            body,
            "<form class=\"card\" method=\"post\" action=\"/knowledge/replies\">{}<h2>{}</h2>\
             <p><label>{}<br><input name=\"title\" required maxlength=\"{MAX_TITLE_CHARS}\" size=\"40\"></label></p>\
             <p><label>{}<br><textarea name=\"body\" required></textarea></label></p>\
             <p class=\"muted\">{}</p><button type=\"submit\">{}</button></form>",
            csrf_field(&staff.csrf),
            t("staff-replies-add"),
            t("staff-knowledge-title"),
            t("staff-replies-text"),
            t("staff-replies-same-title"),
            t("staff-save"),
        );
    }
    signed_page(&staff, &staff.t("staff-knowledge-heading"), &body, None)
}

/// One article in a list: its title, what it answers, who changed it last and when.
pub(super) fn article_line(staff: &Staff, article: &Article, now: i64) -> String {
    let links: String = article
        .checks
        .iter()
        .map(|check| format!(" <span class=\"badge\">{}</span>", esc(check)))
        .collect();
    format!(
        "<li><a href=\"/knowledge/articles/{}\">{}</a>{links}<br><span class=\"muted\">{} · {}</span></li>",
        article.id,
        esc(&article.title),
        esc(&article.updated_by),
        moment(staff.lang, article.updated_at_ms, now)
    )
}

/// `/knowledge/articles/{id}`: an article, rendered.
pub(super) async fn article(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let staff = match signed_in(&state, &headers).await {
        Ok(staff) => staff,
        Err(redirect) => return redirect,
    };
    let article = match load(&state, &staff, &id).await {
        Ok(article) => article,
        Err(refused) => return refused,
    };
    let t = |id: &str| esc(&staff.t(id));
    let now = now_ms();
    let mut body = format!(
        "<h1 id=\"article-title\">{}</h1><p class=\"muted\">{}</p><article class=\"card\" id=\"article-body\">{}</article>",
        esc(&article.title),
        esc(&staff.say(&msg!("staff-knowledge-written-by",
            "author" => article.author.as_str(), "editor" => article.updated_by.as_str()))),
        markdown::render(&article.body),
    );
    let _ = write!(
        body,
        "<p class=\"muted\">{}</p>",
        moment(staff.lang, article.updated_at_ms, now)
    );
    if !article.checks.is_empty() || !article.fingerprints.is_empty() {
        let _ = write!(
            body,
            "<dl class=\"kv\"><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd></dl>",
            t("staff-knowledge-checks"),
            esc(&article.checks.join(" ")),
            t("staff-knowledge-fingerprints"),
            esc(&article.fingerprints.join(" ")),
        );
    }
    let _ = write!(
        body,
        "<p><a href=\"/knowledge/articles/{}/edit\" id=\"edit-article\">{}</a></p>",
        article.id,
        t("staff-knowledge-edit"),
    );
    if staff.caller.role >= Role::Supervisor {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/knowledge/articles/{}/delete\">{}<button type=\"submit\">{}</button></form>",
            article.id,
            csrf_field(&staff.csrf),
            t("staff-delete"),
        );
    }
    signed_page(&staff, &article.title, &body, None)
}

async fn load(state: &HttpState, staff: &Staff, id: &str) -> Result<Article, Response> {
    let missing = || {
        problem(
            Some(staff),
            StatusCode::NOT_FOUND,
            &staff.t("staff-knowledge-missing"),
        )
    };
    let Ok(id) = id.parse::<i64>() else {
        return Err(missing());
    };
    match state.store.article(id).await {
        Ok(Some(article)) => Ok(article),
        Ok(None) => Err(missing()),
        Err(e) => Err(unavailable(staff, "reading an article", &e)),
    }
}

/// The form for a new article (`/knowledge/articles/new`, with `check` and `fingerprint`
/// filled in from a ticket's link) or a change to one.
fn article_form(
    staff: &Staff,
    id: Option<i64>,
    fields: &HashMap<String, String>,
    problem: Option<&str>,
) -> String {
    let t = |id: &str| esc(&staff.t(id));
    let field = |key: &str| esc(fields.get(key).map(String::as_str).unwrap_or_default());
    let mut form = format!(
        "<h1>{}</h1>",
        if id.is_some() {
            t("staff-knowledge-edit")
        } else {
            t("staff-knowledge-write")
        }
    );
    if let Some(problem) = problem {
        let _ = write!(
            form,
            "<p class=\"error\" id=\"article-problem\">{}</p>",
            esc(problem)
        );
    }
    let _ = write!(
        form,
        "<form class=\"card\" method=\"post\" action=\"/knowledge/articles\">{}",
        csrf_field(&staff.csrf)
    );
    if let Some(id) = id {
        let _ = write!(form, "<input type=\"hidden\" name=\"id\" value=\"{id}\">");
    }
    let _ = write!(
        form,
        "<p><label>{}<br><input name=\"title\" id=\"article-title-input\" required maxlength=\"{MAX_TITLE_CHARS}\" size=\"60\" value=\"{}\"></label></p>\
         <p><label>{}<br><textarea name=\"body\" id=\"article-body-input\" rows=\"14\" required>{}</textarea></label></p>\
         <p class=\"muted\">{}</p>\
         <p><label>{}<br><input name=\"checks\" size=\"60\" value=\"{}\" placeholder=\"dns. disk.free_low\"></label></p>\
         <p><label>{}<br><input name=\"fingerprints\" size=\"60\" value=\"{}\"></label></p>\
         <button type=\"submit\">{}</button></form>",
        t("staff-knowledge-title"),
        field("title"),
        t("staff-knowledge-body"),
        field("body"),
        t("staff-knowledge-markdown"),
        t("staff-knowledge-checks-hint"),
        field("checks"),
        t("staff-knowledge-fingerprints-hint"),
        field("fingerprints"),
        t("staff-save"),
    );
    form
}

/// `/knowledge/articles/new`.
pub(super) async fn new_article(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let staff = match signed_in(&state, &headers).await {
        Ok(staff) => staff,
        Err(redirect) => return redirect,
    };
    let mut fields = HashMap::new();
    if let Some(check) = query.get("check") {
        fields.insert("checks".to_owned(), check.clone());
    }
    if let Some(fingerprint) = query.get("fingerprint") {
        fields.insert("fingerprints".to_owned(), fingerprint.clone());
    }
    let body = article_form(&staff, None, &fields, None);
    signed_page(&staff, &staff.t("staff-knowledge-write"), &body, None)
}

/// `/knowledge/articles/{id}/edit`.
pub(super) async fn edit_article(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let staff = match signed_in(&state, &headers).await {
        Ok(staff) => staff,
        Err(redirect) => return redirect,
    };
    let article = match load(&state, &staff, &id).await {
        Ok(article) => article,
        Err(refused) => return refused,
    };
    let fields: HashMap<String, String> = [
        ("title", article.title.clone()),
        ("body", article.body.clone()),
        ("checks", article.checks.join(" ")),
        ("fingerprints", article.fingerprints.join(" ")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let body = article_form(&staff, Some(article.id), &fields, None);
    signed_page(&staff, &staff.t("staff-knowledge-edit"), &body, None)
}

/// `POST /knowledge/articles`: saves the form, then shows the article; a refused draft comes
/// back in its form with what is wrong.
pub(super) async fn save_article(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let staff = match signed_in_form(&state, &headers, &form).await {
        Ok(staff) => staff,
        Err(refused) => return refused,
    };
    let field = |key: &str| form.get(key).map(String::as_str).unwrap_or_default();
    let id = match field("id").trim() {
        "" => None,
        text => match text.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => {
                return problem(
                    Some(&staff),
                    StatusCode::NOT_FOUND,
                    &staff.t("staff-knowledge-missing"),
                );
            }
        },
    };
    let draft = match ArticleDraft::read(
        field("title"),
        field("body"),
        field("checks"),
        field("fingerprints"),
    ) {
        Ok(draft) => draft,
        Err(refused) => {
            let words = match refused {
                DraftProblem::TitleEmpty => staff.t("staff-knowledge-title-empty"),
                DraftProblem::TitleTooLong => {
                    staff.say(&msg!("staff-knowledge-title-long", "limit" => MAX_TITLE_CHARS))
                }
                DraftProblem::BodyEmpty => staff.t("staff-knowledge-body-empty"),
                DraftProblem::BodyTooLong => {
                    staff.say(&msg!("staff-knowledge-body-long", "limit" => MAX_BODY_BYTES))
                }
                DraftProblem::TooManyLinks => {
                    staff.say(&msg!("staff-knowledge-too-many-links", "limit" => MAX_LINKS))
                }
                DraftProblem::BadCheck(check) => {
                    staff.say(&msg!("staff-knowledge-bad-check", "value" => check))
                }
            };
            let body = article_form(&staff, id, &form, Some(&words));
            let mut response = signed_page(&staff, &staff.t("staff-knowledge-write"), &body, None);
            *response.status_mut() = StatusCode::BAD_REQUEST;
            return response;
        }
    };
    match state
        .store
        .save_article(id, &draft, &staff.caller.name, now_ms())
        .await
    {
        Ok(Some(id)) => {
            tracing::info!(user = %staff.caller.name, article = id, "knowledge article saved");
            Redirect::to(&format!("/knowledge/articles/{id}")).into_response()
        }
        Ok(None) => problem(
            Some(&staff),
            StatusCode::NOT_FOUND,
            &staff.t("staff-knowledge-missing"),
        ),
        Err(e) => unavailable(&staff, "saving an article", &e),
    }
}

/// `POST /knowledge/articles/{id}/delete` (supervisors and admins).
pub(super) async fn delete_article(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let staff = match signed_in_form(&state, &headers, &form).await {
        Ok(staff) => staff,
        Err(refused) => return refused,
    };
    if staff.caller.role < Role::Supervisor {
        return problem(
            Some(&staff),
            StatusCode::FORBIDDEN,
            &staff.t("staff-knowledge-delete-who"),
        );
    }
    match state.store.delete_article(id).await {
        Ok(true) => {
            tracing::info!(user = %staff.caller.name, article = id, "knowledge article deleted");
            Redirect::to("/knowledge").into_response()
        }
        Ok(false) => problem(
            Some(&staff),
            StatusCode::NOT_FOUND,
            &staff.t("staff-knowledge-missing"),
        ),
        Err(e) => unavailable(&staff, "deleting an article", &e),
    }
}

/// `POST /knowledge/replies` (admins): saves a canned reply under its title.
pub(super) async fn save_reply(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let staff = match signed_in_form(&state, &headers, &form).await {
        Ok(staff) => staff,
        Err(refused) => return refused,
    };
    if staff.caller.role != Role::Admin {
        return problem(
            Some(&staff),
            StatusCode::FORBIDDEN,
            &staff.t("staff-replies-who"),
        );
    }
    let title = form.get("title").map(|t| t.trim()).unwrap_or_default();
    let text = form.get("body").map(|t| t.trim()).unwrap_or_default();
    if title.is_empty()
        || title.chars().count() > MAX_TITLE_CHARS
        || text.is_empty()
        || text.len() > MAX_BODY_BYTES
    {
        return problem(
            Some(&staff),
            StatusCode::BAD_REQUEST,
            &staff.t("staff-replies-bad"),
        );
    }
    match state
        .store
        .save_canned_reply(title, text, &staff.caller.name, now_ms())
        .await
    {
        Ok(()) => {
            tracing::info!(user = %staff.caller.name, reply = %title, "canned reply saved");
            Redirect::to("/knowledge#replies").into_response()
        }
        Err(e) => unavailable(&staff, "saving a canned reply", &e),
    }
}

/// `POST /knowledge/replies/{id}/delete` (admins).
pub(super) async fn delete_reply(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let staff = match signed_in_form(&state, &headers, &form).await {
        Ok(staff) => staff,
        Err(refused) => return refused,
    };
    if staff.caller.role != Role::Admin {
        return problem(
            Some(&staff),
            StatusCode::FORBIDDEN,
            &staff.t("staff-replies-who"),
        );
    }
    match state.store.delete_canned_reply(id).await {
        Ok(_) => Redirect::to("/knowledge#replies").into_response(),
        Err(e) => unavailable(&staff, "deleting a canned reply", &e),
    }
}

/// The articles that answer a ticket, for its page: each linked, and a link to write one
/// for this check and fault.
pub(super) async fn suggested(
    state: &HttpState,
    staff: &Staff,
    check: &str,
    fingerprint: &str,
) -> String {
    let t = |id: &str| esc(&staff.t(id));
    let articles = state
        .store
        .articles_for(check, fingerprint)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "ticket page: articles");
            Vec::new()
        });
    let mut section = format!("<h2>{}</h2>", t("staff-knowledge-articles"));
    if articles.is_empty() {
        let _ = write!(
            section,
            "<p class=\"muted\" id=\"suggested-articles\">{}</p>",
            t("staff-knowledge-none-for-ticket")
        );
    } else {
        section.push_str("<ul class=\"hits\" id=\"suggested-articles\">");
        let now = now_ms();
        for article in articles.iter().take(10) {
            section.push_str(&article_line(staff, article, now));
        }
        section.push_str("</ul>");
    }
    let _ = write!(
        section,
        "<p><a href=\"/knowledge/articles/new?check={}&amp;fingerprint={}\">{}</a></p>",
        url_encode(check),
        url_encode(fingerprint),
        t("staff-knowledge-write-for-ticket"),
    );
    section
}
