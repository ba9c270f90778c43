//! Technician-triggered reproduction on the agent side: run the playbook a `ReproduceRequest`
//! names and answer with its result. A request seen again (re-sent after a reconnect) gets the
//! answer already given instead of a second run; two run at a time, a few wait, and one more
//! is answered "busy" at once, so a flood of requests (a hostile collector's) cannot grow the
//! agent. Requests are bounded in size where they arrive (`wire.rs`).
//!
//! A request for playbook "report" is a report the user made on their help page: it runs as
//! a report through the socket would ([`crate::report::Reports`]: the same diagnosis, the same
//! share per local user), is queued as a `user.report` finding noting `via: "help page"`, and
//! is answered with the report's outcome.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use firstline_proto::v1 as pb;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::checks::Shared;
use crate::config::Settings;
use crate::playbooks::{self, Context, Playbook};
use crate::report::{Reporter, Reports, Via};
use crate::wire::HelpPageReport;

/// Answers remembered for re-sent requests.
const REMEMBERED: usize = 32;
/// A playbook that takes longer than this is cut off and reported as such.
const RUN_LIMIT: Duration = Duration::from_secs(150);
/// Requests run at once.
const RUNNING: usize = 2;
/// Requests running or waiting their turn; one more is answered "busy" at once.
pub const MAX_PENDING: usize = 8;

pub struct Reproducer {
    settings: crate::config::Live,
    shared: Arc<Shared>,
    /// Where help-page reports go; without it they are declined.
    reports: Option<Arc<Reports>>,
    turns: Semaphore,
    pending: Arc<Semaphore>,
    busy_total: AtomicU64,
    answered: Mutex<VecDeque<(String, pb::AgentMessage)>>,
}

/// What to do with a request: answer now, or run it and answer later.
pub enum Admission {
    /// The answer already given to this request, or "busy".
    Now(Box<pb::AgentMessage>),
    Later(Job),
}

/// An admitted request: it holds one of the [`MAX_PENDING`] places until answered.
pub struct Job {
    reproducer: Arc<Reproducer>,
    request_id: String,
    work: Work,
    _place: OwnedSemaphorePermit,
}

/// What a request asks for.
enum Work {
    Playbook {
        playbook: String,
        target: Option<String>,
    },
    Report(HelpPageReport),
}

impl Job {
    /// Runs the playbook (waiting for a turn) and returns the message that answers it.
    pub async fn answer(self) -> pb::AgentMessage {
        self.reproducer.answer(&self.request_id, &self.work).await
    }
}

impl std::fmt::Debug for Reproducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reproducer").finish_non_exhaustive()
    }
}

impl Reproducer {
    /// Runs with `settings` as they change from then on.
    #[must_use]
    pub fn following(mut self, settings: crate::config::Live) -> Self {
        self.settings = settings;
        self
    }

    pub fn new(settings: Settings, shared: Arc<Shared>) -> Self {
        Self {
            settings: crate::config::fixed(settings),
            shared,
            reports: None,
            turns: Semaphore::new(RUNNING),
            pending: Arc::new(Semaphore::new(MAX_PENDING)),
            busy_total: AtomicU64::new(0),
            answered: Mutex::new(VecDeque::new()),
        }
    }

    /// Takes help-page reports to `reports` (the report socket's).
    #[must_use]
    pub fn with_reports(mut self, reports: Arc<Reports>) -> Self {
        self.reports = Some(reports);
        self
    }

    /// Takes a request if there is room, without waiting: a request already answered gets
    /// that answer again, and one beyond [`MAX_PENDING`] an error saying the agent is busy.
    pub fn admit(
        self: &Arc<Self>,
        request_id: String,
        playbook: String,
        target: Option<String>,
    ) -> Admission {
        self.admit_work(request_id, Work::Playbook { playbook, target })
    }

