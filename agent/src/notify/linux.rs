//! Notices on Linux: freedesktop Notifications over the user's session D-Bus. The agent (root)
//! finds the account's bus (`/run/user/<uid>/bus`, a socket that account owns) and starts
//! `firstline-agent notify` as that account, environment cleared but for the bus and its
//! locale; the child calls `Notify`, waits for a click or a close, and on a click opens the
//! help page as the user. zbus is the D-Bus client, on the agent's tokio runtime.

use std::collections::HashMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio_stream::StreamExt;

use super::{ChildRequest, NotShown, NotifierSettings, Session, WAIT_FOR_CLICK, account_in};

const DESTINATION: &str = "org.freedesktop.Notifications";
const OBJECT_PATH: &str = "/org/freedesktop/Notifications";
const INTERFACE: &str = "org.freedesktop.Notifications";
/// freedesktop urgency levels: 0 low, 1 normal, 2 critical. Never critical: a ticket's
/// news does not stay on screen over someone's work.
const URGENCY_NORMAL: u8 = 1;
/// Connecting and the calls before the wait take at most this long.
const BUS_TIMEOUT: Duration = Duration::from_secs(10);
/// The child's stdin (one request) and what is kept of its stderr, at most.
const MAX_REQUEST_BYTES: u64 = 16 * 1024;
const MAX_STDERR_BYTES: u64 = 8 * 1024;
/// Locale and display variables of the person's session, handed to the help command.
const SESSION_VARIABLES: [&str; 9] = [
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "XAUTHORITY",
    "XDG_CURRENT_DESKTOP",
    "XDG_SESSION_TYPE",
    "LANGUAGE",
    "LC_ALL",
    "LC_MESSAGES",
    "LANG",
];

/// The session `account` has: its entry in the passwd file and its session bus. Running as
/// root the agent can show notices to anyone; otherwise only to its own account.
pub fn session_for(settings: &NotifierSettings, account: &str) -> Result<Session, NotShown> {
    let Some(account) = account_in(&settings.passwd, account) else {
        return Err(NotShown::UnknownAccount {
            account: account.to_owned(),
            passwd: settings.passwd.display().to_string(),
        });
    };
    let agent_uid = rustix::process::geteuid().as_raw();
    if agent_uid != 0 && agent_uid != account.uid {
        return Err(NotShown::OtherAccount {
            account: account.name,
            uid: account.uid,
            agent_uid,
        });
    }
    let bus = settings
        .runtime_dir_root
        .join(account.uid.to_string())
        .join("bus");
    match std::fs::symlink_metadata(&bus) {
        // The owner is what makes it this person's bus, not another user's nor a planted one.
        Ok(meta) if meta.file_type().is_socket() && meta.uid() == account.uid => {
            Ok(Session { account, bus })
        }
        Ok(meta) => Err(NotShown::NoSession {
            reason: format!(
                "{} is not a socket owned by uid {} (owner {})",
                bus.display(),
                account.uid,
                meta.uid()
            ),
            account: account.name,
            uid: account.uid,
        }),
        Err(e) => Err(NotShown::NoSession {
            reason: format!("{}: {e}", bus.display()),
            account: account.name,
            uid: account.uid,
        }),
    }
}

/// A D-Bus address for the socket at `path`: bytes outside the optionally-escaped set are
/// `%XX`-escaped, as the specification asks.
fn bus_address(path: &Path) -> String {
    let mut address = String::from("unix:path=");
    for byte in path.as_os_str().as_encoded_bytes() {
        if byte.is_ascii_alphanumeric() || b"-_/.\\*".contains(byte) {
            address.push(char::from(*byte));
        } else {
            address.push_str(&format!("%{byte:02x}"));
        }
    }
    address
}

/// What the child prints once its notification is on screen.
const SHOWN_LINE: &str = "shown";

