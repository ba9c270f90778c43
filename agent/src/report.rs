//! End-user self-report: `firstline-agent report "TEXT"` hands the user's words to the
//! running agent over a local socket; the agent picks playbooks from the words, runs them with
//! its own privileges and config, queues the result in its outbox as a `user.report` finding
//! (so it reaches the collector exactly once, like any finding) and answers with a short
//! result for the user. Without a running agent, the command runs the playbooks itself and
//! says the report could not be sent.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, Semaphore, watch};

use crate::checks::Shared;
use crate::config::Settings;
use crate::finding::{Evidence, Finding, Severity, now_ms};
use crate::outbox::Outbox;
use crate::playbooks::{self, Context, PlaybookResult, symptoms};

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

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Request {
    text: String,
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
}

/// Runs the playbooks the words ask for.
pub async fn diagnose(text: &str, context: &Context) -> Vec<PlaybookResult> {
    let matched = symptoms::match_text(text);
    let mut results = Vec::new();
    for playbook in matched.playbooks.into_iter().take(MAX_PLAYBOOKS) {
        let target = match playbook {
            playbooks::Playbook::Web => matched.target.as_deref(),
            // The crash playbook looks for the applications the words name ("Outlook").
            playbooks::Playbook::Crash => Some(text),
            _ => None,
        };
        results.push(playbooks::run(playbook, target, context).await);
    }
    results
}

/// The finding that carries a user report to the collector.
pub fn user_report_finding(report_id: &str, text: &str, results: &[PlaybookResult]) -> Finding {
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
        "hostname".to_owned(),
        serde_json::json!(crate::inventory::hostname()),
    );
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
    let mut value = serde_json::to_value(results).unwrap_or_default();
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
    }
}

/// Diagnoses locally, without queueing: for when no agent is running.
pub async fn diagnose_locally(text: &str, settings: &Settings) -> anyhow::Result<ReportOutcome> {
    let context = Context::from_settings(settings, None).map_err(anyhow::Error::msg)?;
    let results = diagnose(text, &context).await;
    Ok(outcome(uuid::Uuid::new_v4().to_string(), text, &results))
}

/// Asks the running agent at `socket` to diagnose and queue `text`.
#[cfg(unix)]
pub async fn submit(socket: &Path, text: &str) -> std::io::Result<ReportOutcome> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let stream = tokio::net::UnixStream::connect(socket).await?;
    let (read, mut write) = stream.into_split();
    let mut request = serde_json::to_string(&Request {
        text: text.to_owned(),
    })
    .map_err(std::io::Error::other)?;
    request.push('\n');
    write.write_all(request.as_bytes()).await?;
    let mut line = String::new();
    // The slow-computer playbook alone samples for its window; leave room for three.
    tokio::time::timeout(
        Duration::from_secs(180),
        BufReader::new(read).read_line(&mut line),
    )
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "the agent did not answer"))??;
    serde_json::from_str(&line).map_err(std::io::Error::other)
}

#[cfg(not(unix))]
pub async fn submit(_socket: &Path, _text: &str) -> std::io::Result<ReportOutcome> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "reporting to the running agent is not available on this platform yet",
    ))
}

/// What the report listener needs from the running agent.
pub struct Listener {
    pub settings: Settings,
    pub shared: Arc<Shared>,
    pub outbox: Arc<Outbox>,
    pub queued: Arc<Notify>,
}

impl Listener {
    /// Serves `firstline-agent report` on the settings' socket until `stop`.
    #[cfg(unix)]
    pub async fn serve(self, mut stop: watch::Receiver<bool>) {
        let path = self.settings.report_socket();
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
        let this = Arc::new(self);
        let turns = Arc::new(Semaphore::new(CONCURRENT_REPORTS));
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        let (this, turns) = (this.clone(), turns.clone());
                        tokio::spawn(async move {
                            let Ok(_turn) = turns.acquire_owned().await else { return };
                            if let Err(e) = this.handle(stream).await {
                                tracing::warn!(error = %e, "user report failed");
                            }
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

    #[cfg(not(unix))]
    pub async fn serve(self, _stop: watch::Receiver<bool>) {}

    #[cfg(unix)]
    async fn handle(&self, stream: tokio::net::UnixStream) -> anyhow::Result<()> {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
        let (read, mut write) = stream.into_split();
        let mut line = String::new();
        // Bounded: a local client is trusted no more than the network.
        let mut reader = BufReader::new(read.take(MAX_TEXT_BYTES as u64 * 4 + 64));
        tokio::time::timeout(Duration::from_secs(10), reader.read_line(&mut line)).await??;
        let reply = match serde_json::from_str::<Request>(&line) {
            Ok(request) if !request.text.trim().is_empty() => self.report(&request.text).await,
            Ok(_) => ReportOutcome {
                report_id: String::new(),
                text: String::new(),
                summary: Vec::new(),
                results: serde_json::Value::Null,
                queued: false,
                note: Some(
                    "say what is wrong, e.g. firstline-agent report \"I can't open the intranet\""
                        .to_owned(),
                ),
            },
            Err(e) => ReportOutcome {
                report_id: String::new(),
                text: String::new(),
                summary: Vec::new(),
                results: serde_json::Value::Null,
                queued: false,
                note: Some(format!("the request did not read: {e}")),
            },
        };
        let mut answer = serde_json::to_string(&reply)?;
        answer.push('\n');
        write.write_all(answer.as_bytes()).await?;
        Ok(())
    }

    /// Diagnoses `text` and queues the report.
    pub async fn report(&self, text: &str) -> ReportOutcome {
        let clock_skew_ms = self.shared.facts().clock_skew_ms;
        let context = match Context::from_settings(&self.settings, clock_skew_ms) {
            Ok(context) => context,
            Err(e) => {
                return ReportOutcome {
                    report_id: String::new(),
                    text: text.to_owned(),
                    summary: Vec::new(),
                    results: serde_json::Value::Null,
                    queued: false,
                    note: Some(format!("the agent's config is not usable: {e}")),
                };
            }
        };
        let report_id = uuid::Uuid::new_v4().to_string();
        let results = diagnose(text, &context).await;
        let mut reply = outcome(report_id.clone(), text, &results);
        let finding = user_report_finding(&report_id, text, &results);
        match self.outbox.push(&[finding]) {
            Ok(_) => {
                self.queued.notify_one();
                reply.queued = true;
                tracing::info!(report = %report_id, "user report queued");
            }
            Err(e) => {
                tracing::error!(error = %e, "queueing a user report");
                reply.note = Some(format!("the report could not be queued: {e}"));
            }
        }
        reply
    }
}