    /// [`Reproducer::admit`] for a report made on the user's help page.
    pub fn admit_report(self: &Arc<Self>, request_id: String, report: HelpPageReport) -> Admission {
        self.admit_work(request_id, Work::Report(report))
    }

    fn admit_work(self: &Arc<Self>, request_id: String, work: Work) -> Admission {
        if let Some(answer) = self.remembered(&request_id) {
            return Admission::Now(Box::new(answer));
        }
        match self.pending.clone().try_acquire_owned() {
            Ok(place) => Admission::Later(Job {
                reproducer: self.clone(),
                request_id,
                work,
                _place: place,
            }),
            Err(_) => {
                let busy_total = self.busy_total.fetch_add(1, Ordering::Relaxed) + 1;
                if busy_total.is_power_of_two() {
                    tracing::warn!(request = %request_id, limit = MAX_PENDING, busy_total, "too many reproduce requests at once; answered busy");
                }
                Admission::Now(Box::new(crate::wire::reproduce_result(
                    &request_id,
                    String::new(),
                    format!(
                        "busy: this agent already has {MAX_PENDING} reproduce requests running or waiting; ask again when they have finished"
                    ),
                )))
            }
        }
    }

    /// Runs the request and returns the message that answers it.
    async fn answer(&self, request_id: &str, work: &Work) -> pb::AgentMessage {
        if let Some(answer) = self.remembered(request_id) {
            return answer;
        }
        let outcome = match work {
            Work::Playbook { playbook, target } => self.run(playbook, target.as_deref()).await,
            Work::Report(report) => self.run_report(request_id, report).await,
        };
        let answer = match outcome {
            Ok(result_json) => {
                crate::wire::reproduce_result(request_id, result_json, String::new())
            }
            Err(error) => crate::wire::reproduce_result(request_id, String::new(), error),
        };
        let mut answered = self.lock();
        answered.push_back((request_id.to_owned(), answer.clone()));
        while answered.len() > REMEMBERED {
            answered.pop_front();
        }
        answer
    }

    async fn run(&self, playbook: &str, target: Option<&str>) -> Result<String, String> {
        let Some(playbook) = Playbook::parse(playbook) else {
            return Err(format!(
                "this agent does not know the playbook {playbook:?}"
            ));
        };
        let _turn = self
            .turns
            .acquire()
            .await
            .map_err(|_| "the agent is stopping".to_owned())?;
        let settings = self.settings.borrow().clone();
        let context = Context::from_settings(&settings, self.shared.facts().clock_skew_ms)?;
        tracing::info!(playbook = playbook.name(), target, "reproducing on request");
        let result = tokio::time::timeout(RUN_LIMIT, playbooks::run(playbook, target, &context))
            .await
            .map_err(|_| {
                format!(
                    "the {} playbook did not finish within {RUN_LIMIT:?}",
                    playbook.name()
                )
            })?;
        let mut json = serde_json::to_value(&result).map_err(|e| e.to_string())?;
        // The collector accepts 64 KiB; drop step evidence of passing steps, then all, to fit.
        for only_passing in [true, false] {
            if serde_json::to_string(&json).map_or(0, |s| s.len()) <= 60 * 1024 {
                break;
            }
            if let Some(steps) = json.get_mut("steps").and_then(|s| s.as_array_mut()) {
                for step in steps {
                    if !only_passing || step["outcome"] != "fail" {
                        step["evidence"] = serde_json::Value::Null;
                    }
                }
            }
        }
        serde_json::to_string(&json).map_err(|e| e.to_string())
    }

