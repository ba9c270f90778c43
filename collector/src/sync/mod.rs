//! Two-way sync with the ticket systems support teams already use (`[[ticket_systems]]`).
//!
//! Out: every notification a system's filter takes (or about a ticket it already has)
//! becomes an outbox entry (`store/sync.rs`), sent in order per ticket, retried with backoff
//! (honouring `Retry-After`) until the system takes it: a system that is down delays, never
//! loses. The remote ticket is created once: before creating, the connector looks for one
//! that already carries this ticket's Firstline link, so a crash between the remote create
//! and recording it, a retry, or a second collector on the same PostgreSQL never make two.
//! Changes to a linked ticket (devices joining, priority, title) are noticed from its
//! `updated_at_ms` and sent as one update.
//!
//! Back: each system is polled with a cursor (one collector at a time, by a lease in the
//! database); comments people write there come onto the timeline, and a person resolving or
//! closing the remote ticket resolves and closes the Firstline ticket, which then does not
//! reopen: a new occurrence opens a new ticket linked to it. A system's webhook, where it has
//! one, only asks for an early poll.
//!
//! One file per system, each implementing [`Connector`].

pub mod freshservice;
pub mod glpi;
pub mod http;
pub mod jira;
pub mod rt;
pub mod servicenow;
pub mod zendesk;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::{Notify, watch};

use crate::model::now_ms;
use crate::store::Store;
use crate::store::sync::{SyncFilter, SyncItem};
use crate::store::tickets::{StaffError, TicketDetail};
use crate::tickets::engine::StaffAction;

/// How often each system's worker looks for entries due.
const TICK: Duration = Duration::from_millis(500);
/// How long a claimed entry is this collector's before another may try it.
const LEASE: Duration = Duration::from_secs(300);
/// How often delivered entries and taken-in events older than `KEEP_DONE` are dropped.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
const KEEP_DONE: Duration = Duration::from_secs(90 * 24 * 3600);
/// Linked tickets closed longer ago than this are no longer read back.
const RECENT_MS: i64 = 30 * 24 * 3600 * 1000;
/// The longest `poll_interval`, `retry_initial` and `retry_max` may be.
const LONGEST: Duration = Duration::from_secs(24 * 3600);

/// Why a call to a system did not work.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SyncError {
    /// Down, slow, busy, or refusing our credentials: tried again later, never dropped.
    #[error("{message}")]
    Later {
        message: String,
        retry_after: Option<Duration>,
    },
    /// The system refuses this request as it is: recorded on the ticket and skipped.
    #[error("{0}")]
    Permanent(String),
}

/// `[[ticket_systems]]` as written in the config file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TicketSystemFile {
    name: String,
    kind: String,
    url: String,
    username: Option<String>,
    password: Option<String>,
    token: Option<String>,
    /// Request Tracker: the queue new tickets go to.
    queue: Option<String>,
    /// Jira Service Management: the project key and issue type new issues get.
    project: Option<String>,
    issue_type: Option<String>,
    /// Freshservice: the requester new tickets are raised for, and the custom field that
    /// carries the Firstline id.
    requester_email: Option<String>,
    id_field: Option<String>,
    /// GLPI: the API client's App-Token, when the GLPI API asks for one.
    app_token: Option<String>,
    #[serde(default)]
    priorities: Option<Vec<String>>,
    #[serde(default)]
    kinds: Vec<String>,
    #[serde(default)]
    sites: Vec<String>,
    /// When the fault clears, resolve the remote ticket (true) or only say so in a comment.
    #[serde(default = "yes")]
    resolve_on_clear: bool,
    /// Firstline priority (p1..p5) → the system's priority value.
    #[serde(default)]
    priority_map: BTreeMap<String, String>,
    /// The remote status a resolve sets, and the one a reopen sets.
    resolved_status: Option<String>,
    open_status: Option<String>,
    poll_interval: Option<String>,
    retry_initial: Option<String>,
    retry_max: Option<String>,
    /// A shared secret the system's webhook sends (`X-Firstline-Token`) to ask for an early poll.
    webhook_token: Option<String>,
}

fn yes() -> bool {
    true
}

