//! End-user self-report: `firstline-agent report "TEXT"` hands the user's words to the
//! running agent over a local socket (a named pipe on Windows, `report_pipe.rs`); the agent picks playbooks from the words, runs them with
//! its own privileges and config, queues the result in its outbox as a `user.report` finding
//! (so it reaches the collector exactly once, like any finding) and answers with a short
//! result for the user. Without a running agent, the command runs the playbooks itself and
//! says the report could not be sent.
//!
//! The socket is open to every local user, so the listener trusts it no more than the
//! network: a bounded number of connections, each with a deadline and a size limit for its
//! request; a bounded number of reports per user (by the socket's peer credentials, or the
//! pipe client's account on Windows); and a
//! web address from the user's words is probed only on the ports and hosts the config allows.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use firstline_i18n::{Message, msg};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, Semaphore, watch};

use crate::checks::Shared;
use crate::config::Settings;
use crate::finding::{Evidence, Finding, Severity, now_ms};
use crate::help::{HelpLinkAnswer, HelpLinks};
use crate::outbox::Outbox;
use crate::playbooks::target::{ReportTargets, WebTarget};
use crate::playbooks::{self, Context, Outcome, PlaybookResult, Step, symptoms};

/// The check name user reports travel under.
pub const USER_REPORT: &str = "user.report";
/// Longest report text accepted (the collector shows it as the ticket's description).
pub const MAX_TEXT_BYTES: usize = 4096;
/// At most this many playbooks run for one report (most relevant first).
const MAX_PLAYBOOKS: usize = 3;
/// Evidence must fit the wire limit with room to spare.
const MAX_EVIDENCE_BYTES: usize = 60 * 1024;
/// Reports diagnosed at once; more wait their turn.
const CONCURRENT_REPORTS: usize = 2;
/// Report connections served at once (waiting their turn included); one more is answered at
/// once that the agent is busy, and closed.
pub const MAX_CONNECTIONS: usize = 16;
/// A client must have sent its whole request this soon after connecting.
pub const READ_DEADLINE: Duration = Duration::from_secs(5);
/// ... and must have taken the answer this soon after it was ready.
const WRITE_DEADLINE: Duration = Duration::from_secs(10);
/// Longest request: the text (JSON-escaped) with room to spare.
pub const MAX_REQUEST_BYTES: usize = 32 * 1024;

/// What a client asks over the socket or pipe: one JSON line.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum Request {
    /// `firstline-agent help`: a link to the user's own help page, answered with a
    /// [`HelpLinkAnswer`].
    HelpLink { help_link: HelpLinkRequest },
    /// `firstline-agent report WORDS`, answered with a [`ReportOutcome`].
    Report { text: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct HelpLinkRequest {
    /// The user's OS locale ("el_GR.UTF-8") or language code ("el"); cleaned by the agent.
    #[serde(default)]
    locale: String,
}

/// A request as read, before anything is done about it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Asked {
    Report(String),
    HelpLink { locale: String },
}

/// Where a report came from: the report socket, or the user's help page (through the
/// collector), which is noted in its evidence with the language the page was read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    ReportSocket,
    HelpPage { lang: Option<firstline_i18n::Lang> },
}

/// What the user is told, and what was queued.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReportOutcome {
    pub report_id: String,
    pub text: String,
    /// One line per playbook: its conclusion.
    pub summary: Vec<String>,
    pub results: serde_json::Value,
    /// Queued for the collector (it opens a ticket when the report arrives).
    pub queued: bool,
    /// Why not, when not.
    pub note: Option<String>,
    /// The diagnosis for the person who reported it, one per playbook, put into their language
    /// where it is read.
    #[serde(default)]
    pub said: Vec<Message>,
    /// What they can do now, most useful first (the first failing playbook's advice first).
    #[serde(default)]
    pub advice: Vec<Message>,
    /// `note` for the person who reported it (refusals: too many reports, busy, not sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note_said: Option<Message>,
    /// When this user has sent their share of reports: seconds until another is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

impl ReportOutcome {
    /// An answer that ran nothing and queued nothing, saying why.
    pub fn refused(note: String, note_said: Message) -> Self {
        ReportOutcome {
            report_id: String::new(),
            text: String::new(),
            summary: Vec::new(),
            results: serde_json::Value::Null,
            queued: false,
            note: Some(note),
            said: Vec::new(),
            advice: Vec::new(),
            note_said: Some(note_said),
            retry_after_secs: None,
        }
    }
}

/// Runs the playbooks the words ask for. A web address in the words is probed only when
/// `allowed` permits it; otherwise the result says, in plain words, that it was not tested.
pub async fn diagnose(
    text: &str,
    context: &Context,
    allowed: &ReportTargets,
) -> Vec<PlaybookResult> {
    let matched = symptoms::match_text(text);
    let mut results = Vec::new();
    for playbook in matched.playbooks.into_iter().take(MAX_PLAYBOOKS) {
        let target = match playbook {
            playbooks::Playbook::Web => matched.target.as_deref(),
            // The crash playbook looks for the applications the words name ("Outlook").
            playbooks::Playbook::Crash => Some(text),
            _ => None,
        };
        if playbook == playbooks::Playbook::Web
            && let Some(target) = target
            && let Ok(parsed) = WebTarget::parse(target.trim())
            && let Err(why) = allowed.permits(&parsed)
        {
            tracing::info!(target = %parsed.url(), "a reported web address is not allowed for reports; not probed");
            results.push(not_tested(playbook, target, why));
            continue;
        }
        results.push(playbooks::run(playbook, target, context).await);
    }
    results
}

