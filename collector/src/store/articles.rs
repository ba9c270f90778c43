//! The knowledge base staff write: articles (Markdown, linked to check prefixes and fault
//! fingerprints, suggested on matching tickets) and the canned replies admins keep.

use sqlx::Row;

use super::{Backend, Store, StoreError};

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest article or reply, in bytes.
pub const MAX_BODY_BYTES: usize = 50_000;
/// Most checks or fingerprints one article links to.
pub const MAX_LINKS: usize = 20;

/// An article as staff wrote it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Article {
    pub id: i64,
    pub title: String,
    /// Markdown.
    pub body: String,
    /// Check prefixes it answers (`dns.`, `disk.free_low`).
    pub checks: Vec<String>,
    /// Fault fingerprints it answers.
    pub fingerprints: Vec<String>,
    pub author: String,
    pub created_at_ms: i64,
    pub updated_by: String,
    pub updated_at_ms: i64,
}

impl Article {
    /// Whether it answers a ticket about `check` with `fingerprint`.
    pub fn answers(&self, check: &str, fingerprint: &str) -> bool {
        self.checks
            .iter()
            .any(|prefix| check.starts_with(prefix.as_str()))
            || self.fingerprints.iter().any(|f| f == fingerprint)
    }
}

/// What a person typed into the article form, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleDraft {
    pub title: String,
    pub body: String,
    pub checks: Vec<String>,
    pub fingerprints: Vec<String>,
}

/// Why a draft was refused: the field and what is wrong, for the form to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DraftProblem {
    TitleEmpty,
    TitleTooLong,
    BodyEmpty,
    BodyTooLong,
    TooManyLinks,
    /// A check prefix with characters checks never have.
    BadCheck(String),
}

impl ArticleDraft {
    /// Checks a draft: a title and a body within bounds; checks as space- or comma-separated
    /// prefixes of check names; fingerprints as written.
    pub fn read(
        title: &str,
        body: &str,
        checks: &str,
        fingerprints: &str,
    ) -> Result<ArticleDraft, DraftProblem> {
        let title = title.trim();
        let body = body.trim();
        if title.is_empty() {
            return Err(DraftProblem::TitleEmpty);
        }
        if title.chars().count() > MAX_TITLE_CHARS {
            return Err(DraftProblem::TitleTooLong);
        }
        if body.is_empty() {
            return Err(DraftProblem::BodyEmpty);
        }
        if body.len() > MAX_BODY_BYTES {
            return Err(DraftProblem::BodyTooLong);
        }
        let split = |text: &str| -> Vec<String> {
            let mut items: Vec<String> = Vec::new();
            for item in text
                .split([' ', ',', '\n', '\r', '\t'])
                .filter(|i| !i.is_empty())
            {
                if !items.iter().any(|known| known == item) {
                    items.push(item.to_owned());
                }
            }
            items
        };
        let checks = split(checks);
        let fingerprints = split(fingerprints);
        if checks.len() > MAX_LINKS || fingerprints.len() > MAX_LINKS {
            return Err(DraftProblem::TooManyLinks);
        }
        if let Some(bad) = checks.iter().find(|check| {
            check.len() > 100
                || !check
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        }) {
            return Err(DraftProblem::BadCheck(bad.clone()));
        }
        if fingerprints.iter().any(|f| f.len() > 200) {
            return Err(DraftProblem::TooManyLinks);
        }
        Ok(ArticleDraft {
            title: title.to_owned(),
            body: body.to_owned(),
            checks,
            fingerprints,
        })
    }
}

/// A reply admins keep for technicians to send.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct CannedReply {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub updated_by: String,
    pub updated_at_ms: i64,
}

/// An article out of either backend's row.
macro_rules! article_of {
    ($row:expr) => {{
        let row = $row;
        let words = |text: String| -> Vec<String> {
            text.split(' ')
                .filter(|w| !w.is_empty())
                .map(str::to_owned)
                .collect()
        };
        Ok::<Article, sqlx::Error>(Article {
            id: row.try_get("id")?,
            title: row.try_get("title")?,
            body: row.try_get("body")?,
            checks: words(row.try_get("checks")?),
            fingerprints: words(row.try_get("fingerprints")?),
            author: row.try_get("author")?,
            created_at_ms: row.try_get("created_at_ms")?,
            updated_by: row.try_get("updated_by")?,
            updated_at_ms: row.try_get("updated_at_ms")?,
        })
    }};
}