/// A validated ticket system.
#[derive(Debug, Clone)]
pub struct TicketSystem {
    pub name: String,
    pub filter: SyncFilter,
    pub resolve_on_clear: bool,
    pub poll_interval: Duration,
    pub retry_initial: Duration,
    pub retry_max: Duration,
    pub webhook_token: Option<String>,
    pub connector: System,
    /// Woken by the system's webhook.
    pub poll_now: std::sync::Arc<Notify>,
}

impl PartialEq for TicketSystem {
    /// Settings compare equal when they would behave the same (credentials included).
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.filter == other.filter
            && self.resolve_on_clear == other.resolve_on_clear
            && self.poll_interval == other.poll_interval
            && self.retry_initial == other.retry_initial
            && self.retry_max == other.retry_max
            && self.webhook_token == other.webhook_token
            && format!("{:?}", self.connector) == format!("{:?}", other.connector)
    }
}

/// Where a Firstline ticket is, as the remote ticket carries it: the staff page when
/// `public_url` is set, else a URN. Connectors find an earlier create by it.
pub fn firstline_link(public_url: Option<&str>, ticket_id: i64) -> String {
    match public_url {
        Some(base) => format!("{}/tickets/{ticket_id}", base.trim_end_matches('/')),
        None => format!("urn:firstline:ticket:{ticket_id}"),
    }
}

/// A Firstline ticket as a system is told about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub ticket_id: i64,
    /// The Firstline id travelling in the remote ticket ("firstline-12").
    pub key: String,
    pub link: String,
    pub title: String,
    pub description: String,
    /// The system's own priority value (from `priority_map`), or p1..p5.
    pub priority: String,
    pub fields: Fields,
}

/// What an update sends when it changed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, Default)]
pub struct Fields {
    pub title: String,
    pub priority: String,
    pub devices: Vec<String>,
    pub tier: u8,
    pub assignee: Option<String>,
}

impl Fields {
    /// What changed from `before`, in words, for the remote timeline.
    pub fn changes_since(&self, before: &Fields) -> String {
        let mut said = Vec::new();
        if self.title != before.title {
            said.push(format!("Title: {}", self.title));
        }
        if self.priority != before.priority {
            said.push(format!(
                "Priority: {} (was {})",
                self.priority, before.priority
            ));
        }
        let joined: Vec<&str> = self
            .devices
            .iter()
            .filter(|d| !before.devices.contains(d))
            .map(String::as_str)
            .collect();
        if !joined.is_empty() {
            said.push(format!(
                "{} device(s) joined: {} (now {})",
                joined.len(),
                joined.join(", "),
                self.devices.len()
            ));
        }
        if self.tier != before.tier {
            said.push(format!("Escalated to tier {}", self.tier));
        }
        if self.assignee != before.assignee {
            said.push(format!(
                "Assigned to {}",
                self.assignee.as_deref().unwrap_or("nobody")
            ));
        }
        said.join("\n")
    }
}

/// A remote ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct Remote {
    pub id: String,
    pub url: String,
}

/// Something a person did in the remote system.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The system's id for the event (taken in once).
    pub event: String,
    pub remote_id: String,
    pub author: String,
    pub what: ChangeKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChangeKind {
    Comment(String),
    /// Resolved or closed there (the status it was given).
    Closed(String),
    Reopened(String),
}

/// One ticket system's API. Each call either did what it says or failed as a whole.
pub trait Connector {
    /// The remote ticket carrying `ticket.link`, if an earlier attempt created one.
    fn find(
        &self,
        ticket: &Outgoing,
    ) -> impl Future<Output = Result<Option<Remote>, SyncError>> + Send;
    fn create(&self, ticket: &Outgoing) -> impl Future<Output = Result<Remote, SyncError>> + Send;
    /// Sets the changed fields and says what changed (`note`).
    fn update(
        &self,
        remote: &str,
        ticket: &Outgoing,
        note: &str,
    ) -> impl Future<Output = Result<(), SyncError>> + Send;
    /// A public comment (Firstline's reply to the requester).
    fn comment(
        &self,
        remote: &str,
        text: &str,
    ) -> impl Future<Output = Result<(), SyncError>> + Send;
    /// An internal note.
    fn note(&self, remote: &str, text: &str) -> impl Future<Output = Result<(), SyncError>> + Send;
    fn resolve(
        &self,
        remote: &str,
        text: &str,
    ) -> impl Future<Output = Result<(), SyncError>> + Send;
    fn reopen(
        &self,
        remote: &str,
        text: &str,
    ) -> impl Future<Output = Result<(), SyncError>> + Send;
    /// What people did since `cursor` (empty at first: start from now) to the remote
    /// tickets in `ours` (others are not read), and the next cursor.
    fn changes(
        &self,
        cursor: &str,
        ours: &HashSet<String>,
    ) -> impl Future<Output = Result<(Vec<Change>, String), SyncError>> + Send;
}