/// The result of a playbook not run because the config does not allow its target.
fn not_tested(playbook: playbooks::Playbook, target: &str, why: String) -> PlaybookResult {
    PlaybookResult {
        playbook,
        target: Some(target.to_owned()),
        steps: vec![Step {
            layer: "url",
            tried: "check that this agent may test the address for a report".to_owned(),
            outcome: Outcome::Skip,
            took_ms: 0.0,
            detail: why.clone(),
            evidence: serde_json::json!({}),
        }],
        failed_layer: None,
        conclusion: why,
        said: msg!("said-web-not-tested", "site" => parsed_host(target)),
        advice: vec![msg!("advice-wait-for-it")],
        took_ms: 0.0,
    }
}

/// The host of a target for the user's words ("intranet.example.com"), else the target.
fn parsed_host(target: &str) -> String {
    WebTarget::parse(target.trim()).map_or_else(|_| target.to_owned(), |parsed| parsed.host)
}

/// The playbook result the person who reported is told about: the first that failed, else the
/// first.
fn headline(results: &[PlaybookResult]) -> Option<&PlaybookResult> {
    results
        .iter()
        .find(|result| result.failed_layer.is_some())
        .or(results.first())
}

/// Every result's advice, the headline's first, without repeats.
pub fn advice(results: &[PlaybookResult]) -> Vec<Message> {
    let mut advice: Vec<Message> = Vec::new();
    let rest = results
        .iter()
        .filter(|result| headline(results).is_none_or(|first| !std::ptr::eq(*result, first)));
    for result in headline(results).into_iter().chain(rest) {
        for message in &result.advice {
            if !advice.contains(message) {
                advice.push(message.clone());
            }
        }
    }
    advice
}

/// The local account that made a report, as the OS says (the socket's peer credentials, the
/// pipe client's process token), never as the client claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reporter {
    /// The Unix user id; absent on Windows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// The account's name: the login name from the passwd file, or on Windows the user name
    /// without its domain (what WTS sessions name), when known.
    pub account: Option<String>,
    /// Windows: the account's SID, its stable name (a user can be renamed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// Who a share of reports or help links is counted for: the OS's own name for the client.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientKey {
    Uid(u32),
    Sid(String),
}

impl Reporter {
    /// The reporter with user id `uid`, named from this machine's accounts.
    pub fn from_uid(uid: u32) -> Self {
        Reporter {
            uid: Some(uid),
            account: crate::users::account_name(uid),
            sid: None,
        }
    }

    /// What this reporter's share is counted under: the SID on Windows, else the uid.
    pub fn key(&self) -> Option<ClientKey> {
        match (&self.sid, self.uid) {
            (Some(sid), _) => Some(ClientKey::Sid(sid.clone())),
            (None, Some(uid)) => Some(ClientKey::Uid(uid)),
            (None, None) => None,
        }
    }
}

/// The finding that carries a user report to the collector; `reporter` goes in its evidence
/// as `reporter: {uid, account}` (on Windows `{account, sid}`; absent when unknown).
pub fn user_report_finding(
    report_id: &str,
    text: &str,
    results: &[PlaybookResult],
    reporter: Option<&Reporter>,
) -> Finding {
    let text = bounded(text, MAX_TEXT_BYTES);
    let first_failure = results.iter().find(|result| result.failed_layer.is_some());
    let mut evidence = Evidence::new();
    evidence.insert("text".to_owned(), serde_json::json!(text));
    evidence.insert(
        "failed_layer".to_owned(),
        serde_json::json!(first_failure.and_then(|r| r.failed_layer)),
    );
    evidence.insert(
        "conclusion".to_owned(),
        serde_json::json!(
            first_failure
                .or(results.first())
                .map(|r| r.conclusion.clone())
        ),
    );
    evidence.insert(
        "said".to_owned(),
        serde_json::json!(headline(results).map(|r| &r.said)),
    );
    evidence.insert("advice".to_owned(), serde_json::json!(advice(results)));
    evidence.insert(
        "hostname".to_owned(),
        serde_json::json!(crate::inventory::hostname()),
    );
    if let Some(reporter) = reporter {
        evidence.insert("reporter".to_owned(), serde_json::json!(reporter));
    }
    evidence.insert("playbooks".to_owned(), compact(results));
    Finding {
        check: USER_REPORT.to_owned(),
        resource: report_id.to_owned(),
        severity: Severity::Warning,
        summary: bounded(&text, 1000),
        evidence,
        observed_at_ms: now_ms(),
    }
}

/// The results as JSON, with step evidence dropped (passing steps first) until it fits.
fn compact(results: &[PlaybookResult]) -> serde_json::Value {
    compact_value(serde_json::to_value(results).unwrap_or_default())
}

/// Playbook results (JSON) with step evidence dropped, passing steps first, until they fit
/// [`MAX_EVIDENCE_BYTES`].
fn compact_value(mut value: serde_json::Value) -> serde_json::Value {
    for only_passing in [true, false] {
        if serde_json::to_string(&value).map_or(0, |s| s.len()) <= MAX_EVIDENCE_BYTES {
            break;
        }
        if let Some(playbooks) = value.as_array_mut() {
            for playbook in playbooks {
                if let Some(steps) = playbook.get_mut("steps").and_then(|s| s.as_array_mut()) {
                    for step in steps {
                        let passing = step.get("outcome").and_then(|o| o.as_str()) != Some("fail");
                        if passing || !only_passing {
                            step["evidence"] = serde_json::Value::Null;
                        }
                    }
                }
            }
        }
    }
    value
}

/// A report's outcome as JSON that fits a reproduce result (the collector takes 64 KiB): its
/// results compacted as the finding's are.
pub fn outcome_json(outcome: &ReportOutcome) -> String {
    let mut value = serde_json::to_value(outcome).unwrap_or_default();
    if let Some(results) = value.get_mut("results") {
        *results = compact_value(results.take());
    }
    value.to_string()
}

fn bounded(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_owned();
    }
    let mut end = max_bytes.saturating_sub(3);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

