//! The web UI in a real browser: Debian's headless Chromium driven over WebDriver
//! (chromedriver). A technician signs in, sees an auto-opened ticket in the queue, opens it,
//! reads the evidence, resolves it with a solution, and sees that solution suggested on the
//! next ticket with the same fingerprint. An agent's `<script>` shows as text. Screenshots of
//! the queue, a ticket and the stats page are written to target/screenshots/.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use firstline_collector::model::Role;
use firstline_proto::v1 as pb;
use serde_json::{Value, json};

use crate::support::{
    SimulatedDevice, TestCollector, add_user, http_call, raw_form, raw_form_with, wait_for,
};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process and one browser session in it.
pub(crate) struct Browser {
    driver: std::process::Child,
    address: std::net::SocketAddr,
    session: String,
}

impl Browser {
    /// None when Chromium is missing outside CI (`.ci/run` installs chromium and
    /// chromium-driver; there a missing browser fails the test).
    pub(crate) async fn start() -> Option<Self> {
        let present = ["/usr/bin/chromedriver", "/usr/bin/chromium"]
            .iter()
            .all(|p| std::path::Path::new(p).exists());
        if !present {
            crate::support::skip(
                "chromium and chromium-driver are not installed (.ci/run installs them)",
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        // A process group of its own: dropping the browser ends chromedriver and every
        // Chromium it started, even when a test panics (killed alone, chromedriver would
        // leave its browsers running, burning CPU).
        let driver = std::process::Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start chromedriver");
        let address: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
        wait_for("chromedriver to be ready", || async {
            if tokio::net::TcpStream::connect(address).await.is_err() {
                return None;
            }
            let (status, _, body) = http_call(address, "GET", "/status", &[], None).await;
            (status == 200 && body["value"]["ready"] == true).then_some(())
        })
        .await;
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                // Chromium phones home at start (updates, sync, field trials, safe browsing):
                // off, and every name but localhost fails to resolve, so the browser too
                // reaches nothing beyond this machine.
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1280,1000", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-quic",
                    "--disable-domain-reliability", "--disable-default-apps", "--no-pings",
                    "--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication,CertificateTransparencyComponentUpdater",
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"
                ]
            }
        }}});
        let (status, _, created) =
            http_call(address, "POST", "/session", &[], Some(&capabilities)).await;
        assert_eq!(status, 200, "new browser session: {created}");
        let session = created["value"]["sessionId"]
            .as_str()
            .expect("session id")
            .to_owned();
        Some(Self {
            driver,
            address,
            session,
        })
    }

    pub(crate) async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.or_else(|| (method == "POST").then(|| json!({})));
        let (status, _, answer) = http_call(
            self.address,
            method,
            &format!("/session/{}{path}", self.session),
            &[],
            body.as_ref(),
        )
        .await;
        assert_eq!(status, 200, "{method} {path}: {answer}");
        answer["value"].clone()
    }

    pub(crate) async fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({"url": url}))).await;
    }

    pub(crate) async fn find(&self, css: &str) -> String {
        let css = css.to_owned();
        wait_for(&format!("an element {css}"), || {
            let css = css.clone();
            async move {
                let (status, _, answer) = http_call(
                    self.address,
                    "POST",
                    &format!("/session/{}/element", self.session),
                    &[],
                    Some(&json!({"using": "css selector", "value": css})),
                )
                .await;
                (status == 200).then(|| {
                    answer["value"][ELEMENT]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                })
            }
        })
        .await
    }

    pub(crate) async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.call(
            "POST",
            &format!("/element/{element}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    pub(crate) async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.call("POST", &format!("/element/{element}/click"), None)
            .await;
    }

    /// The text of `css`. Found just as a click's navigation replaces the page, the element
    /// goes stale before it is read: it is looked up again on the new page.
    pub(crate) async fn text(&self, css: &str) -> String {
        wait_for(&format!("the text of {css}"), || async {
            let element = self.find(css).await;
            let (status, _, answer) = http_call(
                self.address,
                "GET",
                &format!("/session/{}/element/{element}/text", self.session),
                &[],
                None,
            )
            .await;
            if status == 404 && answer["value"]["error"] == "stale element reference" {
                return None;
            }
            assert_eq!(status, 200, "GET text of {css}: {answer}");
            Some(answer["value"].as_str().unwrap_or_default().to_owned())
        })
        .await
    }

    /// The text of `css` once it contains `words`: after a click whose answer replaces a
    /// page that has the same element (a form posting back to its own page).
    pub(crate) async fn text_with(&self, css: &str, words: &str) -> String {
        wait_for(&format!("{css} saying {words:?}"), || async {
            let text = self.text(css).await;
            text.contains(words).then_some(text)
        })
        .await
    }

    pub(crate) async fn title(&self) -> String {
        self.call("GET", "/title", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Resizes the window: a phone is 390 × 844, a desktop 1280 × 1000.
    pub(crate) async fn resize(&self, width: u32, height: u32) {
        self.call(
            "POST",
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await;
    }

    /// Runs `script` (a function body; `return` gives its value) in the page.
    pub(crate) async fn execute(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// The page as the browser has it now.
    pub(crate) async fn source(&self) -> String {
        self.call("GET", "/source", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub(crate) async fn screenshot(&self, name: &str) -> PathBuf {
        let encoded = self.call("GET", "/screenshot", None).await;
        let bytes = base64_decode(encoded.as_str().unwrap_or_default());
        let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("target")
            .join("screenshots");
        std::fs::create_dir_all(&folder).expect("screenshot folder");
        let path = folder.join(format!("{name}.png"));
        std::fs::write(&path, &bytes).expect("write screenshot");
        assert!(bytes.starts_with(b"\x89PNG"), "a PNG screenshot");
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &group])
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let digits: Vec<u8> = text.bytes().filter_map(value).collect();
    digits
        .chunks(4)
        .flat_map(|chunk| {
            let n = chunk.iter().fold(0u32, |acc, d| (acc << 6) | u32::from(*d))
                << (6 * (4 - chunk.len()));
            let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
            bytes.into_iter().take(chunk.len().saturating_sub(1))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_technician_works_a_ticket_in_the_browser_and_the_fix_is_suggested_next_time() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let collector = TestCollector::start().await;
    let base = format!("http://{}", collector.running().http_address);
    add_user(&collector, "tina", Role::Technician, "tina-password-1").await;
    add_user(&collector, "sam", Role::Supervisor, "sam-password-12").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut devices = Vec::new();
    for (n, site) in ["berlin", "warsaw"].iter().enumerate() {
        let identity = SimulatedDevice::enroll(
            &collector.url(),
            collector.token().await,
            &dir.path().join(format!("d{n}")),
        )
        .await;
        devices.push(
            SimulatedDevice::connect(&collector.url(), identity, site, &format!("192.0.2.{n}"))
                .await,
        );
    }
    // An agent's words are data: a script in a summary must show as text.
    let hostile = "Disk / is 97% full <script>document.title='pwned'</script>";
    devices[0]
        .report_saying("disk.free_low", "/", pb::Severity::Warning, hostile)
        .await;

    browser.goto(&format!("{base}/")).await;
    browser.type_into("input[name=name]", "tina").await;
    browser
        .type_into("input[name=password]", "tina-password-1")
        .await;
    browser.click("button[type=submit]").await;
    let queue = browser.text("#queue").await;
    assert!(
        queue.contains("disk.free_low"),
        "the auto-opened ticket is in the queue: {queue}"
    );
    browser.screenshot("queue").await;

    browser.click("#queue td.what a").await;
    let description = browser.text("#description").await;
    assert!(
        description.contains("<script>"),
        "shown as text: {description}"
    );
    // Had the script run, the title would be just "pwned"; it is the ticket's instead.
    let title = browser.title().await;
    assert!(
        title.starts_with('#') && title != "pwned",
        "never run: {title}"
    );
    let timeline = browser.text("#timeline").await;
    assert!(
        timeline.contains("resource"),
        "the evidence is readable: {timeline}"
    );
    browser.screenshot("ticket").await;

    browser
        .type_into("#solution", "Emptied the recycle bin")
        .await;
    browser.click("form:has(#solution) button").await;
    wait_for("the ticket to show resolved", || async {
        (browser.text("#state").await == "Resolved").then_some(())
    })
    .await;

    // The same problem on another device: the fix is suggested.
    devices[1]
        .report("disk.free_low", "/", pb::Severity::Warning)
        .await;
    browser.goto(&format!("{base}/")).await;
    browser.click("#queue td.what a").await;
    let fixes = browser.text("#known-fixes").await;
    assert!(fixes.contains("Emptied the recycle bin"), "{fixes}");

    // Her own password, from the Account page; she stays signed in.
    browser.click("a[href='/account']").await;
    browser
        .type_into("input[name=current_password]", "tina-password-1")
        .await;
    browser
        .type_into("input[name=new_password]", "tina-password-2")
        .await;
    browser
        .type_into("input[name=new_password_again]", "tina-password-2")
        .await;
    browser
        .click("form[action='/account/password'] button")
        .await;
    let notice = browser.text("#notice").await;
    assert!(notice.contains("Password changed"), "{notice}");

    // A supervisor's view.
    browser.click("form[action='/logout/form'] button").await;
    browser.type_into("input[name=name]", "sam").await;
    browser
        .type_into("input[name=password]", "sam-password-12")
        .await;
    browser.click("button[type=submit]").await;
    browser.find("#queue").await;
    browser.goto(&format!("{base}/stats")).await;
    let stats = browser.text("main").await;
    assert!(stats.contains("Tickets opened"), "{stats}");
    assert!(stats.contains("Found before anyone reported"), "{stats}");
    let shot = browser.screenshot("stats").await;
    eprintln!(
        "screenshots in {}",
        shot.parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    );
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused() {
    let collector = TestCollector::start().await;
    let http = collector.running().http_address;
    add_user(&collector, "tina", Role::Technician, "tina-password-1").await;
    let (status, head, _) = http_call(
        http,
        "POST",
        "/login",
        &[],
        Some(&json!({"name": "tina", "password": "tina-password-1"})),
    )
    .await;
    assert_eq!(status, 200);
    let cookie = head
        .lines()
        .find_map(|line| {
            line.to_ascii_lowercase()
                .starts_with("set-cookie:")
                .then(|| line[11..].trim().to_owned())
        })
        .and_then(|value| value.split(';').next().map(str::to_owned))
        .expect("cookie");
    // A form post (urlencoded) with no token, as a forged cross-site form would send.
    let (status, _, _) = raw_form(http, "/tickets/1/act", &cookie, "action=comment&text=hi").await;
    assert_eq!(status, 403);
    let (status, _, _) = raw_form(
        http,
        "/tickets/1/act",
        &cookie,
        "action=comment&text=hi&csrf_token=forged",
    )
    .await;
    assert_eq!(status, 403);
    // The sign-in form itself refuses posts from other sites (login CSRF), and takes its own.
    let credentials = "name=tina&password=tina-password-1";
    let (status, _, _) = raw_form_with(
        http,
        "/login/form",
        "Sec-Fetch-Site: cross-site\r\n",
        credentials,
    )
    .await;
    assert_eq!(status, 403);
    let (status, _, _) = raw_form_with(
        http,
        "/login/form",
        "Origin: https://evil.example.com\r\n",
        credentials,
    )
    .await;
    assert_eq!(status, 403);
    let (status, response, _) = raw_form_with(
        http,
        "/login/form",
        "Sec-Fetch-Site: same-origin\r\n",
        credentials,
    )
    .await;
    assert_eq!(status, 303, "{response}");
}

#[tokio::test]
async fn web_pages_need_a_session_and_stats_need_a_supervisor() {
    let collector = TestCollector::start().await;
    let http = collector.running().http_address;
    add_user(&collector, "tina", Role::Technician, "tina-password-1").await;
    for page in ["/", "/tickets/1", "/devices/x", "/knowledge", "/stats"] {
        let (status, head, _) = http_call(http, "GET", page, &[], None).await;
        assert_eq!(status, 303, "{page} without a session");
        assert!(
            head.to_ascii_lowercase().contains("location: /login"),
            "{page}: {head}"
        );
    }
    let (_, head, _) = http_call(
        http,
        "POST",
        "/login",
        &[],
        Some(&json!({"name": "tina", "password": "tina-password-1"})),
    )
    .await;
    let cookie = head
        .lines()
        .find_map(|line| {
            line.to_ascii_lowercase()
                .starts_with("set-cookie:")
                .then(|| line[11..].trim().to_owned())
        })
        .and_then(|value| value.split(';').next().map(str::to_owned))
        .expect("cookie");
    let (status, _, _) = http_call(http, "GET", "/", &[("Cookie", &cookie)], None).await;
    assert_eq!(status, 200);
    let (status, _, _) = http_call(http, "GET", "/stats", &[("Cookie", &cookie)], None).await;
    assert_eq!(status, 403, "stats are for supervisors");
}