/// The configured systems, one variant per connector file.
#[derive(Debug, Clone)]
pub enum System {
    Freshservice(freshservice::Freshservice),
    Glpi(glpi::Glpi),
    Jira(jira::Jira),
    Rt(rt::Rt),
    ServiceNow(servicenow::ServiceNow),
    Zendesk(zendesk::Zendesk),
}

macro_rules! each {
    ($system:expr, $connector:ident => $body:expr) => {
        match $system {
            System::Freshservice($connector) => $body,
            System::Glpi($connector) => $body,
            System::Jira($connector) => $body,
            System::Rt($connector) => $body,
            System::ServiceNow($connector) => $body,
            System::Zendesk($connector) => $body,
        }
    };
}

impl System {
    async fn find(&self, ticket: &Outgoing) -> Result<Option<Remote>, SyncError> {
        each!(self, c => c.find(ticket).await)
    }
    async fn create(&self, ticket: &Outgoing) -> Result<Remote, SyncError> {
        each!(self, c => c.create(ticket).await)
    }
    async fn update(&self, remote: &str, ticket: &Outgoing, note: &str) -> Result<(), SyncError> {
        each!(self, c => c.update(remote, ticket, note).await)
    }
    async fn comment(&self, remote: &str, text: &str) -> Result<(), SyncError> {
        each!(self, c => c.comment(remote, text).await)
    }
    async fn note(&self, remote: &str, text: &str) -> Result<(), SyncError> {
        each!(self, c => c.note(remote, text).await)
    }
    async fn resolve(&self, remote: &str, text: &str) -> Result<(), SyncError> {
        each!(self, c => c.resolve(remote, text).await)
    }
    async fn reopen(&self, remote: &str, text: &str) -> Result<(), SyncError> {
        each!(self, c => c.reopen(remote, text).await)
    }
    async fn changes(
        &self,
        cursor: &str,
        ours: &HashSet<String>,
    ) -> Result<(Vec<Change>, String), SyncError> {
        each!(self, c => c.changes(cursor, ours).await)
    }
}

const KINDS: [&str; 3] = ["device", "incident", "report"];

