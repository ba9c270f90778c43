//! The help window, agent side: `firstline-agent help` (the desktop's "Get IT help") asks the
//! running agent for a link to the user's own help page and opens it in their browser; the
//! agent asks the collector for it over its live stream.
//!
//! [`HelpLinks`] is the handle between the two halves of the running agent: the report
//! listener asks through it, and the uplink session serves it while it is connected (a
//! [`HelpDesk`]). With no live stream the answer is at once that IT cannot be reached; a
//! request still waiting when the stream ends is answered the same way.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use firstline_i18n::{Lang, Message, msg};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

/// How long the agent waits for the collector's link.
pub const HELP_LINK_TIMEOUT: Duration = Duration::from_secs(10);
/// Links one local user may ask for per [`HELP_LINK_WINDOW`].
pub const HELP_LINKS_PER_USER: u32 = 10;
pub const HELP_LINK_WINDOW: Duration = Duration::from_secs(60);
/// Longest link the agent passes on to a browser.
pub const MAX_URL_BYTES: usize = 2048;
/// Longest locale passed on ("el_GR.UTF-8@euro" is 16).
pub const MAX_LOCALE_BYTES: usize = 64;
/// Requests waiting for the collector at once; one more is answered at once.
const MAX_WAITING: usize = 32;

/// Who asks for a help link: the account the kernel named (never the client's claim) and the
/// language their session runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpLinkAsk {
    pub account: String,
    pub uid: u32,
    /// The user's OS locale or language code, cleaned ([`clean_locale`]); empty when unknown.
    pub locale: String,
}

/// The answer to `firstline-agent help`, as it travels over the report socket. The client
/// puts it into words in the user's language ([`HelpLinkAnswer::said`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum HelpLinkAnswer {
    /// The page's link: usable once, until `expires_at_unix_ms`.
    Link {
        url: String,
        expires_at_unix_ms: i64,
    },
    /// The collector has no link for this user; its reason, already in their language.
    Refused { reason: String },
    /// No live stream to the collector (or it ended while the request waited).
    Unreachable,
    /// The collector did not answer within [`HELP_LINK_TIMEOUT`].
    NoAnswer,
    /// This user asked for too many links lately.
    TooMany { retry_after_secs: u64 },
    /// The agent could not serve the request at all; why, for the log and support.
    Failed { reason: String },
}

impl HelpLinkAnswer {
    /// What the user reads: one line, and for every answer without a link, what to do now.
    pub fn said(&self) -> Vec<Message> {
        let problem = match self {
            HelpLinkAnswer::Link { url, .. } => return vec![msg!("help-link", "url" => url)],
            HelpLinkAnswer::Refused { reason } => msg!("help-refused", "reason" => reason),
            HelpLinkAnswer::Unreachable => msg!("help-unreachable"),
            HelpLinkAnswer::NoAnswer => msg!("help-no-answer"),
            HelpLinkAnswer::TooMany { .. } => msg!("help-too-many"),
            HelpLinkAnswer::Failed { reason } => msg!("help-failed", "reason" => reason),
        };
        vec![problem, msg!("help-what-to-do")]
    }
}

/// A help link request handed to the uplink, with where its answer goes.
#[derive(Debug)]
pub struct PendingAsk {
    pub ask: HelpLinkAsk,
    reply: oneshot::Sender<HelpLinkAnswer>,
}

/// The report listener's way to the collector's help links; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct HelpLinks {
    /// The live session's queue, while there is one.
    live: Arc<Mutex<Option<mpsc::Sender<PendingAsk>>>>,
}