    /// A help-page report, as the report socket would run it for local user `report.uid`;
    /// the outcome as JSON.
    async fn run_report(
        &self,
        request_id: &str,
        report: &HelpPageReport,
    ) -> Result<String, String> {
        let Some(reports) = &self.reports else {
            return Err("this agent does not take reports from the help page".to_owned());
        };
        // The collector names the account; this device has the last word on who a uid is.
        let local = crate::users::account_name(report.uid);
        if let Some(local) = &local
            && !report.account.is_empty()
            && *local != report.account
        {
            return Err(format!(
                "account {:?} is not user id {} on this device (that is {local:?})",
                report.account, report.uid
            ));
        }
        #[cfg(not(windows))]
        let reporter = Reporter {
            uid: Some(report.uid),
            account: local.or_else(|| Some(report.account.clone()).filter(|a| !a.is_empty())),
            sid: None,
        };
        // Windows has no uid: the account's SID is its key, as for the report pipe's reports.
        #[cfg(windows)]
        let reporter = Reporter {
            uid: None,
            account: Some(report.account.clone()).filter(|a| !a.is_empty()),
            sid: crate::report_pipe::account_sid(&report.account).ok(),
        };
        tracing::info!(request = %request_id, uid = report.uid, account = ?reporter.account, "report from the help page");
        let via = Via::HelpPage { lang: report.lang };
        let outcome = tokio::time::timeout(
            RUN_LIMIT,
            reports.admit_and_report(&report.words, Some(&reporter), via),
        )
        .await
        .map_err(|_| format!("the report's diagnosis did not finish within {RUN_LIMIT:?}"))?;
        Ok(crate::report::outcome_json(&outcome))
    }

