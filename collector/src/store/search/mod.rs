//! One search across tickets, devices, people and the knowledge base (issue 18): a document
//! per thing in `search_documents`, its words in SQLite's FTS5 or PostgreSQL's tsvector.
//!
//! The words are made here, not by either database (`words.rs`), so both backends find the
//! same things: lower case, accents folded, CJK text as single characters and overlapping
//! pairs. Triggers (migration 0019) mark what changed in `search_stale`, a small row per
//! write; every search first rebuilds the documents marked since the last one, so ingest never
//! builds documents and a search never misses a committed write.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{Backend, Store, StoreError};

pub mod words;

use words::QueryTerm;
pub use words::{Mark, Snippet};

/// How an article's knowledge document is named: `article/` and its id. No fingerprint can
/// be named so: one is a check's name (letters, digits, `._-`), a colon and a resource.
pub const ARTICLE_PREFIX: &str = "article/";
/// At most this many characters of query: longer is refused, not cut.
pub const MAX_QUERY_CHARS: usize = 500;
/// At most this many words in a query.
pub const MAX_QUERY_TERMS: usize = 16;
/// At most this many hits per kind.
pub const MAX_LIMIT: usize = 100;
/// Hits per kind when the caller does not say.
pub const DEFAULT_LIMIT: usize = 10;
/// Documents rebuilt per transaction.
const REFRESH_BATCH: usize = 100;
/// Documents a search rebuilds at most before it answers (the backfill after an upgrade is
/// spread over the first searches, or done by [`Store::refresh_search_index`]).
const REFRESH_PER_SEARCH: usize = 5_000;
/// Bytes of a document's text kept for snippets.
const BODY_BYTES: usize = 16_000;
/// Bytes of a document's text indexed (a ticket with a huge timeline keeps its start).
const INDEXED_BYTES: usize = 256_000;
/// Accounts of a ticket or device whose display names go into its document.
const PEOPLE_PER_DOCUMENT: usize = 100;
/// PostgreSQL's advisory lock key for rebuilding documents ("search" in ASCII).
const SEARCH_REFRESH_LOCK: i64 = 0x7365_6172_6368;
/// Timeline entries of a ticket read into its document, newest last.
const TIMELINE_ENTRIES: i64 = 1_000;

/// What a search looks in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SearchKind {
    Tickets,
    Devices,
    People,
    Knowledge,
}

impl SearchKind {
    pub const ALL: [SearchKind; 4] = [
        SearchKind::Tickets,
        SearchKind::Devices,
        SearchKind::People,
        SearchKind::Knowledge,
    ];

    /// `tickets`, `devices`, `people` or `knowledge` (the REST API's `kind=`).
    pub fn parse(name: &str) -> Option<SearchKind> {
        SearchKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SearchKind::Tickets => "tickets",
            SearchKind::Devices => "devices",
            SearchKind::People => "people",
            SearchKind::Knowledge => "knowledge",
        }
    }

    /// The kind as `search_documents.kind` spells it.
    fn document_kind(self) -> &'static str {
        match self {
            SearchKind::Tickets => "ticket",
            SearchKind::Devices => "device",
            SearchKind::People => "person",
            SearchKind::Knowledge => "knowledge",
        }
    }
}

/// A search: every word must match (the last one as a prefix, as a person types), in any of
/// the kinds asked for (none: all of them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    pub text: String,
    pub kinds: Vec<SearchKind>,
    /// Hits per kind, 1 to [`MAX_LIMIT`].
    pub limit: usize,
}

impl SearchQuery {
    /// A search of every kind, [`DEFAULT_LIMIT`] hits each.
    pub fn new(text: impl Into<String>) -> Self {
        SearchQuery {
            text: text.into(),
            kinds: Vec::new(),
            limit: DEFAULT_LIMIT,
        }
    }
}

/// The hits of a search, by kind, best first. A kind not searched is empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SearchResults {
    pub tickets: Vec<SearchHit>,
    pub devices: Vec<SearchHit>,
    pub people: Vec<SearchHit>,
    pub knowledge: Vec<SearchHit>,
}