impl TicketSystem {
    /// Validates `[[ticket_systems]]`; errors name the system and the key.
    pub fn from_files(files: Vec<TicketSystemFile>) -> Result<Vec<TicketSystem>, String> {
        let mut systems: Vec<TicketSystem> = Vec::new();
        for file in files {
            let name = file.name.trim().to_owned();
            let at = |key: &str| format!("ticket_systems[{name:?}].{key}");
            let valid_name = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid_name || systems.iter().any(|s| s.name == name) {
                return Err(format!(
                    "ticket_systems: every system needs a unique name of letters, digits, - and _ ({name:?})"
                ));
            }
            crate::channels::webhook::parse_url(&file.url)
                .map_err(|e| format!("{}: {e}", at("url")))?;
            let priorities = match &file.priorities {
                None => Vec::new(),
                Some(names) => names
                    .iter()
                    .map(|p| {
                        parse_priority(p)
                            .ok_or_else(|| format!("{}: {p:?} is not p1 to p5", at("priorities")))
                    })
                    .collect::<Result<_, _>>()?,
            };
            for kind in &file.kinds {
                if !KINDS.contains(&kind.as_str()) {
                    return Err(format!("{}: {kind:?} is not one of {KINDS:?}", at("kinds")));
                }
            }
            for key in file.priority_map.keys() {
                if parse_priority(key).is_none() {
                    return Err(format!("{}: {key:?} is not p1 to p5", at("priority_map")));
                }
            }
            let duration =
                |key: &str, text: &Option<String>, default: Duration| -> Result<Duration, String> {
                    match text {
                        None => Ok(default),
                        Some(text) => humantime::parse_duration(text)
                            .ok()
                            .filter(|d| !d.is_zero() && *d <= LONGEST)
                            .ok_or_else(|| {
                                format!(
                                    "{}: {text:?} is not a duration from \"1s\" to \"24h\"",
                                    at(key)
                                )
                            }),
                    }
                };
            let poll_interval = duration(
                "poll_interval",
                &file.poll_interval,
                Duration::from_secs(60),
            )?;
            let retry_initial = duration(
                "retry_initial",
                &file.retry_initial,
                Duration::from_secs(10),
            )?;
            let retry_max = duration("retry_max", &file.retry_max, Duration::from_secs(600))?;
            if retry_max < retry_initial {
                return Err(format!(
                    "{}: must be at least retry_initial",
                    at("retry_max")
                ));
            }
            if let Some(token) = &file.webhook_token
                && token.len() < 16
            {
                return Err(format!(
                    "{} must be at least 16 characters",
                    at("webhook_token")
                ));
            }
            let credentials = match (&file.username, &file.password, &file.token) {
                (Some(user), Some(password), None) => Credentials::Basic {
                    user: user.clone(),
                    password: password.clone(),
                },
                (None, None, Some(token)) => Credentials::Token(token.clone()),
                (Some(user), None, Some(token)) => Credentials::UserToken {
                    user: user.clone(),
                    token: token.clone(),
                },
                _ => {
                    return Err(format!(
                        "{}: give username and password, username and token, or token alone",
                        at("username")
                    ));
                }
            };
            // RT and ServiceNow say who made a change by account name: the connector must know
            // its own to leave its own changes out.
            if matches!(file.kind.as_str(), "rt" | "servicenow") && credentials.user().is_none() {
                return Err(format!(
                    "{}: {} needs the account name too (username = the account the token belongs to), so its own changes are not taken back",
                    at("username"),
                    file.kind
                ));
            }
            let settings = Common {
                url: file.url.trim_end_matches('/').to_owned(),
                credentials,
                priority_map: file.priority_map.clone(),
                resolved_status: file.resolved_status.clone(),
                open_status: file.open_status.clone(),
            };
            let connector = match file.kind.as_str() {
                "rt" => System::Rt(rt::Rt::new(
                    settings,
                    file.queue.clone().unwrap_or_else(|| "General".to_owned()),
                )),
                "servicenow" => System::ServiceNow(servicenow::ServiceNow::new(settings)),
                "zendesk" => System::Zendesk(zendesk::Zendesk::new(settings)),
                "jira" => System::Jira(jira::Jira::new(
                    settings,
                    file.project.clone().ok_or_else(|| {
                        format!("{} is required for jira (the project key)", at("project"))
                    })?,
                    file.issue_type
                        .clone()
                        .unwrap_or_else(|| "[System] Incident".to_owned()),
                )),
                "freshservice" => System::Freshservice(freshservice::Freshservice::new(
                    settings,
                    file.requester_email.clone().ok_or_else(|| {
                        format!(
                            "{} is required for freshservice (tickets need a requester)",
                            at("requester_email")
                        )
                    })?,
                    file.id_field
                        .clone()
                        .unwrap_or_else(|| "firstline_id".to_owned()),
                )),
                "glpi" => System::Glpi(glpi::Glpi::new(settings, file.app_token.clone())),
                other => {
                    return Err(format!(
                        "{}: {other:?} is not a ticket system this collector knows (rt, servicenow, jira, zendesk, freshservice, glpi)",
                        at("kind")
                    ));
                }
            };
            systems.push(TicketSystem {
                filter: SyncFilter {
                    system: name.clone(),
                    priorities,
                    kinds: file.kinds.clone(),
                    sites: file.sites.clone(),
                },
                name,
                resolve_on_clear: file.resolve_on_clear,
                poll_interval,
                retry_initial,
                retry_max,
                webhook_token: file.webhook_token.clone(),
                connector,
                poll_now: Default::default(),
            });
        }
        Ok(systems)
    }