impl HelpLinks {
    fn live(&self) -> std::sync::MutexGuard<'_, Option<mpsc::Sender<PendingAsk>>> {
        // Replaced whole, never left half-written: a panic elsewhere cannot corrupt it.
        self.live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Asks the collector for a link for `ask`, waiting at most `timeout`.
    pub async fn ask(&self, ask: HelpLinkAsk, timeout: Duration) -> HelpLinkAnswer {
        let Some(live) = self.live().clone() else {
            return HelpLinkAnswer::Unreachable;
        };
        let (reply, answer) = oneshot::channel();
        if let Err(e) = live.try_send(PendingAsk { ask, reply }) {
            return match e {
                mpsc::error::TrySendError::Full(_) => HelpLinkAnswer::Failed {
                    reason: "too many help links are being asked for at once".to_owned(),
                },
                mpsc::error::TrySendError::Closed(_) => HelpLinkAnswer::Unreachable,
            };
        }
        match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(answer)) => answer,
            // The session ended with the request unanswered.
            Ok(Err(_)) => HelpLinkAnswer::Unreachable,
            Err(_) => HelpLinkAnswer::NoAnswer,
        }
    }

    /// Serves requests from now until the returned desk is dropped (the session's end).
    pub fn open_desk(&self) -> HelpDesk {
        let (sender, asks) = mpsc::channel(MAX_WAITING);
        *self.live() = Some(sender.clone());
        HelpDesk {
            links: self.clone(),
            sender,
            asks,
            waiting: HashMap::new(),
        }
    }
}

/// One uplink session's side of [`HelpLinks`]: requests to send, and their answers to match.
/// Dropped, it stops taking requests, and those still waiting learn that IT could not be
/// reached (their reply channels close).
#[derive(Debug)]
pub struct HelpDesk {
    links: HelpLinks,
    sender: mpsc::Sender<PendingAsk>,
    asks: mpsc::Receiver<PendingAsk>,
    waiting: HashMap<String, oneshot::Sender<HelpLinkAnswer>>,
}

impl HelpDesk {
    /// The next request to send.
    pub async fn next(&mut self) -> PendingAsk {
        match self.asks.recv().await {
            Some(pending) => pending,
            // The desk holds a sender itself, so the queue never closes while it lives.
            None => std::future::pending().await,
        }
    }

    /// Remembers `pending` under a new request id and returns the id and what to send; `None`
    /// when too many wait already (that one is answered at once).
    pub fn register(&mut self, pending: PendingAsk) -> Option<(String, HelpLinkAsk)> {
        // Requests whose asker stopped waiting (timed out) are forgotten, or not sent at all.
        self.waiting.retain(|_, reply| !reply.is_closed());
        if pending.reply.is_closed() {
            return None;
        }
        if self.waiting.len() >= MAX_WAITING {
            let _ = pending.reply.send(HelpLinkAnswer::Failed {
                reason: format!(
                    "{MAX_WAITING} help links are already waiting for the collector's answer"
                ),
            });
            return None;
        }
        let request_id = uuid::Uuid::new_v4().to_string();
        self.waiting.insert(request_id.clone(), pending.reply);
        Some((request_id, pending.ask))
    }

    /// Hands the collector's answer to whoever waits for `request_id`; false when no one does
    /// (an unknown id, or an answer after the asker gave up).
    pub fn answer(&mut self, request_id: &str, answer: HelpLinkAnswer) -> bool {
        match self.waiting.remove(request_id) {
            Some(reply) => reply.send(answer).is_ok(),
            None => false,
        }
    }
}

impl Drop for HelpDesk {
    fn drop(&mut self) {
        let mut live = self.links.live();
        // A newer session may have opened its own desk meanwhile: leave that one.
        if live
            .as_ref()
            .is_some_and(|sender| sender.same_channel(&self.sender))
        {
            *live = None;
        }
    }
}

/// A locale as the agent passes it on: at most [`MAX_LOCALE_BYTES`] of letters, digits and
/// `_ - . @`; anything else gives an empty locale (unknown), never an error.
pub fn clean_locale(locale: &str) -> String {
    let locale = locale.trim();
    let usable = locale.len() <= MAX_LOCALE_BYTES
        && locale
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@'));
    if usable {
        locale.to_owned()
    } else {
        String::new()
    }
}