impl SearchResults {
    pub fn of(&self, kind: SearchKind) -> &[SearchHit] {
        match kind {
            SearchKind::Tickets => &self.tickets,
            SearchKind::Devices => &self.devices,
            SearchKind::People => &self.people,
            SearchKind::Knowledge => &self.knowledge,
        }
    }

    fn of_mut(&mut self, kind: SearchKind) -> &mut Vec<SearchHit> {
        match kind {
            SearchKind::Tickets => &mut self.tickets,
            SearchKind::Devices => &mut self.devices,
            SearchKind::People => &mut self.people,
            SearchKind::Knowledge => &mut self.knowledge,
        }
    }
}

/// One thing found.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SearchHit {
    /// A ticket's number, a device's id, a person's account, a knowledge entry's fingerprint.
    pub id: String,
    /// What to show as the link: `#12 DNS fails on pc-7`, a hostname, a display name.
    pub label: String,
    pub snippet: Snippet,
    /// Higher is better; comparable only within one kind of one search.
    pub rank: f64,
}

/// `(account, display name)` lines of `accounts`, the display name where the directory
/// has one.
macro_rules! people_lines {
    ($transaction:ident, $accounts:expr) => {{
        let mut lines: Vec<String> = Vec::new();
        for account in $accounts {
            let name: Option<String> =
                sqlx::query_scalar("SELECT display_name FROM people WHERE account = $1")
                    .bind(account)
                    .fetch_optional(&mut *$transaction)
                    .await?;
            lines.push(match name {
                Some(name) => format!("{account} {name}"),
                None => account.clone(),
            });
        }
        lines
    }};
}

/// The accounts of a `users_json` list added to `$users`, each once, at most
/// [`PEOPLE_PER_DOCUMENT`] in all (a list that does not read adds none).
macro_rules! add_users {
    ($users:ident, $list:expr) => {
        if let Some(list) = $list {
            for user in serde_json::from_str::<Vec<String>>(&list).unwrap_or_default() {
                if $users.len() < PEOPLE_PER_DOCUMENT && !$users.contains(&user) {
                    $users.push(user);
                }
            }
        }
    };
}