/// Runs `program notify` as the session's account with `request` on its stdin, until it
/// ends, `end_wait` fires, or the wait for a click is over; `on_shown` is called once the
/// notification is on screen. Returns what happened, in words.
pub async fn run_child(
    settings: &NotifierSettings,
    session: &Session,
    request: &ChildRequest,
    mut on_shown: impl FnMut(),
    end_wait: oneshot::Receiver<()>,
) -> Result<String, String> {
    let account = &session.account;
    let mut command = tokio::process::Command::new(&settings.program);
    command
        .arg("notify")
        .env_clear()
        .env("DBUS_SESSION_BUS_ADDRESS", bus_address(&session.bus))
        .env("HOME", &account.home)
        .env("USER", &account.name)
        .env("LOGNAME", &account.name)
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(runtime_dir) = session.bus.parent() {
        command.env("XDG_RUNTIME_DIR", runtime_dir);
    }
    // The agent's own locale and log filter: the child's fallback language and its logs.
    for name in ["LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG", "RUST_LOG"] {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    if rustix::process::geteuid().is_root() {
        // std clears the supplementary groups (setgroups(0)) before it sets the uid, when
        // run as root and no groups are given: the child has the account's rights only.
        command.uid(account.uid).gid(account.gid);
    }
    let mut child = command.spawn().map_err(|e| {
        format!(
            "starting {} notify as {} (uid {}): {e}",
            settings.program.display(),
            account.name,
            account.uid
        )
    })?;
    let json = serde_json::to_vec(request).map_err(|e| format!("encoding the notice: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A child that died at once shows in its exit status below.
        let _ = stdin.write_all(&json).await;
    }
    let stderr = child.stderr.take().map(|stderr| {
        tokio::spawn(async move {
            let mut text = String::new();
            let _ = stderr
                .take(MAX_STDERR_BYTES)
                .read_to_string(&mut text)
                .await;
            text
        })
    });
    let mut stdout = child
        .stdout
        .take()
        .map(|stdout| tokio::io::BufReader::new(stdout.take(MAX_STDERR_BYTES)).lines());
    let give_up = tokio::time::sleep(WAIT_FOR_CLICK + Duration::from_secs(30));
    tokio::pin!(give_up);
    let mut end_wait = Some(end_wait);
    let ended = loop {
        tokio::select! {
            status = child.wait() => {
                break status.map_err(|e| format!("waiting for the notify child: {e}"))?;
            }
            line = next_line(&mut stdout) => match line {
                Some(line) => {
                    if line.trim() == SHOWN_LINE {
                        on_shown();
                    }
                }
                None => stdout = None,
            },
            () = &mut give_up => {
                let _ = child.kill().await;
                return Ok("the child outlived its wait and was stopped".to_owned());
            }
            asked = async { match end_wait.as_mut() { Some(asked) => asked.await, None => std::future::pending().await } } => match asked {
                Ok(()) => {
                    let _ = child.kill().await;
                    return Ok("no longer waiting for a click: a newer notice needed the slot".to_owned());
                }
                Err(_) => end_wait = None,
            },
        }
    };
    // Bounded: a process the child left behind could hold the pipe open.
    let said = match stderr {
        Some(task) => tokio::time::timeout(Duration::from_secs(1), task)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default(),
        None => String::new(),
    };
    if ended.success() {
        Ok(said.lines().last().unwrap_or("shown").trim().to_owned())
    } else {
        Err(format!(
            "the notify child ended with {ended}: {}",
            said.trim()
        ))
    }
}

/// The next line the child printed; none at its end (or past what is read of it).
async fn next_line<R: tokio::io::AsyncBufRead + Unpin>(
    lines: &mut Option<tokio::io::Lines<R>>,
) -> Option<String> {
    match lines {
        Some(lines) => lines.next_line().await.ok().flatten(),
        None => std::future::pending().await,
    }
}

/// `firstline-agent notify` (hidden): reads a [`ChildRequest`] on stdin, shows it over the
/// session bus in `DBUS_SESSION_BUS_ADDRESS`, waits up to [`WAIT_FOR_CLICK`] and on a click
/// runs the help command. Runs as the person the notice is for.
pub async fn child_main() -> anyhow::Result<()> {
    let mut text = String::new();
    // Read before anything else runs on this runtime: blocking here holds up nothing.
    std::io::Read::read_to_string(
        &mut std::io::Read::take(std::io::stdin().lock(), MAX_REQUEST_BYTES),
        &mut text,
    )
    .map_err(|e| anyhow::anyhow!("reading the notice on stdin: {e}"))?;
    let request: ChildRequest = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("reading the notice on stdin: {e}"))?;
    let address = std::env::var("DBUS_SESSION_BUS_ADDRESS")
        .map_err(|_| anyhow::anyhow!("DBUS_SESSION_BUS_ADDRESS is not set"))?;
    let (connection, session_environment, id, mut invoked, mut closed) =
        tokio::time::timeout(BUS_TIMEOUT, notify(&address, &request))
            .await
            .map_err(|_| {
                anyhow::anyhow!("the session bus {address} did not answer within {BUS_TIMEOUT:?}")
            })??;
    tracing::info!(id, "notification shown");
    // Tells the agent that this child now only waits for a click (and may be asked to stop).
    println!("{SHOWN_LINE}");
    let deadline = tokio::time::sleep(WAIT_FOR_CLICK);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            signal = invoked.next() => {
                let Some(signal) = signal else { break };
                let Ok((signal_id, action)) = signal.body().deserialize::<(u32, String)>() else { continue };
                if signal_id == id {
                    if action == "default" {
                        let command = help_command(&request, &session_environment);
                        open_help(&command, &session_environment).await;
                    }
                    break;
                }
            }
            signal = closed.next() => {
                let Some(signal) = signal else { break };
                if signal.body().deserialize::<(u32, u32)>().is_ok_and(|(signal_id, _)| signal_id == id) {
                    tracing::info!(id, "notification closed");
                    break;
                }
            }
            () = &mut deadline => break,
        }
    }
    drop(connection);
    Ok(())
}