/// This process's user's locale for the collector: the language code when it is one of ours
/// (`LANGUAGE` counts, as gettext does), else the POSIX locale as set (so the collector can
/// tell "none of ours" from "unknown"), else empty.
pub fn user_locale() -> String {
    if let Some(lang) = Lang::from_environment() {
        return lang.code().to_owned();
    }
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .into_iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|value| !value.trim().is_empty())
        .map(|value| clean_locale(&value))
        .unwrap_or_default()
}

/// This process's user's language for what the CLI prints: the OS locale, else English.
pub fn user_lang() -> Lang {
    Lang::from_environment().unwrap_or_default()
}

/// Checks a link from the collector before a browser is given it: `http://` or `https://`
/// with a host, at most [`MAX_URL_BYTES`], no whitespace or control characters. The error
/// names the link (cut short).
pub fn check_link(url: &str) -> Result<(), String> {
    if url.len() > MAX_URL_BYTES {
        return Err(format!(
            "the link is {} bytes long, more than {MAX_URL_BYTES}",
            url.len()
        ));
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!(
            "the link {url:.80?} contains a space or a control character"
        ));
    }
    let lower = url.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
    else {
        return Err(format!(
            "the link {url:.80?} is not an http:// or https:// address"
        ));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.contains('@') {
        return Err(format!(
            "the link {url:.80?} names no host (or a user name before it)"
        ));
    }
    Ok(())
}

/// Opens `url` in the user's browser with the desktop's own opener (`xdg-open` on Linux and
/// the BSDs, `open` on macOS, `url.dll` on Windows). The link was checked with
/// [`check_link`] first and goes as one argument, never through a shell.
pub fn open_in_browser(url: &str) -> std::io::Result<()> {
    check_link(url).map_err(std::io::Error::other)?;
    let mut command = browser_command(url);
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let program = command.get_program().to_string_lossy().into_owned();
    let mut child = command
        .spawn()
        .map_err(|e| std::io::Error::new(e.kind(), format!("running {program}: {e}")))?;
    // Openers hand the link to the browser and exit; one that lingers (a browser started in
    // the foreground) is left to it.
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        if let Some(status) = child.try_wait()? {
            return if status.success() {
                Ok(())
            } else {
                Err(std::io::Error::other(format!(
                    "{program} failed ({status})"
                )))
            };
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Shows `lines` (why there is no help page, what to do) as a small local page in the
/// browser: started from the desktop menu, `help` has no terminal to print them in. The page
/// goes in the user's own runtime folder (`$XDG_RUNTIME_DIR`, only theirs), or on macOS and
/// Windows their temporary folder (per user there); with neither, nothing is shown.
pub fn show_in_browser(lang: Lang, lines: &[String]) -> std::io::Result<()> {
    let folder = if cfg!(any(target_os = "macos", windows)) {
        Some(std::env::temp_dir())
    } else {
        std::env::var_os("XDG_RUNTIME_DIR")
            .map(std::path::PathBuf::from)
            .filter(|path| path.is_absolute())
    };
    let Some(folder) = folder else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no private folder for the page (XDG_RUNTIME_DIR is not set)",
        ));
    };
    let page = folder.join("firstline-help.html");
    std::fs::write(&page, local_page(lang, lines))
        .map_err(|e| std::io::Error::new(e.kind(), format!("writing {}: {e}", page.display())))?;
    let mut command = browser_command(&page.to_string_lossy());
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(drop)
}