    /// The wait before attempt `attempt + 1` (exponential, capped).
    fn backoff(&self, attempt: u32) -> Duration {
        self.retry_initial
            .saturating_mul(2u32.saturating_pow(attempt.min(20)))
            .min(self.retry_max)
    }
}

fn parse_priority(text: &str) -> Option<u8> {
    text.strip_prefix('p')
        .and_then(|n| n.parse::<u8>().ok())
        .filter(|n| (1..=5).contains(n))
}

/// How a connector signs in.
#[derive(Clone)]
pub enum Credentials {
    Basic {
        user: String,
        password: String,
    },
    /// An account and its API token (Zendesk's `email/token`, Jira's `email:token`).
    UserToken {
        user: String,
        token: String,
    },
    Token(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Basic { user, .. } => write!(f, "Basic({user}, …)"),
            Credentials::UserToken { user, .. } => write!(f, "UserToken({user}, …)"),
            Credentials::Token(_) => write!(f, "Token(…)"),
        }
    }
}

impl Credentials {
    /// An `Authorization: Basic` value for `user` and `secret`.
    pub fn basic(user: &str, secret: &str) -> String {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"))
        )
    }

    /// The account the connector acts as: its own events are not taken back in.
    pub fn user(&self) -> Option<&str> {
        match self {
            Credentials::Basic { user, .. } | Credentials::UserToken { user, .. } => Some(user),
            Credentials::Token(_) => None,
        }
    }
}

/// What every connector is configured with.
#[derive(Debug, Clone)]
pub struct Common {
    pub url: String,
    pub credentials: Credentials,
    pub priority_map: BTreeMap<String, String>,
    pub resolved_status: Option<String>,
    pub open_status: Option<String>,
}

impl Common {
    /// The system's priority for Firstline's `priority` (1..=5), else `default`.
    pub fn priority(&self, priority: u8, default: impl FnOnce(u8) -> String) -> String {
        self.priority_map
            .get(&format!("p{priority}"))
            .cloned()
            .unwrap_or_else(|| default(priority))
    }
}