/// A ticket's document: title, description, requester and affected users (account and
/// display name), its devices' hostnames, and its timeline (notes and evidence values).
macro_rules! ticket_document {
    ($transaction:ident, $entity_id:expr) => {{
        let ticket = match $entity_id.parse::<i64>() {
            Ok(id) => {
                sqlx::query(
                    "SELECT id, title, description, requester, device_id FROM tickets WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&mut *$transaction)
                .await?
            }
            Err(_) => None,
        };
        match ticket {
            None => None,
            Some(row) => {
                let id: i64 = row.try_get("id")?;
                let title: String = row.try_get("title")?;
                let description: String = row.try_get("description")?;
                let requester: Option<String> = row.try_get("requester")?;
                let device_id: Option<String> = row.try_get("device_id")?;
                let devices = sqlx::query(
                    "SELECT hostname, users_json FROM devices WHERE id = $1 \
                     OR id IN (SELECT device_id FROM ticket_devices WHERE ticket_id = $2) \
                     ORDER BY id LIMIT 200",
                )
                .bind(&device_id)
                .bind(id)
                .fetch_all(&mut *$transaction)
                .await?;
                let mut users: Vec<String> = requester.into_iter().collect();
                let mut hostnames: Vec<String> = Vec::new();
                for device in &devices {
                    hostnames.push(device.try_get("hostname")?);
                    add_users!(users, device.try_get::<Option<String>, _>("users_json")?);
                }
                let people = people_lines!($transaction, &users);
                let timeline = sqlx::query(
                    "SELECT text, data_json FROM ticket_events WHERE ticket_id = $1 ORDER BY id LIMIT $2",
                )
                .bind(id)
                .bind(TIMELINE_ENTRIES)
                .fetch_all(&mut *$transaction)
                .await?;
                let mut text = words::Text::new(INDEXED_BYTES);
                text.push(&title);
                text.push(&description);
                for line in &people {
                    text.push(line);
                }
                text.push(&hostnames.join(" "));
                for entry in &timeline {
                    text.push(&entry.try_get::<String, _>("text")?);
                    if let Some(data) = entry.try_get::<Option<String>, _>("data_json")? {
                        text.push_json_values(&data);
                    }
                }
                Some(Document {
                    label: format!("#{id} {title}"),
                    text: text.into_string(),
                })
            }
        }
    }};
}

/// A device's document: hostname, site, OS, and its users (account and display name).
macro_rules! device_document {
    ($transaction:ident, $entity_id:expr) => {{
        let device = sqlx::query(
            "SELECT id, hostname, site, os_name, os_version, users_json FROM devices WHERE id = $1",
        )
        .bind($entity_id)
        .fetch_optional(&mut *$transaction)
        .await?;
        match device {
            None => None,
            Some(row) => {
                let hostname: String = row.try_get("hostname")?;
                let mut users: Vec<String> = Vec::new();
                add_users!(users, row.try_get::<Option<String>, _>("users_json")?);
                let people = people_lines!($transaction, &users);
                let mut text = words::Text::new(INDEXED_BYTES);
                text.push(&hostname);
                text.push(&format!("site {}", row.try_get::<String, _>("site")?));
                text.push(&format!(
                    "{} {}",
                    row.try_get::<Option<String>, _>("os_name")?
                        .unwrap_or_default(),
                    row.try_get::<Option<String>, _>("os_version")?
                        .unwrap_or_default()
                ));
                for line in &people {
                    text.push(line);
                }
                text.push(&row.try_get::<String, _>("id")?);
                Some(Document {
                    label: hostname,
                    text: text.into_string(),
                })
            }
        }
    }};
}

/// A person's document: display name, account, e-mail address.
macro_rules! person_document {
    ($transaction:ident, $entity_id:expr) => {{
        let person =
            sqlx::query("SELECT account, display_name, email FROM people WHERE account = $1")
                .bind($entity_id)
                .fetch_optional(&mut *$transaction)
                .await?;
        match person {
            None => None,
            Some(row) => {
                let display_name: String = row.try_get("display_name")?;
                let mut text = words::Text::new(INDEXED_BYTES);
                text.push(&display_name);
                text.push(&row.try_get::<String, _>("account")?);
                if let Some(email) = row.try_get::<Option<String>, _>("email")? {
                    text.push(&email);
                }
                Some(Document {
                    label: display_name,
                    text: text.into_string(),
                })
            }
        }
    }};
}

/// An article's document (`article/ID`): its title, its Markdown and the checks and
/// fingerprints it answers.
macro_rules! article_document {
    ($transaction:ident, $id:expr) => {{
        let article = match $id.parse::<i64>() {
            Ok(id) => {
                sqlx::query("SELECT title, body, checks, fingerprints FROM articles WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *$transaction)
                    .await?
            }
            Err(_) => None,
        };
        match article {
            None => None,
            Some(row) => {
                let title: String = row.try_get("title")?;
                let mut text = words::Text::new(INDEXED_BYTES);
                text.push(&title);
                text.push(&row.try_get::<String, _>("body")?);
                text.push(&row.try_get::<String, _>("checks")?);
                text.push(&row.try_get::<String, _>("fingerprints")?);
                Some(Document {
                    label: title,
                    text: text.into_string(),
                })
            }
        }
    }};
}

/// A knowledge entry's document: an article's (`article/ID`), or a fingerprint's: the
/// fingerprint, its check and the solutions that worked.
macro_rules! knowledge_document {
    ($transaction:ident, $entity_id:expr) => {{
        if let Some(id) = $entity_id.strip_prefix(ARTICLE_PREFIX) {
            article_document!($transaction, id)
        } else {
            solutions_document!($transaction, $entity_id)
        }
    }};
}

/// The solutions log's document of one fingerprint.
macro_rules! solutions_document {
    ($transaction:ident, $entity_id:expr) => {{
        let solutions = sqlx::query(
            "SELECT check_name, solution FROM solutions WHERE fingerprint = $1 \
             ORDER BY worked_count DESC, last_at_ms DESC LIMIT 50",
        )
        .bind($entity_id)
        .fetch_all(&mut *$transaction)
        .await?;
        match solutions.first() {
            None => None,
            Some(first) => {
                let mut text = words::Text::new(INDEXED_BYTES);
                text.push($entity_id);
                text.push(&first.try_get::<String, _>("check_name")?);
                for row in &solutions {
                    text.push(&row.try_get::<String, _>("solution")?);
                }
                Some(Document {
                    label: $entity_id.to_owned(),
                    text: text.into_string(),
                })
            }
        }
    }};
}

/// Writes a thing's document with its words, or removes it (`None`: the thing is gone).
macro_rules! write_document {
    ($transaction:ident, $postgres:expr, $kind:expr, $entity_id:expr, $document:expr) => {
        match $document {
            Some(document) => {
                let terms = words::document_terms(&document.text);
                let body = words::truncate(&document.text, BODY_BYTES);
                if $postgres {
                    sqlx::query(
                        "INSERT INTO search_documents (kind, entity_id, label, body, terms) \
                         VALUES ($1, $2, $3, $4, CAST($5 AS tsvector)) \
                         ON CONFLICT (kind, entity_id) DO UPDATE SET label = excluded.label, \
                         body = excluded.body, terms = excluded.terms",
                    )
                    .bind($kind)
                    .bind($entity_id)
                    .bind(&document.label)
                    .bind(body)
                    .bind(words::postgres_vector(&terms))
                    .execute(&mut *$transaction)
                    .await?;
                } else {
                    let existing: Option<i64> = sqlx::query_scalar(
                        "SELECT id FROM search_documents WHERE kind = $1 AND entity_id = $2",
                    )
                    .bind($kind)
                    .bind($entity_id)
                    .fetch_optional(&mut *$transaction)
                    .await?;
                    let id: i64 = match existing {
                        Some(id) => {
                            sqlx::query("DELETE FROM search_terms WHERE rowid = $1")
                                .bind(id)
                                .execute(&mut *$transaction)
                                .await?;
                            sqlx::query(
                                "UPDATE search_documents SET label = $1, body = $2 WHERE id = $3",
                            )
                            .bind(&document.label)
                            .bind(body)
                            .bind(id)
                            .execute(&mut *$transaction)
                            .await?;
                            id
                        }
                        None => {
                            sqlx::query_scalar(
                                "INSERT INTO search_documents (kind, entity_id, label, body) \
                                 VALUES ($1, $2, $3, $4) RETURNING id",
                            )
                            .bind($kind)
                            .bind($entity_id)
                            .bind(&document.label)
                            .bind(body)
                            .fetch_one(&mut *$transaction)
                            .await?
                        }
                    };
                    sqlx::query("INSERT INTO search_terms (rowid, terms) VALUES ($1, $2)")
                        .bind(id)
                        .bind(terms.join(" "))
                        .execute(&mut *$transaction)
                        .await?;
                }
            }
            None => {
                if !$postgres {
                    sqlx::query(
                        "DELETE FROM search_terms WHERE rowid IN \
                         (SELECT id FROM search_documents WHERE kind = $1 AND entity_id = $2)",
                    )
                    .bind($kind)
                    .bind($entity_id)
                    .execute(&mut *$transaction)
                    .await?;
                }
                sqlx::query("DELETE FROM search_documents WHERE kind = $1 AND entity_id = $2")
                    .bind($kind)
                    .bind($entity_id)
                    .execute(&mut *$transaction)
                    .await?;
            }
        }
    };
}

impl Store {
    /// Searches tickets, devices, people and knowledge for `query`'s words. A query without
    /// a letter or digit, longer than [`MAX_QUERY_CHARS`] or of more than
    /// [`MAX_QUERY_TERMS`] words is refused ([`StoreError::Invalid`]); any other text,
    /// whatever its punctuation, is searched for as words.
    pub async fn search(&self, query: &SearchQuery) -> Result<SearchResults, StoreError> {
        let terms = parse_query(&query.text)?;
        if !(1..=MAX_LIMIT).contains(&query.limit) {
            return Err(StoreError::Invalid {
                what: "search limit",
                detail: format!("{} is not between 1 and {MAX_LIMIT}", query.limit),
            });
        }
        // The index may lag what is committed by the marks not rebuilt yet: rebuild them. A
        // store that cannot write still answers from the index it has.
        if let Err(error) = self.refresh_search_index(REFRESH_PER_SEARCH).await {
            tracing::warn!(error = %error, "search: bringing the index up to date failed");
        }
        let postgres = matches!(self.backend, Backend::Postgres(_));
        let (sql, match_text) = if postgres {
            (
                "SELECT entity_id, label, body, \
                 CAST(ts_rank(terms, CAST($1 AS tsquery)) AS DOUBLE PRECISION) AS score \
                 FROM search_documents WHERE kind = $2 AND terms @@ CAST($1 AS tsquery) \
                 ORDER BY score DESC, id LIMIT $3",
                words::postgres_query(&terms),
            )
        } else {
            (
                "SELECT d.entity_id, d.label, d.body, -bm25(search_terms) AS score \
                 FROM search_terms JOIN search_documents d ON d.id = search_terms.rowid \
                 WHERE search_terms MATCH $1 AND d.kind = $2 \
                 ORDER BY bm25(search_terms), d.id LIMIT $3",
                words::fts5_query(&terms),
            )
        };
        let kinds: &[SearchKind] = if query.kinds.is_empty() {
            &SearchKind::ALL
        } else {
            &query.kinds
        };
        let limit = i64::try_from(query.limit).unwrap_or(10);
        let mut results = SearchResults::default();
        for &kind in kinds {
            let rows = with_pool!(self, pool => {
                sqlx::query(sql)
                    .bind(&match_text)
                    .bind(kind.document_kind())
                    .bind(limit)
                    .fetch_all(pool)
                    .await?
                    .iter()
                    .map(|row| -> Result<(String, String, String, f64), sqlx::Error> {
                        Ok((
                            row.try_get("entity_id")?,
                            row.try_get("label")?,
                            row.try_get("body")?,
                            row.try_get("score")?,
                        ))
                    })
                    .collect::<Result<Vec<_>, _>>()?
            });
            let hits = results.of_mut(kind);
            if !hits.is_empty() {
                continue; // the kind was asked for twice
            }
            for (id, label, body, rank) in rows {
                hits.push(SearchHit {
                    snippet: words::snippet(&body, &terms),
                    id,
                    label,
                    rank,
                });
            }
        }
        Ok(results)
    }

    /// How many marks wait in the index's queue (`search_stale`; on PostgreSQL a thing may be
    /// marked more than once, so this is at least how many things).
    pub async fn search_marks(&self) -> Result<usize, StoreError> {
        let marks: i64 = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM search_stale")
                .fetch_one(pool)
                .await?
        });
        Ok(usize::try_from(marks).unwrap_or(0))
    }

    /// Rebuilds the documents of what changed since it was last indexed (at most `max`, in
    /// small transactions); returns how many. Searches do this first; a quiet collector can
    /// call it to keep searches quick (after an upgrade, the whole backfill is waiting).
    pub async fn refresh_search_index(&self, max: usize) -> Result<usize, StoreError> {
        let postgres = matches!(self.backend, Backend::Postgres(_));
        let begin = self.backend.begin_statement();
        // Each thing once, however often it was marked (PostgreSQL's marks are not unique).
        let pick = "SELECT kind, entity_id FROM search_stale GROUP BY kind, entity_id \
                    ORDER BY kind, entity_id LIMIT $1";
        let mut refreshed = 0;
        while refreshed < max {
            let batch = REFRESH_BATCH.min(max - refreshed);
            // A read first: a search with nothing to rebuild takes no write lock.
            let marked = with_pool!(self, pool => {
                sqlx::query("SELECT 1 AS marked FROM search_stale LIMIT 1")
                    .fetch_optional(pool)
                    .await?
                    .is_some()
            });
            if !marked {
                break;
            }
            let done = with_pool!(self, pool => {
                let _turn = self.write_turn().await;
                let mut transaction = pool.begin_with(begin).await?;
                if postgres {
                    // One rebuilder at a time across collectors: two would delete each
                    // other's marks in different orders. (SQLite's BEGIN IMMEDIATE is one.)
                    sqlx::query("SELECT pg_advisory_xact_lock($1)")
                        .bind(SEARCH_REFRESH_LOCK)
                        .execute(&mut *transaction)
                        .await?;
                }
                let stale: Vec<(String, String)> = sqlx::query(pick)
                    .bind(i64::try_from(batch).unwrap_or(100))
                    .fetch_all(&mut *transaction)
                    .await?
                    .iter()
                    .map(|row| Ok((row.try_get("kind")?, row.try_get("entity_id")?)))
                    .collect::<Result<_, sqlx::Error>>()?;
                // Unmarked first: what rebuilding marks (a device's tickets) stays marked.
                for (kind, entity_id) in &stale {
                    sqlx::query("DELETE FROM search_stale WHERE kind = $1 AND entity_id = $2")
                        .bind(kind)
                        .bind(entity_id)
                        .execute(&mut *transaction)
                        .await?;
                }
                for (kind, entity_id) in &stale {
                    let document = match kind.as_str() {
                        "ticket" => ticket_document!(transaction, entity_id),
                        "device" => {
                            sqlx::query(TICKETS_OF_DEVICE)
                                .bind(entity_id)
                                .execute(&mut *transaction)
                                .await?;
                            device_document!(transaction, entity_id)
                        }
                        "person" => {
                            sqlx::query(TICKETS_OF_PERSON)
                                .bind(entity_id)
                                .execute(&mut *transaction)
                                .await?;
                            sqlx::query(DEVICES_OF_PERSON)
                                .bind(users_json_pattern(entity_id))
                                .execute(&mut *transaction)
                                .await?;
                            person_document!(transaction, entity_id)
                        }
                        "knowledge" => knowledge_document!(transaction, entity_id),
                        _ => None,
                    };
                    write_document!(transaction, postgres, kind, entity_id, document);
                }
                transaction.commit().await?;
                stale.len()
            });
            refreshed += done;
            // Not `done < batch`: rebuilding a person or a device marks their tickets.
            if done == 0 {
                break;
            }
        }
        Ok(refreshed)
    }
}