fn outcome(report_id: String, text: &str, results: &[PlaybookResult]) -> ReportOutcome {
    ReportOutcome {
        report_id,
        text: text.to_owned(),
        summary: results.iter().map(|r| r.conclusion.clone()).collect(),
        results: serde_json::to_value(results).unwrap_or_default(),
        queued: false,
        note: None,
        said: results.iter().map(|r| r.said.clone()).collect(),
        advice: advice(results),
        note_said: None,
        retry_after_secs: None,
    }
}

/// Diagnoses locally, without queueing: for when no agent is running.
pub async fn diagnose_locally(text: &str, settings: &Settings) -> anyhow::Result<ReportOutcome> {
    let context = Context::from_settings(settings, None).map_err(anyhow::Error::msg)?;
    let results = diagnose(text, &context, &settings.playbooks.report_targets).await;
    Ok(outcome(uuid::Uuid::new_v4().to_string(), text, &results))
}

/// Where the running agent listens for `report` and `help`: the Unix socket
/// (`STATE_DIR/report.sock`), or on Windows the named pipe [`crate::report_pipe::PIPE_NAME`];
/// `[playbooks] report_socket` overrides either.
pub fn endpoint(settings: &Settings) -> std::path::PathBuf {
    #[cfg(windows)]
    {
        settings
            .playbooks
            .report_socket
            .clone()
            .unwrap_or_else(|| std::path::PathBuf::from(crate::report_pipe::PIPE_NAME))
    }
    #[cfg(not(windows))]
    {
        settings.report_socket()
    }
}

/// Asks the running agent at `socket` to diagnose and queue `text`.
#[cfg(any(unix, windows))]
pub async fn submit(socket: &Path, text: &str) -> std::io::Result<ReportOutcome> {
    let request = Request::Report {
        text: text.to_owned(),
    };
    // The slow-computer playbook alone samples for its window; leave room for three.
    let line = exchange(socket, &request, Duration::from_secs(180)).await?;
    serde_json::from_str(&line).map_err(std::io::Error::other)
}

/// Asks the running agent at `socket` for a link to this user's help page; `locale` is the
/// user's (see [`crate::help::user_locale`]). An agent that refused the request itself (busy, a
/// request it could not read) is a [`HelpLinkAnswer::Failed`] with its note.
#[cfg(any(unix, windows))]
pub async fn submit_help(socket: &Path, locale: &str) -> std::io::Result<HelpLinkAnswer> {
    let request = Request::HelpLink {
        help_link: HelpLinkRequest {
            locale: locale.to_owned(),
        },
    };
    let line = exchange(
        socket,
        &request,
        crate::help::HELP_LINK_TIMEOUT + READ_DEADLINE,
    )
    .await?;
    if let Ok(answer) = serde_json::from_str::<HelpLinkAnswer>(&line) {
        return Ok(answer);
    }
    let refused: ReportOutcome = serde_json::from_str(&line).map_err(std::io::Error::other)?;
    Ok(HelpLinkAnswer::Failed {
        reason: refused
            .note
            .unwrap_or_else(|| "the agent gave no reason".to_owned()),
    })
}

/// Sends one request line and reads one answer line within `timeout`.
#[cfg(any(unix, windows))]
async fn exchange(socket: &Path, request: &Request, timeout: Duration) -> std::io::Result<String> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    #[cfg(unix)]
    let stream = tokio::net::UnixStream::connect(socket).await?;
    #[cfg(windows)]
    let stream = crate::report_pipe::connect(socket.as_os_str()).await?;
    let (read, mut write) = tokio::io::split(stream);
    let mut request = serde_json::to_string(request).map_err(std::io::Error::other)?;
    request.push('\n');
    write.write_all(request.as_bytes()).await?;
    let mut line = String::new();
    tokio::time::timeout(timeout, BufReader::new(read).read_line(&mut line))
        .await
        .map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::TimedOut, "the agent did not answer")
        })??;
    Ok(line)
}

#[cfg(not(any(unix, windows)))]
pub async fn submit(_socket: &Path, _text: &str) -> std::io::Result<ReportOutcome> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "reporting to the running agent is not available on this platform yet",
    ))
}

#[cfg(not(any(unix, windows)))]
pub async fn submit_help(_socket: &Path, _locale: &str) -> std::io::Result<HelpLinkAnswer> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "asking the running agent for a help link is not available on this platform yet",
    ))
}

/// Diagnosing and queueing user reports, shared by the report socket and the help page's
/// reports (reproduce requests "report"): one rate limit per local user and one set of turns
/// for both ways in.
pub struct Reports {
    settings: crate::config::Live,
    shared: Arc<Shared>,
    outbox: Arc<Outbox>,
    queued: Arc<Notify>,
    limit: RateLimit,
    turns: Semaphore,
}

impl std::fmt::Debug for Reports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reports").finish_non_exhaustive()
    }
}

impl Reports {
    /// Diagnoses with `settings` as they change from then on.
    #[must_use]
    pub fn following(mut self, settings: crate::config::Live) -> Self {
        self.settings = settings;
        self
    }

    pub fn new(
        settings: Settings,
        shared: Arc<Shared>,
        outbox: Arc<Outbox>,
        queued: Arc<Notify>,
    ) -> Self {
        let limit = RateLimit::new(
            settings.playbooks.reports_per_user,
            settings.playbooks.report_window,
        );
        Reports {
            settings: crate::config::fixed(settings),
            shared,
            outbox,
            queued,
            limit,
            turns: Semaphore::new(CONCURRENT_REPORTS),
        }
    }