impl Store {
    /// Every article, newest change first (the knowledge base is written by hand: hundreds,
    /// not millions), or those whose title or body holds every word of `words`.
    pub async fn articles(&self, words: Option<&str>) -> Result<Vec<Article>, StoreError> {
        let all: Vec<Article> = with_pool!(self, pool => {
            let rows = sqlx::query("SELECT * FROM articles ORDER BY updated_at_ms DESC, id DESC LIMIT 5000")
                .fetch_all(pool)
                .await?;
            rows.iter().map(|row| article_of!(row)).collect::<Result<Vec<_>, sqlx::Error>>()?
        });
        let words: Vec<String> = words
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        Ok(all
            .into_iter()
            .filter(|article| {
                let text = format!("{}\n{}", article.title, article.body).to_lowercase();
                words.iter().all(|word| text.contains(word.as_str()))
            })
            .collect())
    }

    pub async fn article(&self, id: i64) -> Result<Option<Article>, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query("SELECT * FROM articles WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?;
            Ok(row.as_ref().map(|row| article_of!(row)).transpose()?)
        })
    }

    /// The articles that answer a ticket about `check` with `fingerprint`.
    pub async fn articles_for(
        &self,
        check: &str,
        fingerprint: &str,
    ) -> Result<Vec<Article>, StoreError> {
        Ok(self
            .articles(None)
            .await?
            .into_iter()
            .filter(|article| article.answers(check, fingerprint))
            .collect())
    }

    /// Saves a new article (`id` None) or a change to one; its id, or None when `id` names
    /// no article.
    pub async fn save_article(
        &self,
        id: Option<i64>,
        draft: &ArticleDraft,
        by: &str,
        now_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        let checks = draft.checks.join(" ");
        let fingerprints = draft.fingerprints.join(" ");
        with_pool!(self, pool => {
            match id {
                None => {
                    let row = sqlx::query(
                        "INSERT INTO articles (title, body, checks, fingerprints, author, created_at_ms, updated_by, updated_at_ms) \
                         VALUES ($1, $2, $3, $4, $5, $6, $5, $6) RETURNING id",
                    )
                    .bind(&draft.title)
                    .bind(&draft.body)
                    .bind(&checks)
                    .bind(&fingerprints)
                    .bind(by)
                    .bind(now_ms)
                    .fetch_one(pool)
                    .await?;
                    Ok(Some(row.try_get::<i64, _>("id")?))
                }
                Some(id) => {
                    let changed = sqlx::query(
                        "UPDATE articles SET title = $1, body = $2, checks = $3, fingerprints = $4, updated_by = $5, \
                         updated_at_ms = $6 WHERE id = $7",
                    )
                    .bind(&draft.title)
                    .bind(&draft.body)
                    .bind(&checks)
                    .bind(&fingerprints)
                    .bind(by)
                    .bind(now_ms)
                    .bind(id)
                    .execute(pool)
                    .await?
                    .rows_affected();
                    Ok((changed == 1).then_some(id))
                }
            }
        })
    }

    /// Deletes an article; false when there was none.
    pub async fn delete_article(&self, id: i64) -> Result<bool, StoreError> {
        let deleted = with_pool!(self, pool => {
            sqlx::query("DELETE FROM articles WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(deleted == 1)
    }

    /// The canned replies, by title.
    pub async fn canned_replies(&self) -> Result<Vec<CannedReply>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query("SELECT * FROM canned_replies ORDER BY title LIMIT 1000")
                .fetch_all(pool)
                .await?;
            let mut replies = Vec::with_capacity(rows.len());
            for row in &rows {
                replies.push(CannedReply {
                    id: row.try_get("id")?,
                    title: row.try_get("title")?,
                    body: row.try_get("body")?,
                    updated_by: row.try_get("updated_by")?,
                    updated_at_ms: row.try_get("updated_at_ms")?,
                });
            }
            Ok(replies)
        })
    }

    /// Saves a canned reply under `title`, replacing the one with that title.
    pub async fn save_canned_reply(
        &self,
        title: &str,
        body: &str,
        by: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO canned_replies (title, body, updated_by, updated_at_ms) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (title) DO UPDATE SET body = excluded.body, updated_by = excluded.updated_by, \
                 updated_at_ms = excluded.updated_at_ms",
            )
            .bind(title)
            .bind(body)
            .bind(by)
            .bind(now_ms)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Deletes a canned reply; false when there was none.
    pub async fn delete_canned_reply(&self, id: i64) -> Result<bool, StoreError> {
        let deleted = with_pool!(self, pool => {
            sqlx::query("DELETE FROM canned_replies WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(deleted == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::{TestStore, backends};

    #[test]
    fn a_draft_is_checked_field_by_field() {
        assert_eq!(
            ArticleDraft::read(" ", "body", "", ""),
            Err(DraftProblem::TitleEmpty)
        );
        assert_eq!(
            ArticleDraft::read("t", "  ", "", ""),
            Err(DraftProblem::BodyEmpty)
        );
        assert_eq!(
            ArticleDraft::read("t", "b", "dns. <script>", ""),
            Err(DraftProblem::BadCheck("<script>".to_owned()))
        );
        let draft = ArticleDraft::read(
            "DNS at Warsaw",
            "Restart **it**",
            "dns., dns. disk.free_low",
            "fp1",
        )
        .expect("fine");
        assert_eq!(draft.checks, ["dns.", "disk.free_low"]);
        assert_eq!(draft.fingerprints, ["fp1"]);
    }

    #[tokio::test]
    async fn articles_are_written_found_by_words_and_suggested_by_check_or_fingerprint() {
        for TestStore { store, .. } in &backends().await {
            let name = store.backend_name();
            let draft = ArticleDraft::read(
                "Intranet does not resolve",
                "Flush the DNS cache: `ipconfig /flushdns`.",
                "dns.",
                "fp-intranet",
            )
            .expect("draft");
            let id = store
                .save_article(None, &draft, "tina", 1_000)
                .await
                .expect("save")
                .expect("id");
            let other = ArticleDraft::read("Printer jams", "Open tray 2.", "services.spooler", "")
                .expect("draft");
            store
                .save_article(None, &other, "omar", 2_000)
                .await
                .expect("save");
            let found = store.articles(Some("FLUSH cache")).await.expect("search");
            assert_eq!(
                found.iter().map(|a| a.id).collect::<Vec<_>>(),
                [id],
                "{name}"
            );
            let suggested = store.articles_for("dns.resolve", "x").await.expect("for");
            assert_eq!(suggested.len(), 1, "{name}: by check prefix");
            let suggested = store
                .articles_for("https.status", "fp-intranet")
                .await
                .expect("for");
            assert_eq!(suggested.len(), 1, "{name}: by fingerprint");
            assert!(
                store
                    .articles_for("disk.free_low", "y")
                    .await
                    .expect("for")
                    .is_empty()
            );
            let changed = ArticleDraft::read("Intranet name fails", "Flush it.", "", "fp-intranet")
                .expect("draft");
            assert_eq!(
                store
                    .save_article(Some(id), &changed, "sam", 3_000)
                    .await
                    .expect("save"),
                Some(id)
            );
            let article = store.article(id).await.expect("read").expect("there");
            assert_eq!(
                (article.author.as_str(), article.updated_by.as_str()),
                ("tina", "sam")
            );
            assert_eq!(
                store
                    .save_article(Some(9_999), &changed, "sam", 3_000)
                    .await
                    .expect("save"),
                None
            );
            assert!(store.delete_article(id).await.expect("delete"), "{name}");
            assert!(store.article(id).await.expect("read").is_none(), "{name}");

            store
                .save_canned_reply("Restart", "Please restart.", "ada", 1)
                .await
                .expect("reply");
            store
                .save_canned_reply("Restart", "Please restart your PC.", "ada", 2)
                .await
                .expect("reply");
            let replies = store.canned_replies().await.expect("replies");
            assert_eq!(replies.len(), 1, "{name}: one per title");
            assert_eq!(replies[0].body, "Please restart your PC.");
            assert!(
                store
                    .delete_canned_reply(replies[0].id)
                    .await
                    .expect("delete")
            );
        }
    }
}
