//! The help page in the database: single-use links and the sessions they become, the user's
//! own reports and tickets, the outages known for their device, and the desktop notices
//! waiting for their device's stream.
//!
//! Every read here is scoped by a help session's device and account: there is no method that
//! takes a ticket id alone, so a session cannot name its way into another device or person.

use firstline_i18n::{Lang, Message, msg};
use sqlx::Row;

use super::reproduce::{NewReproduce, ReproduceError, ReproduceRequest};
use super::{Backend, Store, StoreError};
use crate::random;

/// How long a link from "Get IT help" may wait to be opened.
pub const LINK_TTL_MS: i64 = 5 * 60 * 1000;
/// How long the page stays signed in once opened.
pub const SESSION_TTL_MS: i64 = 8 * 3600 * 1000;
/// Links one device may ask for in ten minutes (a clicking user needs a few; a script more).
pub const MAX_LINKS_PER_DEVICE: i64 = 30;
/// How long a report from the page waits for its device.
pub const REPORT_TTL_MS: i64 = 10 * 60 * 1000;
/// The longest report a user may type on the page (the agent bounds it again).
pub const MAX_WORDS_BYTES: usize = 4096;

/// Who a help session is: one account on one device.
#[derive(Debug, Clone, PartialEq)]
pub struct HelpSession {
    pub device_id: String,
    pub account: String,
    pub uid: Option<i64>,
    /// The language chosen on the page, else the one the OS said when the link was asked.
    pub lang: Option<Lang>,
    pub csrf_token: String,
    pub expires_at_ms: i64,
}

/// A ticket as its requester sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct RequesterTicket {
    pub id: i64,
    pub title: String,
    pub state: String,
    pub opened_at_ms: i64,
    pub updated_at_ms: i64,
    /// Resolved and waiting for the requester's "is it fixed?".
    pub awaiting_answer: bool,
    /// The public part of its timeline: replies from staff and the requester's answers.
    pub public_entries: Vec<PublicEntry>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PublicEntry {
    pub at_ms: i64,
    /// `reply` (staff) or `requester_answer`.
    pub kind: String,
    pub actor: Option<String>,
    /// A reply's text; the requester's own words of an answer.
    pub text: String,
    /// For an answer: whether they said it is fixed.
    pub fixed: Option<bool>,
}

/// An open fleet incident this device is part of.
#[derive(Debug, Clone, PartialEq)]
pub struct Outage {
    pub ticket_id: i64,
    pub check: String,
    pub resource: String,
    pub scope: Option<String>,
    pub device_count: i64,
}

/// A desktop notice waiting to be sent down a device's stream.
#[derive(Debug, Clone, PartialEq)]
pub struct UserNotice {
    pub id: String,
    pub account: String,
    pub kind: String,
    pub ticket_id: Option<i64>,
    pub title: String,
    pub body: String,
}

