//! Fleet configuration: settings the collector pushes (`ConfigPush`), in `agent.toml`'s own
//! schema, laid over the device's local file.
//!
//! Precedence: the local file is the base and every key a push sets wins over it, table by
//! table (a pushed `[checks.dns] names` replaces the local list; local keys the push does not
//! name stay). `state_dir` and `collector_url` are the device's own and never pushed, nor is
//! `playbooks.report_socket` (a local path). A push takes effect at once for `site`,
//! `[checks]`, `[playbooks]` and `[fixes]`; `[uplink]` and `[outbox]` settings are kept and
//! take effect at the agent's next start (the outbox file is sized and the connection's
//! pacing set when they open). The pushed config is kept in the state folder, so an agent
//! restarted offline runs it; one that no longer reads (after an upgrade) is set aside, said,
//! and the local file alone runs.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::Settings;

/// Where the pushed config is kept, in the state folder.
pub const FILE: &str = "fleet-config.json";

/// Keys a push may not set, with why: where the agent lives and whom it answers, and what
/// the device allows — fixes it consents to, where a user's report may make it connect.
const LOCAL_ONLY: [(&str, &str); 7] = [
    (
        "state_dir",
        "where the agent keeps its state is the device's own",
    ),
    (
        "collector_url",
        "whom the agent reports to is set at enrollment",
    ),
    ("playbooks.report_socket", "a local path, the device's own"),
    (
        "fixes",
        "what a device lets the collector fix is its own file's consent",
    ),
    (
        "playbooks.report_hosts",
        "where a user's report may make the agent connect is the device's own",
    ),
    (
        "playbooks.report_ports",
        "where a user's report may make the agent connect is the device's own",
    ),
    (
        "playbooks.probe_url",
        "an address the agent contacts on its own is the device's own",
    ),
];

/// Keys a push may set that take effect at the agent's next start.
pub const AT_RESTART: [&str; 2] = ["uplink", "outbox"];

/// The longest pushed config accepted.
pub const MAX_BYTES: usize = 256 * 1024;

/// A config the collector pushed: its version and its TOML.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pushed {
    pub version: String,
    pub toml: String,
}

/// What the agent tells the collector about its fleet config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// The version it runs ("" for none).
    pub version: String,
    /// The last push it refused, and why ("" for none).
    pub refused_version: String,
    pub error: String,
}

/// The local file's text laid under `pushed`, as one TOML document: pushed keys win, table
/// by table. Refuses a push that does not read or sets a local-only key, naming it.
pub fn layered(local: &str, pushed: &str) -> Result<String, String> {
    if pushed.len() > MAX_BYTES {
        return Err(format!(
            "the fleet config is {} bytes, more than the {MAX_BYTES} accepted",
            pushed.len()
        ));
    }
    let mut base: toml::Table = local
        .parse()
        .map_err(|e: toml::de::Error| format!("the local config does not read: {e}"))?;
    let over: toml::Table = pushed
        .parse()
        .map_err(|e: toml::de::Error| format!("the fleet config does not read: {e}"))?;
    for (key, why) in LOCAL_ONLY {
        if lookup(&over, key).is_some() {
            return Err(format!("{key} cannot be set by a fleet config: {why}"));
        }
    }
    // A watch that reads a file's lines sends what it matches to the collector: only the
    // device's own file may ask for that (new-file watches report names only).
    if let Some(watches) = lookup(&over, "checks.watch").and_then(toml::Value::as_array) {
        for (index, watch) in watches.iter().enumerate() {
            if watch.get("lines").is_some() {
                return Err(format!(
                    "checks.watch[{index}].lines cannot be set by a fleet config: reading a file's lines sends its contents, which only the device's own file may allow"
                ));
            }
        }
    }
    merge(&mut base, over);
    toml::to_string(&base).map_err(|e| format!("writing the layered config: {e}"))
}

/// The value at a dotted `key` of `table`.
fn lookup<'a>(table: &'a toml::Table, key: &str) -> Option<&'a toml::Value> {
    let mut parts = key.split('.');
    let mut value = table.get(parts.next()?)?;
    for part in parts {
        value = value.as_table()?.get(part)?;
    }
    Some(value)
}