    fn remembered(&self, request_id: &str) -> Option<pb::AgentMessage> {
        self.lock()
            .iter()
            .find(|(id, _)| id == request_id)
            .map(|(_, answer)| answer.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(String, pb::AgentMessage)>> {
        // Pushes and pops only: a panic elsewhere cannot leave it inconsistent.
        self.answered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn error_of(answer: &pb::AgentMessage) -> &str {
        match &answer.body {
            Some(pb::agent_message::Body::ReproduceResult(result)) => &result.error,
            other => panic!("not a reproduce result: {other:?}"),
        }
    }

    /// 50,000 requests from a hostile collector once grew the agent to ~526 MB: each became
    /// a task waiting its turn. Now a few wait and the rest are answered "busy" at once.
    #[tokio::test]
    async fn a_flood_of_requests_is_answered_busy_beyond_a_small_queue() {
        let settings = Settings::parse(
            "[checks.dns]\nsystem_resolver = false\n[checks.network]\nping_gateway = false\n",
            Path::new("agent.toml"),
        )
        .expect("settings");
        let reproducer = Arc::new(Reproducer::new(settings, Arc::new(Shared::default())));
        let mut jobs = Vec::new();
        let mut busy = 0;
        for i in 0..50_000 {
            match reproducer.admit(format!("request-{i}"), "clock".to_owned(), None) {
                Admission::Later(job) => jobs.push(job),
                Admission::Now(answer) => {
                    assert!(error_of(&answer).starts_with("busy: "), "{answer:?}");
                    busy += 1;
                }
            }
        }
        assert_eq!(jobs.len(), MAX_PENDING);
        assert_eq!(busy, 50_000 - MAX_PENDING);

        // An answered request frees its place, and its answer is remembered.
        let first = jobs.remove(0);
        let answer = first.answer().await;
        assert_eq!(error_of(&answer), "", "{answer:?}");
        let Admission::Now(again) =
            reproducer.admit("request-0".to_owned(), "clock".to_owned(), None)
        else {
            panic!("a re-sent request runs again");
        };
        assert_eq!(*again, answer);
        assert!(matches!(
            reproducer.admit("request-new".to_owned(), "clock".to_owned(), None),
            Admission::Later(_)
        ));
    }

    fn result_of(answer: &pb::AgentMessage) -> (&str, &str) {
        match &answer.body {
            Some(pb::agent_message::Body::ReproduceResult(result)) => {
                (&result.result_json, &result.error)
            }
            other => panic!("not a reproduce result: {other:?}"),
        }
    }

    async fn answer_now(
        reproducer: &Arc<Reproducer>,
        id: &str,
        report: HelpPageReport,
    ) -> pb::AgentMessage {
        match reproducer.admit_report(id.to_owned(), report) {
            Admission::Later(job) => job.answer().await,
            Admission::Now(answer) => *answer,
        }
    }

    /// A report from the help page runs as one through the socket would and is queued once,
    /// naming the account, the way it came and the page's language; the same user's share
    /// counts it.
    #[tokio::test]
    async fn a_help_page_report_queues_one_user_report_with_its_account_and_way_in() {
        let dir = tempfile::tempdir().expect("temp dir");
        let settings = Settings::parse(
            "[checks.dns]\nsystem_resolver = false\n[checks.network]\nping_gateway = false\n[playbooks]\nreports_per_user = 1\n",
            Path::new("agent.toml"),
        )
        .expect("settings");
        let shared = Arc::new(Shared::default());
        let outbox = Arc::new(
            crate::outbox::Outbox::open(&dir.path().join("outbox.redb"), 1 << 20).expect("outbox"),
        );
        let reports = Arc::new(Reports::new(
            settings.clone(),
            shared.clone(),
            outbox.clone(),
            Arc::new(tokio::sync::Notify::new()),
        ));
        let reproducer = Arc::new(Reproducer::new(settings, shared).with_reports(reports));
        let uid = 4_000_123;
        let report = HelpPageReport {
            words: "the clock on my computer is wrong".to_owned(),
            account: "alice".to_owned(),
            uid,
            lang: Some(firstline_i18n::Lang::El),
        };
        let answer = answer_now(&reproducer, "page-1", report.clone()).await;
        let (json, error) = result_of(&answer);
        assert_eq!(error, "");
        let outcome: crate::report::ReportOutcome = serde_json::from_str(json).expect("outcome");
        assert!(outcome.queued, "{outcome:?}");
        assert_eq!(outcome.text, report.words);

        let queued = outbox.pending_after(0, 100).expect("outbox");
        assert_eq!(queued.len(), 1, "{queued:?}");
        let finding = &queued[0].1;
        assert_eq!(finding.check, crate::report::USER_REPORT);
        assert_eq!(finding.resource, outcome.report_id);
        assert_eq!(
            finding.evidence["reporter"],
            serde_json::json!({"uid": uid, "account": "alice"})
        );
        assert_eq!(finding.evidence["via"], "help page");
        assert_eq!(finding.evidence["lang"], "el");

        // The same request again gets the same answer, and nothing more is queued.
        let again = answer_now(&reproducer, "page-1", report.clone()).await;
        assert_eq!(again, answer);
        // A second report by the same user is over their share (one here): told when, not run.
        let second = answer_now(&reproducer, "page-2", report).await;
        let outcome: crate::report::ReportOutcome =
            serde_json::from_str(result_of(&second).0).expect("outcome");
        assert!(!outcome.queued);
        assert!(outcome.retry_after_secs.is_some(), "{outcome:?}");
        assert_eq!(outbox.pending_after(0, 100).expect("outbox").len(), 1);

        // An account that is not the uid's on this device is refused.
        if let Some(root) = crate::users::account_name(0) {
            let forged = HelpPageReport {
                words: "my password expired".to_owned(),
                account: format!("{root}-not"),
                uid: 0,
                lang: None,
            };
            let refused = answer_now(&reproducer, "page-3", forged).await;
            assert!(
                result_of(&refused).1.contains("is not user id 0"),
                "{refused:?}"
            );
            assert_eq!(outbox.pending_after(0, 100).expect("outbox").len(), 1);
        }

        // An agent without the report machinery declines rather than runs anything.
        let bare = Arc::new(Reproducer::new(
            Settings::parse("", Path::new("agent.toml")).expect("settings"),
            Arc::new(Shared::default()),
        ));
        let declined = answer_now(
            &bare,
            "page-4",
            HelpPageReport {
                words: "x".to_owned(),
                account: String::new(),
                uid: 1,
                lang: None,
            },
        )
        .await;
        assert!(result_of(&declined).1.contains("does not take reports"));
    }
}