    /// Counts the report against `reporter`'s share, waits for a turn, diagnoses and queues.
    /// Over the share, nothing runs and the answer says when another can be sent.
    pub async fn admit_and_report(
        &self,
        text: &str,
        reporter: Option<&Reporter>,
        via: Via,
    ) -> ReportOutcome {
        let uid = reporter.and_then(|r| r.uid);
        if let Err(wait) = self
            .limit
            .admit(reporter.and_then(Reporter::key), Instant::now())
        {
            tracing::info!(
                uid,
                account = reporter.and_then(|r| r.account.as_deref()),
                wait_secs = wait.as_secs(),
                ?via,
                "user report refused: this user has sent their share for now"
            );
            let mut reply =
                ReportOutcome::refused(self.limit.explain(wait), self.limit.explain_said(wait));
            reply.retry_after_secs = Some(wait.as_secs() + u64::from(wait.subsec_nanos() > 0));
            return reply;
        }
        let Ok(_turn) = self.turns.acquire().await else {
            return ReportOutcome::refused(
                "the agent is stopping".to_owned(),
                msg!("report-note-agent-down"),
            );
        };
        self.report(text, reporter, via).await
    }

    /// Diagnoses `text` and queues the report, made by `reporter` when known.
    pub async fn report(&self, text: &str, reporter: Option<&Reporter>, via: Via) -> ReportOutcome {
        let clock_skew_ms = self.shared.facts().clock_skew_ms;
        let settings = self.settings.borrow().clone();
        let context = match Context::from_settings(&settings, clock_skew_ms) {
            Ok(context) => context,
            Err(e) => {
                return ReportOutcome {
                    report_id: String::new(),
                    text: text.to_owned(),
                    summary: Vec::new(),
                    results: serde_json::Value::Null,
                    queued: false,
                    note: Some(format!("the agent's config is not usable: {e}")),
                    said: Vec::new(),
                    advice: Vec::new(),
                    note_said: Some(msg!("report-note-broken-setup")),
                    retry_after_secs: None,
                };
            }
        };
        let report_id = uuid::Uuid::new_v4().to_string();
        let results = diagnose(text, &context, &settings.playbooks.report_targets).await;
        let mut reply = outcome(report_id.clone(), text, &results);
        let mut finding = user_report_finding(&report_id, text, &results, reporter);
        if let Via::HelpPage { lang } = via {
            finding
                .evidence
                .insert("via".to_owned(), serde_json::json!("help page"));
            if let Some(lang) = lang {
                finding
                    .evidence
                    .insert("lang".to_owned(), serde_json::json!(lang.code()));
            }
        }
        match self.outbox.push(&[finding]) {
            Ok(_) => {
                self.queued.notify_one();
                reply.queued = true;
                tracing::info!(
                    report = %report_id,
                    uid = reporter.and_then(|r| r.uid),
                    account = reporter.and_then(|r| r.account.as_deref()),
                    ?via,
                    "user report queued"
                );
            }
            Err(e) => {
                tracing::error!(error = %e, "queueing a user report");
                reply.note = Some(format!("the report could not be queued: {e}"));
                reply.note_said = Some(msg!("report-note-not-queued"));
            }
        }
        reply
    }
}

/// What the report listener needs from the running agent.
pub struct Listener {
    pub settings: Settings,
    pub reports: Arc<Reports>,
    /// Where `firstline-agent help` gets its link (the uplink serves it while connected).
    pub help_links: HelpLinks,
}