/// `over` into `base`: tables merge key by key, anything else is replaced.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(mine)), toml::Value::Table(theirs)) => merge(mine, theirs),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Checks a fleet config (a policy, or several merged) the way an agent will, by the agent's
/// own code, on top of an empty local file: the error names the key and the reason. Used by
/// the collector before it accepts a policy.
pub fn validate(pushed: &str) -> Result<(), String> {
    let text = layered("", pushed)?;
    Settings::parse(&text, Path::new("fleet config"))
        .map(drop)
        .map_err(|e| match e {
            crate::config::ConfigError::Parse { message, .. } => message,
            other => other.to_string(),
        })
}

/// What only this device can tell about a config that reads: a file watch must be able to
/// start where it points (a folder that exists and can be listed, or one that does not exist
/// yet under a folder that does).
pub fn preflight(settings: &Settings) -> Result<(), String> {
    for (index, watch) in settings.checks.watch_configs().iter().enumerate() {
        let path = &watch.path;
        let problem = match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => std::fs::read_dir(path).err().map(|e| e.to_string()),
            Ok(_) => std::fs::File::open(path).err().map(|e| e.to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                match path.parent().map(std::fs::metadata) {
                    Some(Ok(parent)) if parent.is_dir() => None,
                    Some(Ok(_)) => Some(format!(
                        "{} is not a folder",
                        path.parent().unwrap_or(path).display()
                    )),
                    Some(Err(e)) => Some(e.to_string()),
                    None => None,
                }
            }
            Err(e) => Some(e.to_string()),
        };
        if let Some(problem) = problem {
            return Err(format!(
                "checks.watch[{index}] ({}): cannot watch {}: {problem}",
                watch.name,
                path.display()
            ));
        }
    }
    Ok(())
}

/// The pushed config kept in `state_dir`, if any. One that cannot be read is reported and
/// left alone (the local file runs).
pub fn load(state_dir: &Path) -> Option<Pushed> {
    let path = state_dir.join(FILE);
    match std::fs::read(&path) {
        Ok(bytes) => match serde_json::from_slice::<Pushed>(&bytes) {
            Ok(pushed) => Some(pushed),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "the kept fleet config does not read; running the local config alone");
                None
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "reading the kept fleet config; running the local config alone");
            None
        }
    }
}

/// Keeps `pushed` in `state_dir` (written aside, then renamed over, so a crash leaves the old
/// one or the new one); `None` forgets it.
pub fn save(state_dir: &Path, pushed: Option<&Pushed>) -> std::io::Result<()> {
    let path = state_dir.join(FILE);
    match pushed {
        Some(pushed) => {
            let aside: PathBuf = state_dir.join(format!("{FILE}.new"));
            let bytes = serde_json::to_vec_pretty(pushed).map_err(std::io::Error::other)?;
            {
                use std::io::Write;
                let mut file = std::fs::File::create(&aside)?;
                file.write_all(&bytes)?;
                // On disk before it takes the old one's name: a crash leaves one or the other.
                file.sync_all()?;
            }
            std::fs::rename(&aside, &path)
        }
        None => match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        },
    }
}