fn hash(token: &str) -> String {
    random::sha256(token)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn lang_column(value: Option<String>) -> Option<Lang> {
    value.as_deref().and_then(Lang::parse)
}

impl Store {
    /// A single-use link token for `account` on `device_id`, or `None` when the device asked
    /// for too many in the last ten minutes. Only its hash is stored.
    pub async fn create_help_link(
        &self,
        device_id: &str,
        account: &str,
        uid: Option<u32>,
        lang: Option<Lang>,
        now_ms: i64,
    ) -> Result<Option<String>, StoreError> {
        let token = random::token_text(32);
        // An agent over its budget may ask in a loop: it is refused with a read, never
        // holding the write lock (SQLite's only one) that every other device commits under.
        let recent = with_pool!(self, pool => {
            sqlx::query(
                "SELECT COUNT(*) AS n FROM help_links WHERE device_id = $1 AND created_at_ms > $2",
            )
            .bind(device_id)
            .bind(now_ms - 10 * 60 * 1000)
            .fetch_one(pool)
            .await?
            .try_get::<i64, _>("n")?
        });
        if recent >= MAX_LINKS_PER_DEVICE {
            return Ok(None);
        }
        let begin = self.backend.begin_statement();
        let created = with_pool!(self, pool => {
            let _turn = self.write_turn().await;
            let mut transaction = pool.begin_with(begin).await?;
            // Links and sessions long past their time go as new ones come.
            sqlx::query("DELETE FROM help_links WHERE expires_at_ms < $1")
                .bind(now_ms - 24 * 3600 * 1000)
                .execute(&mut *transaction)
                .await?;
            sqlx::query("DELETE FROM help_sessions WHERE expires_at_ms < $1")
                .bind(now_ms)
                .execute(&mut *transaction)
                .await?;
            let recent: i64 = sqlx::query(
                "SELECT COUNT(*) AS n FROM help_links WHERE device_id = $1 AND created_at_ms > $2",
            )
            .bind(device_id)
            .bind(now_ms - 10 * 60 * 1000)
            .fetch_one(&mut *transaction)
            .await?
            .try_get("n")?;
            if recent >= MAX_LINKS_PER_DEVICE {
                transaction.rollback().await?;
                false
            } else {
                sqlx::query(
                    "INSERT INTO help_links (token_hash, device_id, account, uid, lang, created_at_ms, expires_at_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(hash(&token))
                .bind(device_id)
                .bind(account)
                .bind(uid.map(i64::from))
                .bind(lang.map(Lang::code))
                .bind(now_ms)
                .bind(now_ms + LINK_TTL_MS)
                .execute(&mut *transaction)
                .await?;
                transaction.commit().await?;
                true
            }
        });
        Ok(created.then_some(token))
    }

    /// Spends a link: the first use within its time becomes a session (its token, to set as
    /// the cookie); a second use, an expired or an unknown link is `None`.
    pub async fn redeem_help_link(
        &self,
        token: &str,
        now_ms: i64,
    ) -> Result<Option<(String, HelpSession)>, StoreError> {
        let session_token = random::token_text(32);
        let csrf_token = random::token_text(32);
        let begin = self.backend.begin_statement();
        let session = with_pool!(self, pool => {
            let _turn = self.write_turn().await;
            let mut transaction = pool.begin_with(begin).await?;
            // One statement decides who spends it: a link raced from two tabs opens one.
            let row = sqlx::query(
                "UPDATE help_links SET used_at_ms = $1 WHERE token_hash = $2 AND used_at_ms IS NULL \
                 AND expires_at_ms > $1 RETURNING device_id, account, uid, lang",
            )
            .bind(now_ms)
            .bind(hash(token))
            .fetch_optional(&mut *transaction)
            .await?;
            match row {
                None => {
                    transaction.rollback().await?;
                    None
                }
                Some(row) => {
                    let session = HelpSession {
                        device_id: row.try_get("device_id")?,
                        account: row.try_get("account")?,
                        uid: row.try_get("uid")?,
                        lang: lang_column(row.try_get("lang")?),
                        csrf_token: csrf_token.clone(),
                        expires_at_ms: now_ms + SESSION_TTL_MS,
                    };
                    sqlx::query(
                        "INSERT INTO help_sessions (token_hash, device_id, account, uid, lang, csrf_token, created_at_ms, expires_at_ms) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(hash(&session_token))
                    .bind(&session.device_id)
                    .bind(&session.account)
                    .bind(session.uid)
                    .bind(session.lang.map(Lang::code))
                    .bind(&session.csrf_token)
                    .bind(now_ms)
                    .bind(session.expires_at_ms)
                    .execute(&mut *transaction)
                    .await?;
                    transaction.commit().await?;
                    Some(session)
                }
            }
        });
        Ok(session.map(|session| (session_token, session)))
    }

    /// The live session whose cookie is `token`.
    pub async fn help_session(
        &self,
        token: &str,
        now_ms: i64,
    ) -> Result<Option<HelpSession>, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query(
                "SELECT device_id, account, uid, lang, csrf_token, expires_at_ms FROM help_sessions \
                 WHERE token_hash = $1 AND expires_at_ms > $2",
            )
            .bind(hash(token))
            .bind(now_ms)
            .fetch_optional(pool)
            .await?;
            row.map(|row| -> Result<HelpSession, sqlx::Error> {
                Ok(HelpSession {
                    device_id: row.try_get("device_id")?,
                    account: row.try_get("account")?,
                    uid: row.try_get("uid")?,
                    lang: lang_column(row.try_get("lang")?),
                    csrf_token: row.try_get("csrf_token")?,
                    expires_at_ms: row.try_get("expires_at_ms")?,
                })
            })
            .transpose()
            .map_err(StoreError::from)
        })
    }

    /// Remembers the language the user picked on the page (also for their notices).
    pub async fn set_help_language(&self, token: &str, lang: Lang) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query("UPDATE help_sessions SET lang = $1 WHERE token_hash = $2")
                .bind(lang.code())
                .bind(hash(token))
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Queues the words typed on the page for the device to diagnose, as the session's user.
    pub async fn request_help_report(
        &self,
        session: &HelpSession,
        words: &str,
        lang: Lang,
        now_ms: i64,
    ) -> Result<ReproduceRequest, ReproduceError> {
        let mut parameters = serde_json::Map::new();
        parameters.insert("words".to_owned(), words.into());
        parameters.insert("account".to_owned(), session.account.clone().into());
        if let Some(uid) = session.uid {
            parameters.insert("uid".to_owned(), uid.to_string().into());
        }
        parameters.insert("lang".to_owned(), lang.code().into());
        let requested_by = format!("help:{}", session.account);
        self.queue_reproduce(
            &NewReproduce {
                ticket_id: None,
                device_id: Some(&session.device_id),
                playbook: "report",
                target: None,
                requested_by: &requested_by,
                ttl_ms: REPORT_TTL_MS,
            },
            Some(&serde_json::Value::Object(parameters).to_string()),
            now_ms,
        )
        .await
    }

    /// A report this session made (`None` for anyone else's).
    pub async fn help_report(
        &self,
        session: &HelpSession,
        request_id: &str,
    ) -> Result<Option<ReproduceRequest>, StoreError> {
        let request = self.reproduce_request(request_id).await?;
        Ok(request.filter(|request| {
            request.device_id == session.device_id
                && request.playbook == "report"
                && request.requested_by == format!("help:{}", session.account)
        }))
    }

    /// The ticket a report (by its id, the finding's resource) ended up on, once it arrived
    /// and was decided, and whether that was a fleet incident (a known outage).
    pub async fn ticket_of_report(
        &self,
        session: &HelpSession,
        report_id: &str,
    ) -> Result<Option<(i64, bool)>, StoreError> {
        Ok(self
            .report_outcome(&session.device_id, report_id)
            .await?
            .map(|outcome| {
                (
                    outcome.ticket_id,
                    outcome.how == crate::tickets::ReportHow::KnownOutage,
                )
            }))
    }

    /// The tickets `session`'s user asked for on this device, newest first, with the public
    /// part of their timelines.
    pub async fn requester_tickets(
        &self,
        session: &HelpSession,
        limit: i64,
    ) -> Result<Vec<RequesterTicket>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT t.id, t.title, t.state, t.opened_at_ms, t.updated_at_ms, t.awaiting_requester_since_ms, \
                 COALESCE((SELECT c.summary FROM conditions c WHERE c.ticket_id = t.id AND c.check_name = 'user.report' \
                  ORDER BY c.since_ms LIMIT 1), CASE WHEN t.kind = 'report' THEN t.description END) AS words \
                 FROM tickets t WHERE (t.device_id = $1 AND t.requester = $2) \
                 OR t.id IN (SELECT l.ticket_id FROM report_links l WHERE l.device_id = $1 AND l.requester = $2) \
                 ORDER BY t.id DESC LIMIT $3",
            )
            .bind(&session.device_id)
            .bind(&session.account)
            .bind(limit)
            .fetch_all(pool)
            .await?;
            let mut tickets = Vec::with_capacity(rows.len());
            for row in &rows {
                let id: i64 = row.try_get("id")?;
                let entries = sqlx::query(
                    "SELECT at_ms, kind, actor, text, data_json FROM ticket_events WHERE ticket_id = $1 \
                     AND kind IN ('reply', 'requester_answer') ORDER BY id",
                )
                .bind(id)
                .fetch_all(pool)
                .await?;
                let mut public_entries = Vec::with_capacity(entries.len());
                for entry in &entries {
                    let kind: String = entry.try_get("kind")?;
                    let mut text: String = entry.try_get("text")?;
                    let mut fixed = None;
                    // An answer is shown as what they chose and their words, not the
                    // sentence staff read.
                    if kind == "requester_answer"
                        && let Some(data) = entry
                            .try_get::<Option<String>, _>("data_json")?
                            .and_then(|data| serde_json::from_str::<serde_json::Value>(&data).ok())
                    {
                        fixed = data["fixed"].as_bool();
                        text = data["words"].as_str().unwrap_or_default().to_owned();
                    }
                    public_entries.push(PublicEntry {
                        at_ms: entry.try_get("at_ms")?,
                        kind,
                        actor: entry.try_get("actor")?,
                        text,
                        fixed,
                    });
                }
                let state: String = row.try_get("state")?;
                let awaiting: Option<i64> = row.try_get("awaiting_requester_since_ms")?;
                // Their own words (a report ticket's description), rather than the title
                // staff read.
                let words: Option<String> = row.try_get("words")?;
                let title = match words {
                    Some(words) if !words.trim().is_empty() => words,
                    _ => row.try_get("title")?,
                };
                tickets.push(RequesterTicket {
                    id,
                    title,
                    awaiting_answer: awaiting.is_some() && state == "resolved",
                    state,
                    opened_at_ms: row.try_get("opened_at_ms")?,
                    updated_at_ms: row.try_get("updated_at_ms")?,
                    public_entries,
                });
            }
            Ok(tickets)
        })
    }

    /// Whether `ticket_id` is one `session`'s user asked for on this device: `None` when it
    /// is not theirs, else whether it is resolved and waiting for their "is it fixed?".
    pub async fn is_requester_of(
        &self,
        session: &HelpSession,
        ticket_id: i64,
    ) -> Result<Option<bool>, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query(
                "SELECT state, awaiting_requester_since_ms FROM tickets WHERE id = $1 AND ((device_id = $2 AND requester = $3) \
                 OR id IN (SELECT l.ticket_id FROM report_links l WHERE l.device_id = $2 AND l.requester = $3))",
            )
            .bind(ticket_id)
            .bind(&session.device_id)
            .bind(&session.account)
            .fetch_optional(pool)
            .await?;
            row.map(|row| -> Result<bool, sqlx::Error> {
                let state: String = row.try_get("state")?;
                let awaiting: Option<i64> = row.try_get("awaiting_requester_since_ms")?;
                Ok(state == "resolved" && awaiting.is_some())
            })
            .transpose()
            .map_err(StoreError::from)
        })
    }

    /// Keeps the requester's answer (for the stats: confirmed fixes and CSAT).
    pub async fn record_feedback(
        &self,
        ticket_id: i64,
        account: &str,
        fixed: bool,
        rating: Option<u8>,
        words: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO ticket_feedback (ticket_id, account, answer, rating, words, at_ms) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(ticket_id)
            .bind(account)
            .bind(if fixed { "fixed" } else { "not_fixed" })
            .bind(rating.map(i64::from))
            .bind(words)
            .bind(now_ms)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The open fleet incidents this device is part of.
    pub async fn device_outages(&self, device_id: &str) -> Result<Vec<Outage>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT t.id, t.check_name, t.resource, t.scope, \
                 (SELECT COUNT(*) FROM ticket_devices d WHERE d.ticket_id = t.id) AS devices \
                 FROM tickets t JOIN ticket_devices mine ON mine.ticket_id = t.id AND mine.device_id = $1 \
                 WHERE t.kind = 'incident' AND t.open_key IS NOT NULL ORDER BY t.id DESC LIMIT 10",
            )
            .bind(device_id)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| -> Result<Outage, sqlx::Error> {
                    Ok(Outage {
                        ticket_id: row.try_get("id")?,
                        check: row.try_get("check_name")?,
                        resource: row.try_get("resource")?,
                        scope: row.try_get("scope")?,
                        device_count: row.try_get("devices")?,
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(StoreError::from)
        })
    }

    /// The notices waiting for `device_id`, marked sent (a notice is a courtesy: one that a
    /// broken stream loses is not sent again, the page still shows the change).
    ///
    /// Asked at every heartbeat of every device, so looking is a plain read: only a notice
    /// found is written, each by one conditional update, and the stream whose update marks
    /// it (another stream of the device may have read it too) sends it.
    pub async fn take_user_notices(
        &self,
        device_id: &str,
        now_ms: i64,
    ) -> Result<Vec<UserNotice>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT id, account, kind, ticket_id, title, body FROM user_notices \
                 WHERE device_id = $1 AND sent_at_ms IS NULL AND created_at_ms > $2 ORDER BY created_at_ms LIMIT 20",
            )
            .bind(device_id)
            // A notice a day old is news no longer.
            .bind(now_ms - 24 * 3600 * 1000)
            .fetch_all(pool)
            .await?;
            let mut notices = Vec::with_capacity(rows.len());
            for row in &rows {
                let notice = UserNotice {
                    id: row.try_get("id")?,
                    account: row.try_get("account")?,
                    kind: row.try_get("kind")?,
                    ticket_id: row.try_get("ticket_id")?,
                    title: row.try_get("title")?,
                    body: row.try_get("body")?,
                };
                let marked = sqlx::query(
                    "UPDATE user_notices SET sent_at_ms = $1 WHERE id = $2 AND sent_at_ms IS NULL",
                )
                .bind(now_ms)
                .bind(&notice.id)
                .execute(pool)
                .await?
                .rows_affected();
                if marked == 1 {
                    notices.push(notice);
                }
            }
            Ok(notices)
        })
    }
}