impl Listener {
    /// Serves `firstline-agent report` and `help` on the settings' socket until `stop`.
    #[cfg(unix)]
    pub async fn serve(self, mut stop: watch::Receiver<bool>) {
        let path = endpoint(&self.settings);
        // A socket left by a previous run would make bind fail.
        let _ = std::fs::remove_file(&path);
        let listener = match tokio::net::UnixListener::bind(&path) {
            Ok(listener) => listener,
            Err(e) => {
                tracing::warn!(socket = %path.display(), error = %e, "cannot listen for user reports; `firstline-agent report` will diagnose without sending");
                return;
            }
        };
        // Any local user may report a problem with their computer.
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666));
        }
        tracing::info!(socket = %path.display(), "listening for user reports");
        let connections = Connections::new(self);
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        // The kernel's word for who connected (SO_PEERCRED): the user cannot
                        // choose it.
                        let client = stream
                            .peer_cred()
                            .ok()
                            .map(|credentials| Reporter::from_uid(credentials.uid()));
                        connections.serve(stream, client, |stream, answer| {
                            let _ = stream.try_write(answer);
                        });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "accepting a user report connection");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                },
                () = crate::uplink::stopped(&mut stop) => break,
            }
        }
        let _ = std::fs::remove_file(&path);
    }

    /// Serves `firstline-agent report` and `help` on the named pipe until `stop`; see
    /// `report_pipe.rs` for who may connect and how the client's account is learnt.
    #[cfg(windows)]
    pub async fn serve(self, mut stop: watch::Receiver<bool>) {
        use crate::report_pipe;
        let name = endpoint(&self.settings).into_os_string();
        // The first instance is created with FILE_FLAG_FIRST_PIPE_INSTANCE: if another process
        // holds the name, nobody is served rather than a squatter's pipe trusted.
        // A name held by another process (a squatter, or our own previous run still ending) is
        // tried again with backoff rather than given up: the service must not stay deaf.
        let mut wait = Duration::from_secs(1);
        let mut server = loop {
            match report_pipe::create_server(&name, true) {
                Ok(server) => break server,
                Err(e) => {
                    tracing::error!(pipe = ?name, error = %e, retry_in = ?wait, "cannot listen for user reports (is another process holding the name?); `firstline-agent report` diagnoses without sending meanwhile");
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = crate::uplink::stopped(&mut stop) => return,
                    }
                    wait = (wait * 2).min(Duration::from_secs(60));
                }
            }
        };
        tracing::info!(pipe = ?name, "listening for user reports");
        let connections = Connections::new(self);
        let mut failed_connects: u64 = 0;
        loop {
            tokio::select! {
                connected = server.connect() => {
                    if let Err(e) = connected {
                        // A client that opened and closed before ConnectNamedPipe (ERROR_NO_DATA)
                        // leaves this instance unusable: replace it — the new one is created
                        // before the old is dropped, so the name is never free — instead of
                        // retrying the broken one forever. Logged at 1, 2, 4, 8 … failures.
                        failed_connects += 1;
                        if failed_connects.is_power_of_two() {
                            tracing::warn!(error = %e, failed_connects, "accepting a user report connection");
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        match report_pipe::create_server(&name, false) {
                            Ok(next) => server = next,
                            Err(e) => {
                                tracing::warn!(pipe = ?name, error = %e, "replacing a broken report pipe instance");
                                tokio::time::sleep(Duration::from_millis(200)).await;
                            }
                        }
                        continue;
                    }
                    // The next instance before this one is handed on, so a client always
                    // finds one (or ERROR_PIPE_BUSY, which it waits out).
                    let next = loop {
                        match report_pipe::create_server(&name, false) {
                            Ok(next) => break next,
                            Err(e) => {
                                tracing::warn!(pipe = ?name, error = %e, "creating the next report pipe instance");
                                tokio::time::sleep(Duration::from_millis(200)).await;
                            }
                        }
                    };
                    let stream = std::mem::replace(&mut server, next);
                    let client = match report_pipe::client_account(&stream) {
                        Ok(client) => Some(client),
                        Err(e) => {
                            tracing::warn!(error = %e, "the report pipe's client could not be named");
                            None
                        }
                    };
                    connections.serve(stream, client, |stream, answer| {
                        let _ = stream.try_write(answer);
                    });
                }
                () = crate::uplink::stopped(&mut stop) => break,
            }
        }
    }

    #[cfg(not(any(unix, windows)))]
    pub async fn serve(self, _stop: watch::Receiver<bool>) {}

    /// One connection: read the request (bounded in time and size), serve it (a report
    /// counted against its user, or a help link), answer (bounded in time). `client` is who
    /// the OS says connected.
    #[cfg(any(unix, windows))]
    async fn handle<S>(
        &self,
        stream: S,
        client: Option<Reporter>,
        help_limit: &RateLimit,
    ) -> anyhow::Result<()>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite,
    {
        use tokio::io::AsyncWriteExt;
        let uid = client.as_ref().and_then(|c| c.uid);
        let account = client.as_ref().and_then(|c| c.account.clone());
        let (read, mut write) = tokio::io::split(stream);
        let mut answer = match read_request(read).await {
            Err(note) => {
                tracing::info!(uid, account = account.as_deref(), reason = %note, "user report refused");
                serde_json::to_string(&ReportOutcome::refused(
                    note,
                    msg!("report-note-unreadable"),
                ))?
            }
            Ok(Asked::Report(text)) => {
                let reply = self
                    .reports
                    .admit_and_report(&text, client.as_ref(), Via::ReportSocket)
                    .await;
                serde_json::to_string(&reply)?
            }
            Ok(Asked::HelpLink { locale }) => {
                serde_json::to_string(&self.help_link(client.as_ref(), &locale, help_limit).await)?
            }
        };
        answer.push('\n');
        tokio::time::timeout(WRITE_DEADLINE, async {
            write.write_all(answer.as_bytes()).await?;
            write.flush().await
        })
        .await
        .map_err(|_| {
            anyhow::anyhow!("the client did not take its answer within {WRITE_DEADLINE:?}")
        })??;
        Ok(())
    }

    /// A help link for `client` (named by the OS), within their share.
    #[cfg(any(unix, windows))]
    async fn help_link(
        &self,
        client: Option<&Reporter>,
        locale: &str,
        limit: &RateLimit,
    ) -> HelpLinkAnswer {
        let Some((client, key)) = client.and_then(|c| Some((c, c.key()?))) else {
            return HelpLinkAnswer::Failed {
                reason: "the system did not say which user asked".to_owned(),
            };
        };
        let uid = client.uid;
        if let Err(wait) = limit.admit(Some(key), Instant::now()) {
            tracing::info!(
                uid,
                account = client.account.as_deref(),
                "help link refused: asked for too often"
            );
            return HelpLinkAnswer::TooMany {
                retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            };
        }
        // A uid the passwd file does not know (a network directory's account) goes unnamed;
        // the collector has the uid. Windows has no uid (0 on the wire): the account names
        // the user.
        let ask = crate::help::HelpLinkAsk {
            account: client.account.clone().unwrap_or_default(),
            uid: uid.unwrap_or(0),
            locale: crate::help::clean_locale(locale),
        };
        tracing::info!(uid, account = %ask.account, locale = %ask.locale, "help link asked for");
        let answer = self
            .help_links
            .ask(ask, crate::help::HELP_LINK_TIMEOUT)
            .await;
        match &answer {
            HelpLinkAnswer::Link { .. } => tracing::info!(uid, "help link given"),
            other => tracing::info!(uid, answer = ?other, "no help link"),
        }
        answer
    }
}

/// The connections of one listener, whatever carries them: at most [`MAX_CONNECTIONS`] at
/// once, each served by [`Listener::handle`] in a task of its own.
#[cfg(any(unix, windows))]
struct Connections {
    listener: Arc<Listener>,
    help_limit: Arc<RateLimit>,
    slots: Arc<Semaphore>,
    busy_total: std::sync::atomic::AtomicU64,
}