/// The words of a query, or why it cannot be searched.
fn parse_query(text: &str) -> Result<Vec<QueryTerm>, StoreError> {
    let invalid = |detail: String| StoreError::Invalid {
        what: "search query",
        detail,
    };
    let length = text.chars().count();
    if length > MAX_QUERY_CHARS {
        return Err(invalid(format!(
            "{length} characters is too long (at most {MAX_QUERY_CHARS})"
        )));
    }
    let terms = words::query_terms(text);
    if terms.is_empty() {
        return Err(invalid(
            "nothing to search for: type at least one letter or digit".to_owned(),
        ));
    }
    if terms.len() > MAX_QUERY_TERMS {
        return Err(invalid(format!(
            "{} words is too many (at most {MAX_QUERY_TERMS})",
            terms.len()
        )));
    }
    Ok(terms)
}

/// A thing's document: what to show, and the text its words come from.
struct Document {
    label: String,
    text: String,
}

/// Tickets that show a device's hostname or users, marked for rebuilding with it.
const TICKETS_OF_DEVICE: &str = "INSERT INTO search_stale (kind, entity_id) \
     SELECT 'ticket', CAST(id AS TEXT) FROM tickets WHERE device_id = $1 \
     UNION SELECT 'ticket', CAST(ticket_id AS TEXT) FROM ticket_devices WHERE device_id = $1 \
     ON CONFLICT DO NOTHING";
/// Tickets a person requested, marked for rebuilding with them (their devices' tickets
/// follow through [`DEVICES_OF_PERSON`]).
const TICKETS_OF_PERSON: &str = "INSERT INTO search_stale (kind, entity_id) \
     SELECT 'ticket', CAST(id AS TEXT) FROM tickets WHERE requester = $1 \
     ON CONFLICT DO NOTHING";
/// Devices a person uses (their `users_json` names the account), marked for rebuilding.
const DEVICES_OF_PERSON: &str = "INSERT INTO search_stale (kind, entity_id) \
     SELECT 'device', id FROM devices WHERE users_json LIKE $1 ESCAPE '\\' \
     ON CONFLICT DO NOTHING";

/// `%"account"%` as a LIKE pattern, the account as JSON writes it, `%`, `_` and `\` escaped.
fn users_json_pattern(account: &str) -> String {
    let quoted = serde_json::Value::String(account.to_owned()).to_string();
    let escaped = quoted
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

#[cfg(test)]
mod tests;