/// The settings the device runs: its local file (`config_path`, else the platform's default
/// when it exists) with `pushed` laid over it. The error names both sources.
pub fn effective(config_path: Option<&Path>, pushed: Option<&Pushed>) -> Result<Settings, String> {
    let (path, required) = match config_path {
        Some(path) => (path.to_owned(), true),
        None => (crate::config::default_config_path(), false),
    };
    let local = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => String::new(),
        Err(e) => return Err(format!("reading config {}: {e}", path.display())),
    };
    let Some(pushed) = pushed else {
        return Settings::parse(&local, &path).map_err(|e| e.to_string());
    };
    let text = layered(&local, &pushed.toml)
        .map_err(|e| format!("fleet config {}: {e}", pushed.version))?;
    let source = PathBuf::from(format!(
        "{} with fleet config {}",
        path.display(),
        pushed.version
    ));
    Settings::parse(&text, &source).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushed_keys_win_table_by_table_and_local_ones_stay() {
        let local = "site = \"hq\"\n[checks.dns]\nnames = [\"a.example.com\"]\ninterval = \"30s\"\n[checks.disk]\nenabled = false\n";
        let pushed = "site = \"warsaw\"\n[checks.dns]\nnames = [\"intranet.example.com\", \"mail.example.com\"]\n";
        let text = layered(local, pushed).expect("layers");
        let table: toml::Table = text.parse().expect("reads");
        assert_eq!(table["site"].as_str(), Some("warsaw"));
        let dns = table["checks"]["dns"].as_table().expect("dns");
        assert_eq!(
            dns["names"].as_array().map(Vec::len),
            Some(2),
            "a pushed list replaces the local one: {text}"
        );
        assert_eq!(dns["interval"].as_str(), Some("30s"), "a local key stays");
        assert_eq!(table["checks"]["disk"]["enabled"].as_bool(), Some(false));
    }

    #[test]
    fn a_push_may_not_move_the_agent_or_its_collector_and_says_which_key() {
        for (pushed, key) in [
            ("state_dir = \"/tmp/x\"", "state_dir"),
            (
                "collector_url = \"https://evil.example:50051\"",
                "collector_url",
            ),
            (
                "[playbooks]\nreport_socket = \"/tmp/s\"",
                "playbooks.report_socket",
            ),
            ("[fixes]\nenabled = true", "fixes"),
            (
                "[playbooks]\nreport_hosts = [\"*\"]",
                "playbooks.report_hosts",
            ),
            (
                "[playbooks]\nprobe_url = \"https://example.com/\"",
                "playbooks.probe_url",
            ),
            (
                "[[checks.watch]]\nname = \"auth\"\npath = \"/var/log/auth.log\"\nlines = \".\"",
                "checks.watch[0].lines",
            ),
        ] {
            let error = layered("", pushed).expect_err(pushed);
            assert!(error.starts_with(key), "{error}");
        }
        assert!(layered("", "[checks.dns\n").is_err());
    }

    #[test]
    fn the_collector_validates_with_the_agents_own_rules() {
        assert_eq!(
            validate("[checks.dns]\nnames = [\"intranet.example.com\"]\n"),
            Ok(())
        );
        let error = validate("[checks.disk]\nused_pct = { raise = 50.0, clear = 70.0 }\n")
            .expect_err("clear above raise");
        assert!(
            error.contains("clear (70) must not be above raise (50)"),
            "{error}"
        );
        let error = validate("[checks.dnss]\n").expect_err("unknown key");
        assert!(error.contains("dnss"), "{error}");
    }

    #[test]
    fn a_watch_that_cannot_start_is_refused_by_the_device() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"x").expect("write");
        let watch = |path: &Path| {
            format!(
                "[[checks.watch]]\nname = \"crashes\"\npath = {:?}\n",
                path.display().to_string()
            )
        };
        let ok = Settings::parse(&watch(&dir.path().join("later")), Path::new("t")).expect("reads");
        assert_eq!(preflight(&ok), Ok(()), "a folder that will appear is fine");
        let under_a_file =
            Settings::parse(&watch(&file.join("crashes")), Path::new("t")).expect("reads");
        let error = preflight(&under_a_file).expect_err("under a file");
        assert!(
            error.starts_with("checks.watch[0] (crashes): cannot watch"),
            "{error}"
        );
    }

    #[test]
    fn the_pushed_config_is_kept_across_restarts_and_forgotten_on_request() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert_eq!(load(dir.path()), None);
        let pushed = Pushed {
            version: "v1".to_owned(),
            toml: "site = \"warsaw\"\n".to_owned(),
        };
        save(dir.path(), Some(&pushed)).expect("save");
        assert_eq!(load(dir.path()), Some(pushed.clone()));
        let settings = effective(Some(&dir.path().join("absent.toml")), Some(&pushed));
        assert!(settings.is_err(), "a named local file must exist");
        let local = dir.path().join("agent.toml");
        std::fs::write(&local, "site = \"hq\"\n").expect("write");
        let settings = effective(Some(&local), Some(&pushed)).expect("settings");
        assert_eq!(settings.uplink.site, "warsaw");
        save(dir.path(), None).expect("forget");
        assert_eq!(load(dir.path()), None);
    }
}
