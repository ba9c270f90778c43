//! `/search?q=…`: one box on every page finds tickets (by their words, their evidence,
//! their devices and their people), devices, people and known fixes, through
//! [`crate::store::Store::search`].

use std::collections::HashMap;
use std::fmt::Write;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use firstline_i18n::msg;

use super::html::esc;
use super::{signed_in, signed_page, unavailable};
use crate::http::HttpState;
use crate::net::url_encode;
use crate::store::search::{SearchHit, SearchKind, SearchQuery, Snippet};

/// The longest query the box takes, in characters.
const MAX_QUERY_CHARS: usize = 200;

/// `/search`.
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
    let text = query.get("q").map(|q| q.trim()).unwrap_or_default();
    let mut body = format!("<h1>{}</h1>", t("staff-search"));
    let kind = match query
        .get("kind")
        .map(|k| k.trim())
        .filter(|k| !k.is_empty())
    {
        None => None,
        Some(name) => match SearchKind::parse(name) {
            Some(kind) => Some(kind),
            None => {
                let valid = SearchKind::ALL.map(SearchKind::as_str).join(", ");
                let _ = write!(
                    body,
                    "<p class=\"error filter-problem\">{}</p>",
                    esc(&msg!("staff-filter-bad", "field" => staff.t("staff-filter-kind"), "value" => name, "valid" => valid).text(lang))
                );
                None
            }
        },
    };
    let _ = write!(
        body,
        "<form class=\"filters\" method=\"get\" action=\"/search\"><label>{}<br><input type=\"search\" name=\"q\" id=\"search-words\" size=\"40\" value=\"{}\" maxlength=\"{MAX_QUERY_CHARS}\"></label>\
         <label>{}<br><select name=\"kind\"><option value=\"\">{}</option>",
        t("staff-search-words"),
        esc(text),
        t("staff-filter-kind"),
        t("staff-filter-any"),
    );
    for option in SearchKind::ALL {
        let selected = if kind == Some(option) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            body,
            "<option value=\"{}\"{selected}>{}</option>",
            option.as_str(),
            t(&format!("staff-search-kind-{}", option.as_str()))
        );
    }
    let _ = write!(
        body,
        "</select></label><button type=\"submit\">{}</button></form>",
        t("staff-search")
    );
    if text.is_empty() {
        let _ = write!(body, "<p class=\"muted\">{}</p>", t("staff-search-hint"));
        return signed_page(&staff, &staff.t("staff-search"), &body, None);
    }
    if text.chars().count() > MAX_QUERY_CHARS {
        let _ = write!(
            body,
            "<p class=\"error\">{}</p>",
            esc(&msg!("staff-search-too-long", "limit" => MAX_QUERY_CHARS).text(lang))
        );
        return signed_page(&staff, &staff.t("staff-search"), &body, None);
    }
    let mut search = SearchQuery::new(text);
    search.kinds = kind.into_iter().collect();
    let results = match state.store.search(&search).await {
        Ok(results) => results,
        // Only punctuation, or too many words: said, with what to do.
        Err(crate::store::StoreError::Invalid { .. }) => {
            let _ = write!(
                body,
                "<p class=\"error\" id=\"unreadable\">{}</p>",
                esc(&msg!("staff-search-unreadable", "limit" => crate::store::search::MAX_QUERY_TERMS).text(lang))
            );
            return signed_page(&staff, &staff.t("staff-search"), &body, None);
        }
        Err(e) => {
            return unavailable(&staff, "search", &e);
        }
    };
    let total: usize = SearchKind::ALL.iter().map(|k| results.of(*k).len()).sum();
    if total == 0 {
        let _ = write!(
            body,
            "<p class=\"muted\" id=\"no-hits\">{}</p>",
            esc(&msg!("staff-search-nothing", "words" => text).text(lang))
        );
    }
    for kind in SearchKind::ALL {
        let hits = results.of(kind);
        if hits.is_empty() {
            continue;
        }
        let id = match kind {
            SearchKind::Tickets => "ticket-hits",
            SearchKind::Devices => "device-hits",
            SearchKind::People => "people-hits",
            SearchKind::Knowledge => "knowledge-hits",
        };
        let _ = write!(
            body,
            "<h2>{} ({})</h2><ul class=\"hits\" id=\"{id}\">",
            t(&format!("staff-search-kind-{}", kind.as_str())),
            hits.len()
        );
        for hit in hits {
            let _ = write!(
                body,
                "<li><a href=\"{}\">{}</a><br><span class=\"muted\">{}</span></li>",
                esc(&link(kind, hit)),
                esc(&hit.label),
                marked(&hit.snippet)
            );
        }
        body.push_str("</ul>");
    }
    signed_page(&staff, &staff.t("staff-search"), &body, None)
}

/// Where a hit leads.
fn link(kind: SearchKind, hit: &SearchHit) -> String {
    match kind {
        SearchKind::Tickets => format!("/tickets/{}", url_encode(&hit.id)),
        SearchKind::Devices => format!("/devices/{}", url_encode(&hit.id)),
        // A person's devices.
        SearchKind::People => format!("/devices?q={}", url_encode(&hit.id)),
        SearchKind::Knowledge => match hit.id.strip_prefix(crate::store::search::ARTICLE_PREFIX) {
            Some(article) => format!("/knowledge/articles/{}", url_encode(article)),
            None => format!("/knowledge?q={}", url_encode(&hit.label)),
        },
    }
}

/// A snippet as HTML: its text escaped, the matched words in `<mark>`. Marks that do not
/// fall on the text's character boundaries, overlap or run backwards are left out.
fn marked(snippet: &Snippet) -> String {
    let text = snippet.text.as_str();
    let mut out = String::with_capacity(text.len() + 32);
    let mut at = 0;
    for mark in &snippet.marks {
        let (Some(before), Some(word)) = (text.get(at..mark.start), text.get(mark.start..mark.end))
        else {
            continue;
        };
        if mark.start < at || word.is_empty() {
            continue;
        }
        out.push_str(&esc(before));
        let _ = write!(out, "<mark>{}</mark>", esc(word));
        at = mark.end;
    }
    out.push_str(&esc(text.get(at..).unwrap_or_default()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::search::Mark;

    #[test]
    fn a_snippet_is_escaped_and_its_marks_are_kept_honest() {
        let snippet = Snippet {
            text: "<b>carol</b> cannot reach intranet".to_owned(),
            marks: vec![
                Mark { start: 3, end: 8 },
                Mark { start: 26, end: 34 },
                // Backwards, overlapping and out of range: left out.
                Mark { start: 5, end: 2 },
                Mark { start: 30, end: 40 },
            ],
        };
        assert_eq!(
            marked(&snippet),
            "&lt;b&gt;<mark>carol</mark>&lt;/b&gt; cannot reach <mark>intranet</mark>"
        );
        let chinese = Snippet {
            text: "打印机无法连接".to_owned(),
            marks: vec![Mark { start: 0, end: 9 }, Mark { start: 1, end: 4 }],
        };
        assert_eq!(marked(&chinese), "<mark>打印机</mark>无法连接");
    }
}