#[cfg(any(unix, windows))]
impl Connections {
    fn new(listener: Listener) -> Self {
        Connections {
            listener: Arc::new(listener),
            help_limit: Arc::new(RateLimit::new(
                crate::help::HELP_LINKS_PER_USER,
                crate::help::HELP_LINK_WINDOW,
            )),
            slots: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
            busy_total: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Serves `stream` from `client` in a task of its own; over the bound, `answer_busy` gets
    /// the "busy" line to write without waiting, and the stream is closed: a connection is
    /// never queued.
    fn serve<S>(&self, stream: S, client: Option<Reporter>, answer_busy: impl FnOnce(&S, &[u8]))
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
    {
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            let busy_total = self
                .busy_total
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                + 1;
            if busy_total.is_power_of_two() {
                tracing::warn!(
                    limit = MAX_CONNECTIONS,
                    refused_total = busy_total,
                    "too many report connections at once; answered busy"
                );
            }
            answer_busy(&stream, &busy_answer());
            return;
        };
        let (listener, help_limit) = (self.listener.clone(), self.help_limit.clone());
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(e) = listener.handle(stream, client, &help_limit).await {
                tracing::warn!(error = %e, "user report failed");
            }
        });
    }
}

/// Reads one request line within [`READ_DEADLINE`] and [`MAX_REQUEST_BYTES`]; what was asked,
/// or what to tell the client.
#[cfg(any(unix, windows))]
async fn read_request(read: impl tokio::io::AsyncRead + Unpin) -> Result<Asked, String> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
    let mut line = Vec::new();
    let mut reader = BufReader::new(read.take(MAX_REQUEST_BYTES as u64 + 1));
    match tokio::time::timeout(READ_DEADLINE, reader.read_until(b'\n', &mut line)).await {
        Err(_) => {
            return Err(format!(
                "the request did not arrive within {} seconds",
                READ_DEADLINE.as_secs()
            ));
        }
        Ok(Err(e)) => return Err(format!("reading the request: {e}")),
        Ok(Ok(_)) => {}
    }
    if line.len() > MAX_REQUEST_BYTES {
        return Err(format!(
            "the request is too long: a report may have at most {MAX_TEXT_BYTES} bytes of text"
        ));
    }
    let request: Request =
        serde_json::from_slice(&line).map_err(|e| format!("the request did not read: {e}"))?;
    let text = match request {
        Request::HelpLink { help_link } => {
            return Ok(Asked::HelpLink {
                locale: help_link.locale,
            });
        }
        Request::Report { text } => text,
    };
    if text.trim().is_empty() {
        return Err(
            "say what is wrong, e.g. firstline-agent report \"I can't open the intranet\""
                .to_owned(),
        );
    }
    // Longer words are kept, cut to what the ticket shows.
    Ok(Asked::Report(bounded(&text, MAX_TEXT_BYTES)))
}

/// The line a connection over [`MAX_CONNECTIONS`] is told (that the agent is busy), written
/// without waiting: one short line into an empty buffer.
#[cfg(any(unix, windows))]
fn busy_answer() -> Vec<u8> {
    let reply = ReportOutcome::refused(
        "The support agent on this computer is busy with other reports right now; try again in a minute."
            .to_owned(),
        msg!("report-note-busy"),
    );
    let mut answer = serde_json::to_vec(&reply).unwrap_or_default();
    answer.push(b'\n');
    answer
}

/// Reports per local user within a sliding window (`[playbooks] reports_per_user`,
/// `report_window`): one person cannot flood the support desk with tickets. Help links have
/// a limit of their own.
struct RateLimit {
    per_user: usize,
    window: Duration,
    /// When each user's reports within the window were accepted, oldest first; `None` is
    /// whoever the kernel could not name.
    sent: Mutex<HashMap<Option<ClientKey>, VecDeque<Instant>>>,
}