/// The words of a notice about ticket `ticket_id`: its title and body, in `lang`.
pub fn notice_words(kind: &str, ticket_id: i64, text: &str, lang: Lang) -> (String, String) {
    let (title, body): (Message, Message) = match kind {
        "reply" => (
            msg!("notice-reply-title", "ticket" => ticket_id),
            msg!("notice-reply-body", "text" => short(text, 300)),
        ),
        _ => (
            msg!("notice-resolved-title", "ticket" => ticket_id),
            msg!("notice-resolved-body"),
        ),
    };
    (title.text(lang), body.text(lang))
}

fn short(text: &str, max_chars: usize) -> String {
    let mut out: String = text.chars().take(max_chars).collect();
    if text.chars().count() > max_chars {
        out.push('…');
    }
    out
}

/// Queues a desktop notice for the requester of ticket `$ticket_id` (if it has one and a
/// device), in the language of their latest help session, else the directory's, else
/// English. Inside the caller's transaction, so the notice is written with the change.
macro_rules! requester_notice {
    ($executor:expr, $ticket_id:expr, $kind:expr, $text:expr, $at_ms:expr) => {{
        let row = sqlx::query(
            "SELECT t.device_id, t.requester, p.language AS directory_lang, \
             (SELECT h.lang FROM help_sessions h WHERE h.device_id = t.device_id AND h.account = t.requester \
              ORDER BY h.created_at_ms DESC LIMIT 1) AS session_lang \
             FROM tickets t LEFT JOIN people p ON p.account = t.requester WHERE t.id = $1",
        )
        .bind($ticket_id)
        .fetch_optional(&mut *$executor)
        .await?;
        if let Some(row) = row {
            let device: Option<String> = row.try_get("device_id")?;
            let requester: Option<String> = row.try_get("requester")?;
            if let (Some(device), Some(requester)) = (device, requester) {
                let session_lang: Option<String> = row.try_get("session_lang")?;
                let directory_lang: Option<String> = row.try_get("directory_lang")?;
                let lang = session_lang
                    .as_deref()
                    .and_then(firstline_i18n::Lang::parse)
                    .or_else(|| directory_lang.as_deref().and_then(firstline_i18n::Lang::parse))
                    .unwrap_or_default();
                let (title, body) =
                    $crate::store::help::notice_words($kind, $ticket_id, $text, lang);
                sqlx::query(
                    "INSERT INTO user_notices (id, device_id, account, kind, ticket_id, title, body, created_at_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(uuid::Uuid::new_v4().to_string())
                .bind(&device)
                .bind(&requester)
                .bind($kind)
                .bind($ticket_id)
                .bind(title)
                .bind(body)
                .bind($at_ms)
                .execute(&mut *$executor)
                .await?;
            }
        }
    }};
}
pub(crate) use requester_notice;

/// The words of an outage notice, in `lang`: "started" or "ended".
pub fn outage_words(
    started: bool,
    check: &str,
    resource: &str,
    scope: Option<&str>,
    devices: i64,
    lang: Lang,
) -> (String, String) {
    let what = if resource.is_empty() || resource == "-" {
        firstline_i18n::tr(
            lang,
            &format!("help-area-{}", crate::web::help::area(check)),
        )
    } else {
        resource.to_owned()
    };
    if started {
        let where_ = match scope.and_then(|s| s.split_once('=')) {
            Some(("site", site)) => msg!("help-outage-where-site", "site" => site).text(lang),
            Some(("gateway" | "dns", _)) => firstline_i18n::tr(lang, "help-outage-where-network"),
            _ => firstline_i18n::tr(lang, "help-outage-where-any"),
        };
        (
            firstline_i18n::tr(lang, "notice-outage-title"),
            msg!("help-outage", "count" => devices, "where" => where_, "what" => what).text(lang),
        )
    } else {
        (
            firstline_i18n::tr(lang, "notice-outage-ended-title"),
            msg!("notice-outage-ended-body", "what" => what).text(lang),
        )
    }
}

/// At most this many devices of one incident get an outage notice per change.
pub const MAX_OUTAGE_NOTICE_DEVICES: i64 = 1000;

/// Queues outage notices (`"outage_started"` or `"outage_ended"`) for the users of incident
/// `$ticket_id`'s devices (or of `$device`, one device joining it), each in the language of
/// their latest help page, else their directory language, inside the caller's transaction. Tickets that are not incidents send nothing.
macro_rules! outage_notices {
    ($executor:expr, $ticket_id:expr, $device:expr, $started:expr, $at_ms:expr) => {{
        let ticket = sqlx::query("SELECT kind, check_name, resource, scope, device_count FROM tickets WHERE id = $1")
            .bind($ticket_id)
            .fetch_optional(&mut *$executor)
            .await?;
        if let Some(ticket) = ticket.filter(|t| t.try_get::<String, _>("kind").ok().as_deref() == Some("incident")) {
            let check: String = ticket.try_get("check_name")?;
            let resource: String = ticket.try_get("resource")?;
            let scope: Option<String> = ticket.try_get("scope")?;
            let count: i64 = ticket.try_get::<Option<i64>, _>("device_count")?.unwrap_or(2).max(2);
            let device: Option<&str> = $device;
            let rows = sqlx::query(
                "SELECT d.id, d.users_json FROM ticket_devices td JOIN devices d ON d.id = td.device_id \
                 WHERE td.ticket_id = $1 AND ($2 IS NULL OR d.id = $2) AND d.users_json IS NOT NULL LIMIT $3",
            )
            .bind($ticket_id)
            .bind(device)
            .bind($crate::store::help::MAX_OUTAGE_NOTICE_DEVICES)
            .fetch_all(&mut *$executor)
            .await?;
            let kind = if $started { "outage_started" } else { "outage_ended" };
            for row in &rows {
                let device_id: String = row.try_get("id")?;
                let users: String = row.try_get("users_json")?;
                for account in serde_json::from_str::<Vec<String>>(&users).unwrap_or_default().into_iter().take(8) {
                    // As for their replies: the language of their latest help page, else the
                    // directory's, else English.
                    let langs = sqlx::query(
                        "SELECT (SELECT h.lang FROM help_sessions h WHERE h.device_id = $1 AND h.account = $2 \
                          ORDER BY h.created_at_ms DESC LIMIT 1) AS session_lang, \
                         (SELECT p.language FROM people p WHERE p.account = $2) AS directory_lang",
                    )
                    .bind(&device_id)
                    .bind(&account)
                    .fetch_one(&mut *$executor)
                    .await?;
                    let session_lang: Option<String> = langs.try_get("session_lang")?;
                    let directory_lang: Option<String> = langs.try_get("directory_lang")?;
                    let lang = session_lang
                        .as_deref()
                        .and_then(firstline_i18n::Lang::parse)
                        .or_else(|| directory_lang.as_deref().and_then(firstline_i18n::Lang::parse))
                        .unwrap_or_default();
                    let (title, body) = $crate::store::help::outage_words(
                        $started, &check, &resource, scope.as_deref(), count, lang,
                    );
                    sqlx::query(
                        "INSERT INTO user_notices (id, device_id, account, kind, ticket_id, title, body, created_at_ms) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(uuid::Uuid::new_v4().to_string())
                    .bind(&device_id)
                    .bind(&account)
                    .bind(kind)
                    .bind($ticket_id)
                    .bind(title)
                    .bind(body)
                    .bind($at_ms)
                    .execute(&mut *$executor)
                    .await?;
                }
            }
        }
    }};
}
pub(crate) use outage_notices;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewDevice;
    use crate::store::tests::{TestStore, backends};

    const T0: i64 = 1_800_000_000_000;

    async fn enroll(store: &Store, id: &str) {
        store
            .insert_token(id.as_bytes(), 0, i64::MAX)
            .await
            .expect("token");
        let device = NewDevice {
            id: id.to_owned(),
            hostname: format!("pc-{id}"),
            agent_version: "0.1.0".to_owned(),
            certificate_serial: "01".to_owned(),
            certificate_not_after_ms: i64::MAX,
        };
        store
            .enroll_device(id.as_bytes(), 1, &device)
            .await
            .expect("enroll");
    }

    /// Regression: every heartbeat of every device looked for notices in a write transaction
    /// (on SQLite, `BEGIN IMMEDIATE`: the one write lock), so thousands of beats queued
    /// behind, and in front of, the findings' group commit. Looking takes no lock.
    #[tokio::test]
    async fn looking_for_notices_does_not_wait_for_the_write_lock() {
        for TestStore { store, .. } in &backends().await {
            let Backend::Sqlite(pool) = &store.backend else {
                continue;
            };
            enroll(store, "dev-1").await;
            let mut writer = pool.acquire().await.expect("a connection");
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut *writer)
                .await
                .expect("hold the write lock");
            let looked = tokio::time::timeout(
                std::time::Duration::from_secs(2),
                store.take_user_notices("dev-1", T0),
            )
            .await;
            sqlx::query("ROLLBACK")
                .execute(&mut *writer)
                .await
                .expect("release");
            let notices = looked.expect("no wait for the writer").expect("no error");
            assert!(notices.is_empty(), "{notices:?}");
        }
    }

    /// Regression: a device over its help-link budget was refused inside a write
    /// transaction, so an agent asking in a loop held SQLite's write lock turn after turn.
    #[tokio::test]
    async fn a_device_over_its_link_budget_is_refused_without_the_write_lock() {
        for TestStore { store, .. } in &backends().await {
            let Backend::Sqlite(pool) = &store.backend else {
                continue;
            };
            enroll(store, "dev-1").await;
            for _ in 0..MAX_LINKS_PER_DEVICE {
                let link = store
                    .create_help_link("dev-1", "alice", Some(1000), None, T0)
                    .await
                    .expect("store");
                assert!(link.is_some(), "within the budget");
            }
            let mut writer = pool.acquire().await.expect("a connection");
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut *writer)
                .await
                .expect("hold the write lock");
            let asked = tokio::time::timeout(
                std::time::Duration::from_secs(2),
                store.create_help_link("dev-1", "alice", Some(1000), None, T0 + 1),
            )
            .await;
            sqlx::query("ROLLBACK")
                .execute(&mut *writer)
                .await
                .expect("release");
            let link = asked.expect("no wait for the writer").expect("no error");
            assert_eq!(link, None, "over the budget");
        }
    }

    /// Regression: two streams of one device (on two collectors, while the old one has not
    /// noticed the new) could both read the same waiting notices and both send them; the
    /// user saw each notification twice.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_notice_is_taken_once_even_by_two_streams_at_once() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            enroll(store, "dev-1").await;
            for round in 0..20 {
                for n in 0..5 {
                    with_pool!(store, pool => {
                        sqlx::query(
                            "INSERT INTO user_notices (id, device_id, account, kind, ticket_id, title, body, created_at_ms) \
                             VALUES ($1, 'dev-1', 'alice', 'reply', 1, 't', 'b', $2)",
                        )
                        .bind(format!("n-{round}-{n}"))
                        .bind(T0)
                        .execute(pool)
                        .await
                        .expect("insert notice");
                    });
                }
                let (first, second) = tokio::join!(
                    tokio::spawn({
                        let store = store.clone();
                        async move { store.take_user_notices("dev-1", T0 + 1).await }
                    }),
                    tokio::spawn({
                        let store = store.clone();
                        async move { store.take_user_notices("dev-1", T0 + 1).await }
                    }),
                );
                let mut ids: Vec<String> = Vec::new();
                for taken in [first, second] {
                    ids.extend(
                        taken
                            .expect("task")
                            .expect("take")
                            .into_iter()
                            .map(|notice| notice.id),
                    );
                }
                ids.sort();
                assert_eq!(
                    ids,
                    (0..5).map(|n| format!("n-{round}-{n}")).collect::<Vec<_>>(),
                    "{backend}: round {round}: each notice sent exactly once"
                );
            }
        }
    }
}