fn outgoing(
    detail: &TicketDetail,
    public_url: Option<&str>,
    common: &Common,
    default_priority: fn(u8) -> String,
) -> Outgoing {
    let ticket = &detail.ticket;
    let priority = common.priority(ticket.priority.number(), default_priority);
    let mut description = format!(
        "{}\n\nFirstline ticket {} ({}), priority P{}, opened {}.\n{}",
        ticket.title,
        ticket.id,
        ticket.kind.as_str(),
        ticket.priority.number(),
        crate::cli::rfc3339(ticket.opened_at_ms),
        ticket.description,
    );
    if !detail.devices.is_empty() {
        description.push_str("\nDevices: ");
        description.push_str(
            &detail
                .devices
                .iter()
                .map(|d| d.hostname.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    if let Some(evidence) = detail
        .timeline
        .iter()
        .find(|entry| entry.kind == "evidence" || entry.kind == "opened")
        .and_then(|entry| entry.data.as_ref())
    {
        description.push_str("\n\nEvidence:\n");
        description.push_str(&serde_json::to_string_pretty(evidence).unwrap_or_default());
    }
    let link = firstline_link(public_url, ticket.id);
    description.push_str(&format!("\n\n{link}"));
    let mut devices: Vec<String> = detail.devices.iter().map(|d| d.hostname.clone()).collect();
    devices.sort();
    Outgoing {
        ticket_id: ticket.id,
        key: format!("firstline-{}", ticket.id),
        link,
        title: ticket.title.clone(),
        description,
        priority: priority.clone(),
        fields: Fields {
            title: ticket.title.clone(),
            priority,
            devices,
            tier: ticket.tier,
            assignee: ticket.assignee.clone(),
        },
    }
}

/// Runs every system's worker until `stop`.
pub async fn run(
    store: Store,
    systems: Vec<TicketSystem>,
    public_url: Option<String>,
    stop: watch::Receiver<bool>,
) {
    let mut tasks = Vec::new();
    for system in systems {
        tasks.push(tokio::spawn(serve(
            store.clone(),
            system,
            public_url.clone(),
            stop.clone(),
        )));
    }
    for task in tasks {
        let _ = task.await;
    }
}

async fn serve(
    store: Store,
    system: TicketSystem,
    public_url: Option<String>,
    mut stop: watch::Receiver<bool>,
) {
    let mut next_poll = tokio::time::Instant::now();
    let mut next_prune = tokio::time::Instant::now();
    // A system that throttled (429 with Retry-After) or is down is left alone until then:
    // every entry waits, not only the one that was answered.
    let mut paused_until = tokio::time::Instant::now();
    loop {
        tokio::select! {
            () = tokio::time::sleep(TICK) => {}
            () = system.poll_now.notified() => next_poll = tokio::time::Instant::now(),
            _ = stop.wait_for(|stop| *stop) => return,
        }
        let now = tokio::time::Instant::now();
        if now >= next_prune {
            next_prune = now + PRUNE_EVERY;
            let before = now_ms() - i64::try_from(KEEP_DONE.as_millis()).unwrap_or(i64::MAX);
            if let Err(e) = store.prune_sync(&system.name, before).await {
                tracing::warn!(system = %system.name, error = %e, "pruning the sync history; retrying later");
            }
        }
        if now < paused_until {
            continue;
        }
        if now >= next_poll {
            next_poll = now + system.poll_interval;
            poll(&store, &system).await;
            if let Err(e) = store.queue_changed_links(&system.name, now_ms()).await {
                tracing::warn!(system = %system.name, error = %e, "looking for changed tickets; retrying");
            }
        }
        // One entry per claim: its lease (minutes) always outlasts its calls (seconds each),
        // so no other collector takes it over while it is being sent.
        let lease_ms = i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX);
        loop {
            if *stop.borrow() {
                return;
            }
            let item = match store.claim_sync(&system.name, now_ms(), lease_ms, 1).await {
                Ok(mut items) => match items.pop() {
                    Some(item) => item,
                    None => break,
                },
                Err(e) => {
                    tracing::warn!(system = %system.name, error = %e, "claiming sync entries; retrying");
                    break;
                }
            };
            let outcome = send(&store, &system, public_url.as_deref(), &item).await;
            let recorded = match outcome {
                Ok(()) => store.finish_sync(&item, None, now_ms()).await.map(|_| ()),
                Err(SyncError::Permanent(error)) => {
                    tracing::warn!(system = %system.name, ticket = item.ticket_id, op = %item.op, %error, "ticket system refused an entry");
                    store
                        .finish_sync(&item, Some(&error), now_ms())
                        .await
                        .map(|_| ())
                }
                Err(SyncError::Later {
                    message,
                    retry_after,
                }) => {
                    let backoff = system.backoff(item.attempts);
                    let wait =
                        retry_after.map_or(backoff, |asked| asked.max(Duration::from_secs(1)));
                    let wait = wait.min(Duration::from_secs(3600));
                    tracing::warn!(system = %system.name, ticket = item.ticket_id, op = %item.op, attempt = item.attempts + 1, error = %message, retry_in = ?wait, "ticket system not reached; retrying");
                    paused_until = tokio::time::Instant::now() + wait;
                    store
                        .retry_sync(
                            &item,
                            &message,
                            now_ms() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX),
                        )
                        .await
                }
            };
            if let Err(e) = recorded {
                tracing::error!(system = %system.name, error = %e, "recording a sync entry; it is tried again when its lease ends");
            }
            if tokio::time::Instant::now() < paused_until {
                break;
            }
        }
    }
}

/// Sends one entry: the remote ticket first if there is none yet.
async fn send(
    store: &Store,
    system: &TicketSystem,
    public_url: Option<&str>,
    item: &SyncItem,
) -> Result<(), SyncError> {
    let store_error = |e: crate::store::StoreError| SyncError::Later {
        message: format!("the store: {e}"),
        retry_after: None,
    };
    let Some(detail) = store
        .ticket_detail(item.ticket_id)
        .await
        .map_err(store_error)?
    else {
        return Err(SyncError::Permanent(format!(
            "ticket {} is gone",
            item.ticket_id
        )));
    };
    let (common, default_priority) =
        each!(&system.connector, c => (c.common(), c.default_priority()));
    let ticket = outgoing(&detail, public_url, common, default_priority);
    let pushed_now = serde_json::to_string(&ticket.fields).unwrap_or_default();
    let link = store
        .sync_link(&system.name, item.ticket_id)
        .await
        .map_err(store_error)?;
    let (link, pushed) = match link {
        Some(link) => link,
        None => {
            let (remote, found) = match system.connector.find(&ticket).await? {
                Some(remote) => (remote, true),
                None => (system.connector.create(&ticket).await?, false),
            };
            // Ids go into later paths and queries: only plain ones are kept.
            if remote.id.is_empty()
                || remote.id.len() > 128
                || !remote
                    .id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            {
                return Err(SyncError::Permanent(format!(
                    "{} answered a ticket id Firstline cannot use: {:?}",
                    system.name, remote.id
                )));
            }
            store
                .record_sync_link(
                    &system.name,
                    item.ticket_id,
                    (&remote.id, &remote.url),
                    &pushed_now,
                    found,
                    now_ms(),
                )
                .await
                .map_err(store_error)?;
            tracing::info!(system = %system.name, ticket = item.ticket_id, remote = %remote.id, found, "ticket linked");
            if matches!(item.op.as_str(), "create" | "update") {
                return Ok(());
            }
            match store
                .sync_link(&system.name, item.ticket_id)
                .await
                .map_err(store_error)?
            {
                Some(link) => link,
                None => {
                    return Err(SyncError::Later {
                        message: "the link was not recorded".to_owned(),
                        retry_after: None,
                    });
                }
            }
        }
    };
    let remote = link.remote_id.as_str();
    let text = item.text.as_deref().unwrap_or_default();
    match item.op.as_str() {
        "create" => Ok(()),
        "update" => {
            let before: Fields = serde_json::from_str(&pushed).unwrap_or_default();
            if before == ticket.fields {
                // Nothing the system shows changed (a comment or evidence moved the ticket's
                // time): remember it was looked at, so it is not queued again.
                return store
                    .record_sync_push(&system.name, item.ticket_id, &pushed_now, now_ms())
                    .await
                    .map_err(store_error);
            }
            system
                .connector
                .update(remote, &ticket, &ticket.fields.changes_since(&before))
                .await?;
            store
                .record_sync_push(&system.name, item.ticket_id, &pushed_now, now_ms())
                .await
                .map_err(store_error)
        }
        "comment" => system.connector.comment(remote, text).await,
        "resolve" if link.closed_remotely => Ok(()),
        "resolve" => {
            let by_a_person = detail
                .timeline
                .iter()
                .rev()
                .find(|entry| entry.kind == "state")
                .is_some_and(|entry| entry.actor.is_some());
            if system.resolve_on_clear || by_a_person {
                system.connector.resolve(remote, text).await
            } else {
                system
                    .connector
                    .note(
                        remote,
                        &format!("Firstline saw this recover; resolve it when you agree.\n{text}"),
                    )
                    .await
            }
        }
        "reopen" if link.closed_remotely => Ok(()),
        "reopen" => system.connector.reopen(remote, text).await,
        other => Err(SyncError::Permanent(format!(
            "unknown entry kind {other:?}"
        ))),
    }
}

/// Takes in what people did in the system since the last poll (one collector at a time).
async fn poll(store: &Store, system: &TicketSystem) {
    let now = now_ms();
    let lease = i64::try_from(
        (system.poll_interval * 4)
            .max(Duration::from_secs(600))
            .as_millis(),
    )
    .unwrap_or(i64::MAX);
    let cursor = match store.take_sync_cursor(&system.name, now, now + lease).await {
        Ok(Some(cursor)) => cursor,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(system = %system.name, error = %e, "taking the back-sync turn");
            return;
        }
    };
    // Only the remote tickets Firstline has (and may still hear about) are read further.
    let ours = match store.linked_remote_ids(&system.name, now - RECENT_MS).await {
        Ok(ours) => ours,
        Err(e) => {
            let _ = store
                .save_sync_cursor(&system.name, &cursor, Some(&e.to_string()), now_ms())
                .await;
            return;
        }
    };
    let (changes, next) = match system.connector.changes(&cursor, &ours).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(system = %system.name, error = %e, "polling the ticket system; retrying at the next poll");
            let _ = store
                .save_sync_cursor(&system.name, &cursor, Some(&e.to_string()), now_ms())
                .await;
            return;
        }
    };
    for change in &changes {
        if let Err(e) = take_in(store, system, change).await {
            // The cursor stays: the next poll reads the same window again, and what was
            // taken in already is skipped by its event id.
            tracing::warn!(system = %system.name, event = %change.event, error = %e, "taking in a remote change; retrying at the next poll");
            let _ = store
                .save_sync_cursor(&system.name, &cursor, Some(&e.to_string()), now_ms())
                .await;
            return;
        }
    }
    if let Err(e) = store
        .save_sync_cursor(&system.name, &next, None, now_ms())
        .await
    {
        tracing::warn!(system = %system.name, error = %e, "saving the back-sync cursor");
    }
}

