//! Notices on Windows (a toast in the user's session, via WTS and a child started with their
//! token) and macOS (a user agent in their GUI session) are not shown yet: every notice is
//! refused with [`NotShown::NotOnThisOs`], logged by the notifier.

use tokio::sync::oneshot;

use super::{ChildRequest, NotShown, NotifierSettings, Session};

pub fn session_for(_settings: &NotifierSettings, _account: &str) -> Result<Session, NotShown> {
    Err(NotShown::NotOnThisOs)
}

pub async fn run_child(
    _settings: &NotifierSettings,
    _session: &Session,
    _request: &ChildRequest,
    _on_shown: impl FnMut(),
    _end_wait: oneshot::Receiver<()>,
) -> Result<String, String> {
    Err(NotShown::NotOnThisOs.to_string())
}

/// `firstline-agent notify`: nothing to show with on this OS yet.
pub async fn child_main() -> anyhow::Result<()> {
    anyhow::bail!("{}", NotShown::NotOnThisOs)
}