/// Connects, subscribes to the answers, and sends `Notify`: the connection, the person's
/// session variables, the notification's id and the two signal streams.
async fn notify(
    address: &str,
    request: &ChildRequest,
) -> anyhow::Result<(
    zbus::Connection,
    Vec<(String, String)>,
    u32,
    zbus::proxy::SignalStream<'static>,
    zbus::proxy::SignalStream<'static>,
)> {
    let connection = zbus::connection::Builder::address(address)
        .map_err(|e| anyhow::anyhow!("the session bus address {address:?}: {e}"))?
        .build()
        .await
        .map_err(|e| anyhow::anyhow!("connecting to the session bus {address}: {e}"))?;
    let session_environment = session_environment(&connection).await;
    let lang = {
        let var = |name: &str| {
            session_environment
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
                .or_else(|| std::env::var(name).ok())
        };
        firstline_i18n::Lang::from_locale_vars(
            var("LANGUAGE").as_deref(),
            var("LC_ALL").as_deref(),
            var("LC_MESSAGES").as_deref(),
            var("LANG").as_deref(),
        )
        .unwrap_or(firstline_i18n::Lang::En)
    };
    let proxy = zbus::proxy::Builder::<zbus::Proxy<'static>>::new(&connection)
        .destination(DESTINATION)?
        .path(OBJECT_PATH)?
        .interface(INTERFACE)?
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await?;
    // Subscribed before Notify, so that a quick click is not missed.
    let invoked = proxy.receive_signal("ActionInvoked").await?;
    let closed = proxy.receive_signal("NotificationClosed").await?;
    let capabilities: Vec<String> = proxy
        .call("GetCapabilities", &())
        .await
        .inspect_err(
            |e| tracing::debug!(error = %e, "asking the notification server what it can do"),
        )
        .unwrap_or_default();
    let body = if capabilities.iter().any(|c| c == "body-markup") {
        super::escape_markup(&request.body)
    } else {
        request.body.clone()
    };
    let open_help = firstline_i18n::tr(lang, "notify-open-help");
    let mut hints: HashMap<&str, zbus::zvariant::Value<'_>> = HashMap::new();
    hints.insert("urgency", zbus::zvariant::Value::U8(URGENCY_NORMAL));
    let id: u32 = proxy
        .call(
            "Notify",
            &(
                "Firstline",
                0u32,
                "",
                request.title.as_str(),
                body.as_str(),
                vec!["default", open_help.as_str()],
                hints,
                -1i32,
            ),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{INTERFACE}.Notify on {address}: {e}"))?;
    Ok((connection, session_environment, id, invoked, closed))
}

/// The person's display and locale variables, from their systemd user manager (where desktops
/// put them); none when there is no such manager on the bus.
async fn session_environment(connection: &zbus::Connection) -> Vec<(String, String)> {
    let reply = tokio::time::timeout(
        Duration::from_secs(2),
        connection.call_method(
            Some("org.freedesktop.systemd1"),
            "/org/freedesktop/systemd1",
            Some("org.freedesktop.DBus.Properties"),
            "Get",
            &("org.freedesktop.systemd1.Manager", "Environment"),
        ),
    )
    .await;
    let Ok(Ok(reply)) = reply else {
        tracing::debug!("no systemd user manager on the session bus: no session variables");
        return Vec::new();
    };
    let Ok(value) = reply.body().deserialize::<zbus::zvariant::OwnedValue>() else {
        return Vec::new();
    };
    let Ok(assignments) = Vec::<String>::try_from(value) else {
        return Vec::new();
    };
    assignments
        .iter()
        .filter_map(|assignment| assignment.split_once('='))
        .filter(|(name, value)| {
            SESSION_VARIABLES.contains(name)
                && value.len() <= 1024
                && !value.contains(char::is_control)
        })
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

/// Runs the help command (it opens the help page in the person's browser) with the session's
/// variables; waits a minute at most for it, then leaves it running.
/// The command a click runs: through `systemd-run --user` when asked and the user has a
/// service manager (its private socket under their runtime dir), so the browser the help
/// command opens runs in their session, not in the agent service's sandbox; else as it is.
fn help_command(request: &ChildRequest, session_environment: &[(String, String)]) -> Vec<String> {
    let runtime_dir = session_environment
        .iter()
        .find(|(name, _)| name == "XDG_RUNTIME_DIR")
        .map(|(_, value)| Path::new(value).to_owned());
    let has_manager = runtime_dir.is_some_and(|dir| dir.join("systemd").join("private").exists());
    let systemd_run = ["/usr/bin/systemd-run", "/bin/systemd-run"]
        .into_iter()
        .find(|path| Path::new(path).exists());
    match systemd_run {
        Some(systemd_run) if request.via_user_manager && has_manager => {
            let mut command = vec![
                systemd_run.to_owned(),
                "--user".to_owned(),
                "--collect".to_owned(),
                "--quiet".to_owned(),
                "--".to_owned(),
            ];
            command.extend(request.help_command.iter().cloned());
            command
        }
        _ => request.help_command.clone(),
    }
}

async fn open_help(command: &[String], session_environment: &[(String, String)]) {
    let Some((program, args)) = command.split_first() else {
        return;
    };
    let spawned = tokio::process::Command::new(program)
        .args(args)
        .envs(session_environment.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        // Not a pipe: a browser it starts would inherit it, and could hold it open (keeping
        // this child's reader waiting) or die writing to it once this child is gone.
        .stderr(Stdio::null())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            tracing::warn!(program = %program, error = %e, "starting the help command");
            return;
        }
    };
    tracing::info!(program = %program, "clicked: opening the help page");
    if let Ok(Ok(status)) = tokio::time::timeout(Duration::from_secs(60), child.wait()).await
        && !status.success()
    {
        tracing::warn!(program = %program, %status, "the help command failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bus_addresses_escape_what_the_specification_asks() {
        assert_eq!(
            bus_address(Path::new("/run/user/1000/bus")),
            "unix:path=/run/user/1000/bus"
        );
        assert_eq!(
            bus_address(Path::new("/tmp/a b;c=d,é/bus")),
            "unix:path=/tmp/a%20b%3bc%3dd%2c%c3%a9/bus"
        );
    }

    #[test]
    fn a_bus_not_owned_by_the_account_is_no_session() {
        let dir = tempfile::tempdir().expect("tempdir");
        let passwd = dir.path().join("passwd");
        let me = rustix::process::geteuid().as_raw();
        std::fs::write(
            &passwd,
            format!(
                "me:x:{me}:{me}::/home/me:/bin/sh\nother:x:{}:1::/:/bin/sh\n",
                me + 1
            ),
        )
        .expect("write passwd");
        let settings = NotifierSettings {
            program: "firstline-agent".into(),
            help_command: Vec::new(),
            runtime_dir_root: dir.path().join("user"),
            passwd,
            via_user_manager: true,
        };
        // No bus at all.
        let Err(NotShown::NoSession { reason, .. }) = session_for(&settings, "me") else {
            panic!("a session without a bus");
        };
        assert!(reason.contains(&format!("user/{me}/bus")), "{reason}");
        // A plain file where the bus should be.
        std::fs::create_dir_all(dir.path().join(format!("user/{me}"))).expect("mkdir");
        std::fs::write(dir.path().join(format!("user/{me}/bus")), "").expect("write");
        assert!(matches!(
            session_for(&settings, "me"),
            Err(NotShown::NoSession { .. })
        ));
        // A real socket of ours.
        std::fs::remove_file(dir.path().join(format!("user/{me}/bus"))).expect("rm");
        let _listener =
            std::os::unix::net::UnixListener::bind(dir.path().join(format!("user/{me}/bus")))
                .expect("bind");
        assert!(session_for(&settings, "me").is_ok());
        // Our socket reached through another account's runtime dir: not theirs.
        std::os::unix::fs::symlink(
            dir.path().join(format!("user/{me}")),
            dir.path().join(format!("user/{}", me + 1)),
        )
        .expect("symlink");
        let outcome = session_for(&settings, "other");
        if me == 0 {
            let Err(NotShown::NoSession { reason, .. }) = outcome else {
                panic!("root's bus shown to another account: {outcome:?}");
            };
            assert!(reason.contains("not a socket owned by uid 1"), "{reason}");
        } else {
            assert!(
                matches!(outcome, Err(NotShown::OtherAccount { .. })),
                "{outcome:?}"
            );
        }
        assert!(matches!(
            session_for(&settings, "nobody-here"),
            Err(NotShown::UnknownAccount { .. })
        ));
    }

    #[test]
    fn a_click_opens_help_through_the_users_service_manager_when_there_is_one() {
        let dir = tempfile::tempdir().expect("dir");
        let request = ChildRequest {
            title: "t".to_owned(),
            body: "b".to_owned(),
            help_command: vec!["/usr/bin/firstline-agent".to_owned(), "help".to_owned()],
            via_user_manager: true,
        };
        let environment = vec![(
            "XDG_RUNTIME_DIR".to_owned(),
            dir.path().display().to_string(),
        )];
        // No manager in the runtime dir: the command as it is.
        assert_eq!(help_command(&request, &environment), request.help_command);
        std::fs::create_dir_all(dir.path().join("systemd")).expect("dir");
        std::fs::write(dir.path().join("systemd").join("private"), b"").expect("socket stand-in");
        let command = help_command(&request, &environment);
        if Path::new("/usr/bin/systemd-run").exists() || Path::new("/bin/systemd-run").exists() {
            assert!(command[0].ends_with("systemd-run"), "{command:?}");
            assert_eq!(&command[1..5], ["--user", "--collect", "--quiet", "--"]);
            assert_eq!(&command[5..], request.help_command.as_slice());
        } else {
            assert_eq!(command, request.help_command);
        }
        // Not asked (the tests' stand-in): as it is.
        let plain = ChildRequest {
            via_user_manager: false,
            ..request.clone()
        };
        assert_eq!(help_command(&plain, &environment), plain.help_command);
    }
}