async fn take_in(
    store: &Store,
    system: &TicketSystem,
    change: &Change,
) -> Result<(), crate::store::StoreError> {
    let Some(ticket) = store
        .ticket_for_remote(&system.name, &change.remote_id)
        .await?
    else {
        return Ok(());
    };
    let now = now_ms();
    let actor = format!("{} ({})", change.author, system.name);
    match &change.what {
        ChangeKind::Comment(text) => {
            if store
                .take_remote_comment(
                    &system.name,
                    &change.event,
                    ticket,
                    &change.author,
                    text,
                    now,
                )
                .await?
            {
                tracing::info!(system = %system.name, ticket, "remote comment taken in");
            }
        }
        ChangeKind::Closed(status) => {
            if store.remote_event_seen(&system.name, &change.event).await? {
                return Ok(());
            }
            // Marked first, so the resolve this causes is not sent back.
            store
                .set_closed_remotely(&system.name, ticket, true, now)
                .await?;
            let solution = format!(
                "{} in {} ticket {} by {}",
                capitalised(status),
                system.name,
                change.remote_id,
                change.author
            );
            for action in [StaffAction::Resolve { solution }, StaffAction::Close] {
                match store.staff_action(ticket, &actor, &action, now_ms()).await {
                    Ok(()) | Err(StaffError::Refused(_)) => {}
                    Err(StaffError::Store(e)) => return Err(e),
                }
            }
            store
                .mark_remote_event(&system.name, &change.event, now_ms())
                .await?;
        }
        ChangeKind::Reopened(status) => {
            if store.remote_event_seen(&system.name, &change.event).await? {
                return Ok(());
            }
            store
                .set_closed_remotely(&system.name, ticket, false, now)
                .await?;
            // A resolved ticket reopens; a closed one stays closed (its next occurrence
            // opens a new ticket), and the timeline says what happened there.
            match store
                .staff_action(ticket, &actor, &StaffAction::Reopen, now)
                .await
            {
                Ok(()) | Err(StaffError::Refused(_)) => {}
                Err(StaffError::Store(e)) => return Err(e),
            }
            store
                .take_remote_comment(
                    &system.name,
                    &change.event,
                    ticket,
                    &change.author,
                    &format!(
                        "Set the {} ticket {} to {status}",
                        system.name, change.remote_id
                    ),
                    now_ms(),
                )
                .await?;
        }
    }
    Ok(())
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `ms` as "YYYY-MM-DD HH:MM:SS" in UTC, as ServiceNow and GLPI write times.
pub fn utc_text(ms: i64) -> String {
    let time = std::time::UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_seconds(time)
        .to_string()
        .replace('T', " ")
        .trim_end_matches('Z')
        .to_owned()
}

/// The text of the comment or note a connector writes for a Firstline `text` (never empty).
pub fn or_dash(text: &str) -> &str {
    if text.trim().is_empty() { "-" } else { text }
}

/// The filters, for the notification expander.
pub fn filters(systems: &[TicketSystem]) -> Vec<SyncFilter> {
    systems.iter().map(|s| s.filter.clone()).collect()
}