impl RateLimit {
    fn new(per_user: u32, window: Duration) -> Self {
        Self {
            per_user: usize::try_from(per_user).unwrap_or(usize::MAX),
            window,
            sent: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a report by `user` at `now`; when they already sent their share within the
    /// window, how long until they may send another.
    fn admit(&self, user: Option<ClientKey>, now: Instant) -> Result<(), Duration> {
        // Inserts and removals only: a panic elsewhere cannot leave it inconsistent.
        let mut sent = self
            .sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        sent.retain(|_, times| {
            while times
                .front()
                .is_some_and(|at| now.saturating_duration_since(*at) >= self.window)
            {
                times.pop_front();
            }
            !times.is_empty()
        });
        let times = sent.entry(user).or_default();
        if times.len() >= self.per_user {
            let oldest = times.front().copied().unwrap_or(now);
            return Err(self
                .window
                .saturating_sub(now.saturating_duration_since(oldest)));
        }
        times.push_back(now);
        Ok(())
    }

    /// [`RateLimit::explain`] for the user, in their language: whole minutes, rounded up.
    fn explain_said(&self, wait: Duration) -> Message {
        let minutes = |duration: Duration| duration.as_secs().div_ceil(60).max(1);
        msg!(
            "report-note-rate-limited",
            "count" => self.per_user,
            "window_minutes" => minutes(self.window),
            "wait_minutes" => minutes(wait)
        )
    }

    /// What a user who sent their share is told.
    fn explain(&self, wait: Duration) -> String {
        let reports = if self.per_user == 1 {
            "a report".to_owned()
        } else {
            format!("{} reports", self.per_user)
        };
        format!(
            "You have already sent {reports} in the last {}. Your support desk has them and \
             will be in touch; there is no need to send more. You can send another in {}.",
            plain_duration(self.window),
            plain_duration(wait)
        )
    }
}

/// "45 seconds", "1 minute", "7 minutes", "2 hours": rounded up.
fn plain_duration(duration: Duration) -> String {
    let seconds = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    let (count, unit) = if seconds < 60 {
        (seconds.max(1), "second")
    } else if seconds <= 90 * 60 {
        (seconds.div_ceil(60), "minute")
    } else {
        (seconds.div_ceil(3600), "hour")
    };
    if count == 1 {
        format!("1 {unit}")
    } else {
        format!("{count} {unit}s")
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::help::{self, HelpLinkAsk};

    #[test]
    fn the_report_finding_names_the_account_the_kernel_gave() {
        let reporter = Reporter {
            uid: Some(1000),
            account: Some("alice".to_owned()),
            sid: None,
        };
        let finding = user_report_finding("r1", "no wifi", &[], Some(&reporter));
        assert_eq!(
            finding.evidence["reporter"],
            serde_json::json!({"uid": 1000, "account": "alice"})
        );
        assert_eq!(reporter.key(), Some(ClientKey::Uid(1000)));
        // Windows: no uid; the account the pipe client's token names, and its SID.
        let windows = Reporter {
            uid: None,
            account: Some("alice".to_owned()),
            sid: Some("S-1-5-21-1-2-3-1001".to_owned()),
        };
        let finding = user_report_finding("r3", "no wifi", &[], Some(&windows));
        assert_eq!(
            finding.evidence["reporter"],
            serde_json::json!({"account": "alice", "sid": "S-1-5-21-1-2-3-1001"})
        );
        assert_eq!(
            windows.key(),
            Some(ClientKey::Sid("S-1-5-21-1-2-3-1001".to_owned()))
        );
        let anonymous = user_report_finding("r2", "no wifi", &[], None);
        assert!(!anonymous.evidence.contains_key("reporter"));
        assert_eq!(Reporter::from_uid(0).uid, Some(0));
    }

    /// A result as a playbook would end, for the words tests.
    fn result(
        playbook: playbooks::Playbook,
        failed_layer: Option<&'static str>,
        said: &'static str,
        advice: &[&'static str],
    ) -> PlaybookResult {
        PlaybookResult {
            playbook,
            target: None,
            steps: Vec::new(),
            failed_layer,
            conclusion: format!("{said} (staff words)"),
            said: msg!(said),
            advice: advice.iter().map(|id| msg!(*id)).collect(),
            took_ms: 0.0,
        }
    }

    #[test]
    fn the_report_says_the_first_failure_and_its_advice_first() {
        let results = [
            result(
                playbooks::Playbook::Slow,
                None,
                "said-slow-normal",
                &["advice-slow-name-program", "advice-wait-for-it"],
            ),
            result(
                playbooks::Playbook::Disk,
                Some("space"),
                "said-disk-full",
                &["advice-disk-save-elsewhere", "advice-wait-for-it"],
            ),
        ];
        let finding = user_report_finding("r1", "slow and cannot save", &results, None);
        assert_eq!(finding.evidence["said"]["id"], "said-disk-full");
        let advice: Vec<&str> = finding.evidence["advice"]
            .as_array()
            .expect("advice")
            .iter()
            .filter_map(|m| m["id"].as_str())
            .collect();
        assert_eq!(
            advice,
            [
                "advice-disk-save-elsewhere",
                "advice-wait-for-it",
                "advice-slow-name-program"
            ]
        );
        let reply = outcome("r1".to_owned(), "slow and cannot save", &results);
        let said: Vec<&str> = reply.said.iter().map(|m| m.id.as_ref()).collect();
        assert_eq!(said, ["said-slow-normal", "said-disk-full"]);
        assert_eq!(reply.advice[0].id, "advice-disk-save-elsewhere");
        // Nothing failed: the first result is the headline.
        let finding = user_report_finding("r2", "slow", &results[..1], None);
        assert_eq!(finding.evidence["said"]["id"], "said-slow-normal");
    }

    #[test]
    fn a_refusal_says_in_the_users_words_when_to_send_another() {
        let limit = RateLimit::new(5, Duration::from_secs(600));
        let note = limit.explain_said(Duration::from_secs(61));
        assert_eq!(note.id, "report-note-rate-limited");
        let greek = note.text(firstline_i18n::Lang::El);
        assert!(
            greek.contains("5 αναφορές") && greek.contains("2 λεπτά"),
            "{greek}"
        );
        let english = note.text(firstline_i18n::Lang::En);
        assert!(english.contains("in 2 minutes"), "{english}");
    }

    #[test]
    fn each_user_gets_their_share_of_reports_per_window() {
        let limit = RateLimit::new(3, Duration::from_secs(600));
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        // (user, seconds after start, accepted or the wait in seconds)
        let uid = |uid| Some(ClientKey::Uid(uid));
        let sid = |sid: &str| Some(ClientKey::Sid(sid.to_owned()));
        let cases: [(Option<ClientKey>, u64, Result<(), u64>); 12] = [
            (uid(1000), 0, Ok(())),
            (uid(1000), 10, Ok(())),
            (uid(1000), 20, Ok(())),
            (uid(1000), 30, Err(570)),
            // Another user is counted apart.
            (uid(1001), 30, Ok(())),
            (None, 30, Ok(())),
            // Windows accounts by SID, each apart.
            (sid("S-1-5-21-1-2-3-1001"), 30, Ok(())),
            (sid("S-1-5-21-1-2-3-1002"), 30, Ok(())),
            (sid("S-1-5-21-1-2-3-1001"), 40, Ok(())),
            (uid(1000), 599, Err(1)),
            // The first report has left the window.
            (uid(1000), 600, Ok(())),
            (uid(1000), 601, Err(9)),
        ];
        for (user, secs, expected) in cases {
            let got = limit
                .admit(user.clone(), at(secs))
                .map_err(|wait| wait.as_secs());
            assert_eq!(got, expected, "user {user:?} at {secs} s");
        }
        // Users whose reports all left the window are forgotten.
        assert!(limit.admit(uid(2000), at(5000)).is_ok());
        assert_eq!(limit.sent.lock().expect("lock").len(), 1);
    }

    #[test]
    fn the_refusal_says_the_desk_has_the_reports_and_when_to_send_another() {
        let limit = RateLimit::new(5, Duration::from_secs(600));
        let note = limit.explain(Duration::from_secs(401));
        assert_eq!(
            note,
            "You have already sent 5 reports in the last 10 minutes. Your support desk has them \
             and will be in touch; there is no need to send more. You can send another in 7 minutes."
        );
        let cases = [
            (Duration::from_millis(1), "1 second"),
            (Duration::from_secs(45), "45 seconds"),
            (Duration::from_secs(60), "1 minute"),
            (Duration::from_secs(61), "2 minutes"),
            (Duration::from_secs(3600), "60 minutes"),
            (Duration::from_secs(2 * 3600), "2 hours"),
        ];
        for (duration, expected) in cases {
            assert_eq!(plain_duration(duration), expected, "{duration:?}");
        }
    }

    #[tokio::test]
    async fn requests_are_bounded_in_size_and_time() {
        let report = |text: &str| Ok(Asked::Report(text.to_owned()));
        let cases: [(Vec<u8>, Result<Asked, &str>); 7] = [
            (
                b"{\"text\": \"the printer is jammed\"}\n".to_vec(),
                report("the printer is jammed"),
            ),
            (b"{\"text\": \"  \"}\n".to_vec(), Err("say what is wrong")),
            (b"not json\n".to_vec(), Err("did not read")),
            (vec![b'x'; MAX_REQUEST_BYTES * 3], Err("too long")),
            (
                b"{\"help_link\": {\"locale\": \"el_GR.UTF-8\"}}\n".to_vec(),
                Ok(Asked::HelpLink {
                    locale: "el_GR.UTF-8".to_owned(),
                }),
            ),
            // An older client's help request without a locale: unknown, not refused.
            (
                b"{\"help_link\": {}}\n".to_vec(),
                Ok(Asked::HelpLink {
                    locale: String::new(),
                }),
            ),
            // Nothing in a request says who asks: a claimed uid is not even read.
            (
                b"{\"help_link\": {\"uid\": 0}, \"text\": \"x\"}\n".to_vec(),
                Ok(Asked::HelpLink {
                    locale: String::new(),
                }),
            ),
        ];
        for (bytes, expected) in cases {
            let got = read_request(bytes.as_slice()).await;
            match (&got, &expected) {
                (Ok(asked), Ok(want)) => assert_eq!(asked, want),
                (Err(note), Err(want)) => assert!(note.contains(want), "{note}"),
                _ => panic!("{got:?}, expected {expected:?}"),
            }
        }
        // A client that connects and says nothing is answered after the deadline.
        tokio::time::pause();
        let (_client, server) = tokio::io::duplex(64);
        let got = read_request(server).await;
        assert!(got.is_err_and(|note| note.contains("did not arrive")));
    }

    /// `firstline-agent help` over a real socket: the kernel names the user (the request
    /// cannot), the locale goes along, the answer comes back, and each user may ask
    /// [`help::HELP_LINKS_PER_USER`] times a minute.
    #[tokio::test]
    async fn a_help_link_is_asked_for_the_user_the_kernel_names_within_their_share() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = Settings::parse("", Path::new("agent.toml")).expect("settings");
        settings.state_dir = dir.path().to_owned();
        let socket = settings.report_socket();
        let outbox =
            Arc::new(Outbox::open(&dir.path().join("outbox.redb"), 1 << 20).expect("outbox"));
        let shared = Arc::new(Shared::default());
        let queued = Arc::new(Notify::new());
        let help_links = HelpLinks::default();
        let (stop, stop_watch) = watch::channel(false);
        let listener = Listener {
            settings: settings.clone(),
            reports: Arc::new(Reports::new(settings, shared, outbox.clone(), queued)),
            help_links: help_links.clone(),
        };
        let serving = tokio::spawn(listener.serve(stop_watch));
        while !socket.exists() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }

        // No live stream: said at once.
        let answer = submit_help(&socket, "el_GR.UTF-8").await.expect("answer");
        assert_eq!(answer, HelpLinkAnswer::Unreachable);

        // A live stream: the request names this process's user, whatever the client says.
        let mut desk = help_links.open_desk();
        let seen = tokio::spawn(async move {
            let mut seen = Vec::new();
            loop {
                let pending = desk.next().await;
                let (id, ask) = desk.register(pending).expect("room");
                let url = format!("https://collector.example.com/help/t/{}", seen.len());
                desk.answer(
                    &id,
                    HelpLinkAnswer::Link {
                        url,
                        expires_at_unix_ms: 1,
                    },
                );
                seen.push(ask);
                if seen.len() == help::HELP_LINKS_PER_USER as usize - 1 {
                    return seen;
                }
            }
        });
        let uid = rustix::process::getuid().as_raw();
        for i in 1..help::HELP_LINKS_PER_USER {
            let answer = submit_help(&socket, "el_GR.UTF-8\n{\"uid\": 0}")
                .await
                .expect("answer");
            assert_eq!(
                answer,
                HelpLinkAnswer::Link {
                    url: format!("https://collector.example.com/help/t/{}", i - 1),
                    expires_at_unix_ms: 1
                }
            );
        }
        let seen = seen.await.expect("desk");
        assert_eq!(
            seen[0],
            HelpLinkAsk {
                account: crate::users::account_name(uid).unwrap_or_default(),
                uid,
                // A locale with a line break in it is no locale.
                locale: String::new(),
            }
        );
        // Over the share: refused without asking the collector, saying when to try again.
        let answer = submit_help(&socket, "el").await.expect("answer");
        assert!(
            matches!(answer, HelpLinkAnswer::TooMany { retry_after_secs } if (1..=60).contains(&retry_after_secs)),
            "{answer:?}"
        );
        // Nothing about a help link goes in the outbox.
        assert_eq!(outbox.pending_after(0, 10).expect("outbox").len(), 0);
        let _ = stop.send(true);
        serving.await.expect("listener stops");
    }
}