/// The local page [`show_in_browser`] opens: the lines as paragraphs, escaped.
fn local_page(lang: Lang, lines: &[String]) -> String {
    let escape = |text: &str| {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let title = escape(&firstline_i18n::tr(lang, "help-title"));
    let mut page = format!(
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title></head>\
         <body style=\"font-family: sans-serif; max-width: 40em; margin: 2em auto; padding: 0 1em\">\
         <h1>{title}</h1>\n",
        lang.code()
    );
    for line in lines {
        page.push_str(&format!("<p>{}</p>\n", escape(line)));
    }
    page.push_str("</body></html>\n");
    page
}

fn browser_command(url: &str) -> std::process::Command {
    if cfg!(target_os = "macos") {
        let mut command = std::process::Command::new("open");
        command.arg(url);
        command
    } else if cfg!(windows) {
        // Unlike `cmd /c start`, no shell reads the link (an `&` in it stays an `&`).
        let mut command = std::process::Command::new("rundll32");
        command.arg("url.dll,FileProtocolHandler").arg(url);
        command
    } else {
        let mut command = std::process::Command::new("xdg-open");
        command.arg(url);
        command
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(account: &str) -> HelpLinkAsk {
        HelpLinkAsk {
            account: account.to_owned(),
            uid: 1000,
            locale: "el".to_owned(),
        }
    }

    #[tokio::test]
    async fn without_a_live_stream_the_answer_is_at_once_that_it_cannot_be_reached() {
        let links = HelpLinks::default();
        let started = std::time::Instant::now();
        assert_eq!(
            links.ask(ask("alice"), Duration::from_secs(60)).await,
            HelpLinkAnswer::Unreachable
        );
        assert!(started.elapsed() < Duration::from_secs(1));
        // A session that opened a desk and ended takes it along.
        drop(links.open_desk());
        assert_eq!(
            links.ask(ask("alice"), Duration::from_secs(60)).await,
            HelpLinkAnswer::Unreachable
        );
    }

    #[tokio::test]
    async fn the_desk_matches_answers_to_requests_and_a_session_end_answers_the_rest() {
        let links = HelpLinks::default();
        let mut desk = links.open_desk();
        let asking = tokio::spawn({
            let links = links.clone();
            async move { links.ask(ask("alice"), Duration::from_secs(60)).await }
        });
        let pending = desk.next().await;
        let (id, sent) = desk.register(pending).expect("registered");
        assert_eq!(sent, ask("alice"));
        let link = HelpLinkAnswer::Link {
            url: "https://collector.example.com/help/t/1".to_owned(),
            expires_at_unix_ms: 1,
        };
        assert!(!desk.answer("some other id", link.clone()));
        assert!(desk.answer(&id, link.clone()));
        assert_eq!(asking.await.expect("ask"), link);
        // Answered once: the same id again reaches no one.
        assert!(!desk.answer(&id, link));

        // A request waiting when the session ends learns that IT cannot be reached.
        let asking = tokio::spawn({
            let links = links.clone();
            async move { links.ask(ask("bob"), Duration::from_secs(60)).await }
        });
        let pending = desk.next().await;
        let registered = desk.register(pending);
        assert!(registered.is_some());
        drop(desk);
        assert_eq!(asking.await.expect("ask"), HelpLinkAnswer::Unreachable);
    }

    #[tokio::test(start_paused = true)]
    async fn a_collector_that_does_not_answer_is_not_waited_for_long() {
        let links = HelpLinks::default();
        let mut desk = links.open_desk();
        let asking = tokio::spawn({
            let links = links.clone();
            async move { links.ask(ask("alice"), HELP_LINK_TIMEOUT).await }
        });
        let pending = desk.next().await;
        let (id, _) = desk.register(pending).expect("registered");
        assert_eq!(asking.await.expect("ask"), HelpLinkAnswer::NoAnswer);
        // Its late answer reaches no one, and the desk forgets it.
        assert!(!desk.answer(&id, HelpLinkAnswer::Unreachable));
        // One that gave up before the session got to it is not sent at all.
        let gave_up = links.ask(ask("bob"), Duration::from_millis(1)).await;
        assert_eq!(gave_up, HelpLinkAnswer::NoAnswer);
        let pending = desk.next().await;
        assert!(desk.register(pending).is_none());
    }

    #[tokio::test]
    async fn a_newer_desk_is_not_closed_by_an_older_one_ending() {
        let links = HelpLinks::default();
        let old = links.open_desk();
        let _new = links.open_desk();
        drop(old);
        assert!(links.live().is_some());
    }

    #[test]
    fn links_and_locales_are_checked_before_use() {
        // (link, accepted)
        let cases = [
            ("https://collector.example.com/help/t/abc?x=1", true),
            ("HTTP://192.0.2.7:8080/help", true),
            ("javascript:alert(1)", false),
            ("file:///etc/passwd", false),
            ("https://", false),
            ("https:///path", false),
            ("https://user@collector.example.com/", false),
            ("https://collector.example.com/a b", false),
            ("https://collector.example.com/\r\nx", false),
            ("-https://collector.example.com/", false),
        ];
        for (url, accepted) in cases {
            assert_eq!(
                check_link(url).is_ok(),
                accepted,
                "{url}: {:?}",
                check_link(url)
            );
        }
        let long = format!(
            "https://collector.example.com/{}",
            "a".repeat(MAX_URL_BYTES)
        );
        assert!(check_link(&long).is_err_and(|e| e.contains("bytes long")));

        assert_eq!(clean_locale(" el_GR.UTF-8 "), "el_GR.UTF-8");
        assert_eq!(clean_locale("sr_RS@latin"), "sr_RS@latin");
        assert_eq!(clean_locale("el\nX-Injected: 1"), "");
        assert_eq!(clean_locale(&"a".repeat(MAX_LOCALE_BYTES + 1)), "");
    }

    #[test]
    fn every_answer_without_a_link_says_what_to_do_now() {
        let answers = [
            HelpLinkAnswer::Refused {
                reason: "no".to_owned(),
            },
            HelpLinkAnswer::Unreachable,
            HelpLinkAnswer::NoAnswer,
            HelpLinkAnswer::TooMany {
                retry_after_secs: 5,
            },
            HelpLinkAnswer::Failed {
                reason: "no".to_owned(),
            },
        ];
        for answer in answers {
            let said = answer.said();
            assert_eq!(said.last().map(|m| &*m.id), Some("help-what-to-do"));
            for lang in Lang::ALL {
                for message in &said {
                    assert!(firstline_i18n::exists(&message.id), "{}", message.id);
                    assert!(!message.text(lang).is_empty());
                }
            }
        }
        let link = HelpLinkAnswer::Link {
            url: "https://collector.example.com/h".to_owned(),
            expires_at_unix_ms: 0,
        };
        assert!(
            link.said()[0]
                .text(Lang::El)
                .contains("https://collector.example.com/h")
        );
    }

    /// The desktop menu's "Get IT help" (the file the .deb installs) runs this command
    /// without a terminal and is named in every language we speak.
    #[test]
    fn the_desktop_entry_runs_help_and_speaks_every_language() {
        let entry = include_str!("../dist/firstline-help.desktop");
        let keys: HashMap<&str, &str> = entry
            .lines()
            .filter_map(|line| line.split_once('='))
            .collect();
        assert_eq!(entry.lines().next(), Some("[Desktop Entry]"));
        assert_eq!(keys.get("Exec"), Some(&"firstline-agent help"));
        assert_eq!(keys.get("Terminal"), Some(&"false"));
        assert_eq!(keys.get("Type"), Some(&"Application"));
        assert_eq!(keys.get("Name"), Some(&"Get IT help"));
        for lang in Lang::ALL.into_iter().filter(|lang| *lang != Lang::En) {
            let locale = if lang == Lang::Zh {
                "zh_CN"
            } else {
                lang.code()
            };
            for key in ["Name", "Comment", "GenericName"] {
                let localized = keys.get(format!("{key}[{locale}]").as_str());
                assert!(
                    localized
                        .is_some_and(|text| !text.trim().is_empty() && Some(text) != keys.get(key)),
                    "{key}[{locale}] is missing or untranslated: {localized:?}"
                );
            }
        }
    }

    #[test]
    fn the_local_page_escapes_what_it_shows() {
        let page = local_page(
            Lang::Pl,
            &["<script>alert(\"x\")</script> & more".to_owned()],
        );
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("<html lang=\"pl\">"));
        assert!(page.contains(&firstline_i18n::tr(Lang::Pl, "help-title")));
        assert!(
            page.contains("<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more</p>")
        );
        assert!(!page.contains("<script>"));
    }
}
