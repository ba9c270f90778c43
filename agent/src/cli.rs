//! The `firstline-agent` command line: flags, logging, and a call into the library.

use std::path::PathBuf;

use crate::checks::Observation;
use crate::config::{Settings, default_config_path};
use crate::enroll::{self, EnrollOptions};
use crate::service::{self, ServiceDefinition};
use crate::uplink::UplinkState;
use crate::{help, identity, report, runtime};
use clap::{Parser, Subcommand};
use tokio::sync::watch;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Debug, Parser)]
#[command(
    name = "firstline-agent",
    version,
    about = "Firstline agent: workstation health, streamed to the collector",
    // `help` is the user's help page; `--help` still prints this.
    disable_help_subcommand = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Get a device certificate from the collector with a one-time token (the key is made here).
    Enroll {
        /// The collector's gRPC address, e.g. https://collector.example.com:7443.
        #[arg(long, value_name = "URL")]
        collector: String,
        /// One-time token from `firstline-collector token create`.
        #[arg(
            long,
            value_name = "TOKEN",
            env = "FIRSTLINE_ENROLL_TOKEN",
            hide_env_values = true
        )]
        token: String,
        /// The collector's CA certificate (its DATA_DIR/ca.pem) to trust; without it, the CA
        /// the token pins is fetched and checked.
        #[arg(long, value_name = "PEM")]
        ca_file: Option<PathBuf>,
        /// Config file (TOML); default /etc/firstline/agent.toml if it exists.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Where to keep the identity; overrides the config file.
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
        /// Replace an existing identity (the collector will see a new device).
        #[arg(long)]
        force: bool,
    },
    /// Run every check once and print what it sees; needs no collector.
    Check {
        /// Config file (TOML); default /etc/firstline/agent.toml if it exists.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Report a problem in your own words: the matching diagnosis runs now, and the result goes
    /// to support as a ticket with the evidence (e.g. report "I can't open the intranet").
    Report {
        /// What is wrong, in any words (English, 中文, polski, ελληνικά, …); quotes are not
        /// needed: `report the printer does not print`.
        #[arg(required = true, num_args = 1.., value_name = "WORDS")]
        text: Vec<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Also print every step that was tried, for support staff (in English).
        #[arg(long)]
        verbose: bool,
        /// Config file (TOML); default /etc/firstline/agent.toml if it exists.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The agent's state dir (where its report socket is); overrides the config file.
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
    /// Open your own IT help page in your browser (the desktop's "Get IT help"): see your
    /// computer's health, describe a problem, follow your reports.
    Help {
        /// Only print the link; do not open a browser.
        #[arg(long)]
        no_open: bool,
        /// Config file (TOML); default /etc/firstline/agent.toml if it exists.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The agent's state dir (where its report socket is); overrides the config file.
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
    /// Run the agent in the foreground (what the service runs). Not enrolled yet, it waits
    /// for `enroll` instead of failing.
    Run {
        /// Config file (TOML); default /etc/firstline/agent.toml if it exists.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Where the identity is kept; overrides the config file.
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
    /// Register the agent as an OS service (systemd, launchd, Windows service), remove it, or
    /// show its state.
    Service {
        #[command(subcommand)]
        command: ServiceCommand,
    },
    /// Print what can be read of a damaged outbox file, one JSON line per record. The running
    /// agent runs this as a child process (a damaged page can crash only the child).
    #[command(hide = true)]
    OutboxSalvage { file: PathBuf },
    /// Show one desktop notification (JSON on stdin) over DBUS_SESSION_BUS_ADDRESS and open
    /// the help page when it is clicked. The running agent starts this as the user it is for.
    #[command(hide = true)]
    Notify,
}

#[derive(Debug, Subcommand)]
enum ServiceCommand {
    /// Register and start the service (as root / administrator); writes a default config if
    /// there is none. An agent not enrolled yet waits for `enroll`.
    Install {
        /// Config file the service reads; default /etc/firstline/agent.toml
        /// (%ProgramData%\Firstline\agent.toml on Windows).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// State dir the service uses; default the config's state_dir, else
        /// /var/lib/firstline-agent (%ProgramData%\Firstline\state on Windows).
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
    /// Stop and unregister the service; the config and the state dir stay.
    Uninstall,
    /// Whether the service is installed, enabled and running, and the agent enrolled (exits
    /// nonzero when it is not installed).
    Status {
        /// Config file (to find the state dir); default as for install.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// State dir to look for the enrollment in; overrides the config file.
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
}

/// How often an agent that is not enrolled yet looks for its identity again.
const ENROLLMENT_POLL_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Entry point shared by the `firstline-agent` binary and the end-to-end tests' copy of it.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging();
    // Started by the Windows Service Control Manager, `run` is handed to it; from a console it
    // carries on below.
    #[cfg(windows)]
    if let Command::Run { config, state_dir } = &cli.command {
        match service::windows::run_if_started_by_the_service_manager(
            config.clone(),
            state_dir.clone(),
        ) {
            Ok(service::windows::Dispatched::RanAsService) => {
                return std::process::ExitCode::SUCCESS;
            }
            Ok(service::windows::Dispatched::NotAService) => {}
            Err(error) => {
                eprintln!("firstline-agent: {error}");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    // One thread for the agent's own work; a few kept-alive helpers for blocking probes, so
    // that a probe every minute does not create and destroy a thread every minute.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(4)
        .thread_keep_alive(std::time::Duration::from_secs(600))
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("firstline-agent: starting the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!(
                "firstline-agent: {}",
                crate::uplink::channel::error_chain(error.as_ref())
            );
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    // `Targets` takes RUST_LOG's "target=level,level" form without a regex engine, which
    // keeps the agent small.
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|text| text.parse::<tracing_subscriber::filter::Targets>().ok())
        .unwrap_or_else(|| {
            tracing_subscriber::filter::Targets::new().with_default(tracing::Level::INFO)
        });
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(|| Stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .finish()
        .with(filter);
    // The Windows service's events go to the Event Log once the service has started
    // (`eventlog::start_for_service`); until then, and for every other command, to stderr.
    #[cfg(windows)]
    let subscriber = subscriber.with(crate::eventlog::EventLogLayer::for_service());
    subscriber.init();
}

/// stderr, except under the Windows service, whose events go to the Event Log instead (the
/// SCM gives a service no stderr).
struct Stderr;

impl std::io::Write for Stderr {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        #[cfg(windows)]
        if crate::eventlog::active() {
            return Ok(bytes.len());
        }
        std::io::Write::write(&mut std::io::stderr(), bytes)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::Write::flush(&mut std::io::stderr())
    }
}

/// `firstline-agent run` until `stop` is set: waits for enrollment if there is none yet,
/// then runs the checks, the outbox and the uplink. The Windows service calls this too.
pub async fn run_agent(
    config: Option<PathBuf>,
    state_dir: Option<PathBuf>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut settings = Settings::load(config.as_deref())?;
    let state_dir = state_dir.unwrap_or(settings.state_dir.clone());
    settings.state_dir.clone_from(&state_dir);
    let Some(mut identity) =
        identity::wait_until_enrolled(&state_dir, ENROLLMENT_POLL_INTERVAL, &mut stop).await?
    else {
        return Ok(());
    };
    if let Some(url) = settings.collector_url.clone() {
        identity.enrollment.collector_url = url;
    }
    tracing::info!(
        device = %identity.device_id(),
        collector = %identity.enrollment.collector_url,
        version = crate::AGENT_VERSION,
        "agent starting"
    );
    // Edits to the config file are picked up while running.
    let watched = config.or_else(|| Some(default_config_path()).filter(|path| path.exists()));
    let (state, _) = watch::channel(UplinkState::Starting);
    // The agent only stops by itself on an error it cannot work around.
    tokio::spawn(runtime::run(watched, settings, identity, stop, state)).await??;
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Enroll {
            collector,
            token,
            ca_file,
            config,
            state_dir,
            force,
        } => {
            let settings = Settings::load(config.as_deref())?;
            let options = EnrollOptions {
                collector_url: collector,
                token,
                ca_file,
                state_dir: state_dir.unwrap_or(settings.state_dir),
                force,
            };
            let identity = enroll::enroll(&options).await?;
            println!(
                "enrolled as device {} with {} (state in {})",
                identity.device_id(),
                identity.enrollment.collector_url,
                identity.state_dir.display()
            );
        }
        Command::Run { config, state_dir } => {
            let (stop, stop_watch) = watch::channel(false);
            tokio::spawn(async move {
                shutdown_signal().await;
                tracing::info!("stopping");
                let _ = stop.send(true);
            });
            run_agent(config, state_dir, stop_watch).await?;
        }
        Command::Service { command } => run_service_command(command)?,
        Command::OutboxSalvage { file } => {
            crate::outbox::salvage::salvage_to(&file, &mut std::io::stdout().lock())
                .map_err(|e| anyhow::anyhow!("salvaging {}: {e}", file.display()))?;
        }
        Command::Notify => crate::notify::child_main().await?,
        Command::Report {
            text,
            json,
            verbose,
            config,
            state_dir,
        } => {
            let text = text.join(" ");
            let mut settings = Settings::load(config.as_deref())?;
            if let Some(state_dir) = state_dir {
                settings.state_dir = state_dir;
            }
            if text.trim().is_empty() {
                anyhow::bail!(
                    "say what is wrong, e.g. firstline-agent report \"I can't open the intranet\""
                );
            }
            let socket = report::endpoint(&settings);
            let outcome = match report::submit(&socket, &text).await {
                Ok(outcome) => outcome,
                Err(e) => {
                    // The person is told in their language below; this is for staff.
                    if verbose || json {
                        eprintln!(
                            "firstline-agent: the Firstline agent service is not reachable ({}: {e}); diagnosing here without sending",
                            socket.display()
                        );
                    }
                    let mut outcome = report::diagnose_locally(&text, &settings).await?;
                    outcome.note = Some(
                        "not sent: the Firstline agent service is not running; tell your support desk".to_owned(),
                    );
                    outcome.note_said = Some(firstline_i18n::msg!("report-note-agent-down"));
                    outcome
                }
            };
            let lang = firstline_i18n::Lang::from_environment().unwrap_or_default();
            if json {
                println!("{}", serde_json::to_string_pretty(&outcome)?);
            } else {
                print!("{}", render_report(&outcome, lang, verbose));
            }
            if !outcome.queued {
                match &outcome.note_said {
                    Some(note) => anyhow::bail!("{}", note.text(lang)),
                    None => anyhow::bail!(
                        "{}",
                        outcome.note.as_deref().unwrap_or("the report was not sent")
                    ),
                }
            }
        }
        Command::Help {
            no_open,
            config,
            state_dir,
        } => {
            let mut settings = Settings::load(config.as_deref())?;
            if let Some(state_dir) = state_dir {
                settings.state_dir = state_dir;
            }
            get_help(&settings, no_open).await?;
        }
        Command::Check { config, json } => {
            let settings = Settings::load(config.as_deref())?;
            let (observations, errors) = runtime::check_once(&settings.checks)
                .await
                .map_err(anyhow::Error::msg)?;
            print_check(&observations, &errors, json)?;
        }
    }
    Ok(())
}

/// `help`: the link to the user's help page from the running agent, opened in their browser
/// (or only printed), and otherwise what to do instead, in the user's language.
async fn get_help(settings: &Settings, no_open: bool) -> anyhow::Result<()> {
    use firstline_i18n::{Message, msg};
    let lang = help::user_lang();
    // Started from the desktop menu there is no terminal: what went wrong is shown as a small
    // local page in the browser instead.
    let from_menu = !no_open && !std::io::IsTerminal::is_terminal(&std::io::stdout());
    let tell = |said: &[Message]| {
        let lines: Vec<String> = said.iter().map(|line| line.text(lang)).collect();
        for line in &lines {
            println!("{line}");
        }
        if from_menu && let Err(e) = help::show_in_browser(lang, &lines) {
            tracing::debug!(error = %e, "cannot show the help message in the browser");
        }
    };
    let socket = report::endpoint(settings);
    let answer = match report::submit_help(&socket, &help::user_locale()).await {
        Ok(answer) => answer,
        Err(e) => {
            tell(&[msg!("help-agent-not-running"), msg!("help-what-to-do")]);
            anyhow::bail!(
                "the Firstline agent service is not reachable ({}: {e})",
                socket.display()
            );
        }
    };
    let help::HelpLinkAnswer::Link { url, .. } = &answer else {
        tell(&answer.said());
        anyhow::bail!("no help link: {answer:?}");
    };
    if no_open {
        println!("{}", msg!("help-link", "url" => url).text(lang));
        return Ok(());
    }
    println!("{}", msg!("help-opening", "url" => url).text(lang));
    let opening = url.clone();
    let opened = tokio::task::spawn_blocking(move || help::open_in_browser(&opening)).await?;
    if let Err(e) = opened {
        // With no browser to open, the page would not show either: the line is for a terminal.
        println!("{}", msg!("help-open-failed", "url" => url).text(lang));
        anyhow::bail!("opening the browser: {e}");
    }
    Ok(())
}

/// `service install|uninstall|status`: what was done or found, in plain lines.
fn run_service_command(command: ServiceCommand) -> anyhow::Result<()> {
    match command {
        ServiceCommand::Install { config, state_dir } => {
            let config_path = config.unwrap_or_else(default_config_path);
            let state_dir = service_state_dir(&config_path, state_dir)?;
            let binary = std::env::current_exe()
                .and_then(std::fs::canonicalize)
                .map_err(|e| anyhow::anyhow!("finding this program's own path: {e}"))?;
            let definition = ServiceDefinition {
                binary,
                config_path,
                state_dir,
            };
            let installed = service::install(&definition)?;
            for line in installed.describe(&definition) {
                println!("{line}");
            }
        }
        ServiceCommand::Uninstall => {
            for line in service::uninstall()? {
                println!("{line}");
            }
        }
        ServiceCommand::Status { config, state_dir } => {
            let config_path = config.unwrap_or_else(default_config_path);
            let state_dir = service_state_dir(&config_path, state_dir)?;
            let status = service::status(&state_dir)?;
            for line in status.describe() {
                println!("{line}");
            }
            if !status.installed {
                anyhow::bail!(
                    "the {} service is not installed (sudo firstline-agent service install)",
                    service::SERVICE_NAME
                );
            }
        }
    }
    Ok(())
}

/// The state dir a service uses: the flag, else the config file's `state_dir` (when the file
/// exists), else the platform's default.
fn service_state_dir(
    config_path: &std::path::Path,
    flag: Option<PathBuf>,
) -> anyhow::Result<PathBuf> {
    if let Some(state_dir) = flag {
        return Ok(state_dir);
    }
    if config_path.exists() {
        return Ok(Settings::load(Some(config_path))?.state_dir);
    }
    Ok(crate::config::default_state_dir())
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM (what systemd sends).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `report` output for the person who reported: what was found and what to do now, in
/// `lang`; with `verbose`, every step tried (for staff, in English) before it.
fn render_report(
    outcome: &report::ReportOutcome,
    lang: firstline_i18n::Lang,
    verbose: bool,
) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    if verbose && let Some(playbooks) = outcome.results.as_array() {
        for playbook in playbooks {
            let name = playbook["playbook"].as_str().unwrap_or_default();
            let target = playbook["target"]
                .as_str()
                .filter(|_| name != "crash")
                .map(|t| format!(" ({t})"))
                .unwrap_or_default();
            let _ = writeln!(out, "Checked: {name}{target}");
            for step in playbook["steps"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                let mark = match step["outcome"].as_str() {
                    Some("pass") => "ok  ",
                    Some("fail") => "FAIL",
                    Some("warn") => "warn",
                    _ => "skip",
                };
                let _ = writeln!(
                    out,
                    "  {mark} {:<8} {}",
                    step["layer"].as_str().unwrap_or_default(),
                    step["detail"].as_str().unwrap_or_default()
                );
            }
            let _ = writeln!(
                out,
                "  => {}\n",
                playbook["conclusion"].as_str().unwrap_or_default()
            );
        }
    }
    if !outcome.said.is_empty() {
        let _ = writeln!(out, "{}", firstline_i18n::tr(lang, "report-cli-found"));
        for said in &outcome.said {
            let _ = writeln!(out, "  - {}", said.text(lang));
        }
    }
    if !outcome.advice.is_empty() {
        let _ = writeln!(out, "\n{}", firstline_i18n::tr(lang, "report-cli-advice"));
        for advice in &outcome.advice {
            let _ = writeln!(out, "  - {}", advice.text(lang));
        }
    }
    if outcome.queued {
        let _ = writeln!(
            out,
            "\n{}",
            firstline_i18n::msg!("report-cli-sent", "reference" => outcome.report_id.as_str())
                .text(lang)
        );
    }
    out
}

/// `check` output: one line per observation, worst first, or JSON for scripts.
fn print_check(observations: &[Observation], errors: &[String], json: bool) -> anyhow::Result<()> {
    // NaN marks "looked but could not measure": nothing to show.
    let mut rows: Vec<(crate::finding::Severity, &Observation)> = observations
        .iter()
        .filter(|o| !o.value.is_nan())
        .map(|o| (o.rule.classify(o.value), o))
        .collect();
    rows.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then_with(|| a.1.check.cmp(b.1.check))
            .then_with(|| a.1.resource.cmp(&b.1.resource))
    });
    if json {
        let value = serde_json::json!({
            "observations": rows.iter().map(|(severity, o)| serde_json::json!({
                "check": o.check, "resource": o.resource, "severity": severity, "value": o.value,
                "summary": o.summary, "evidence": o.evidence,
            })).collect::<Vec<_>>(),
            "errors": errors,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    for (severity, observation) in &rows {
        println!(
            "{:<8} {:<28} {}",
            severity.as_str().to_uppercase(),
            observation.check,
            observation.summary
        );
    }
    for error in errors {
        println!("{:<8} {}", "ERROR", error);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_needs_no_quotes_and_its_flags_go_anywhere() {
        let cli = Cli::try_parse_from([
            "firstline-agent",
            "report",
            "the",
            "printer",
            "does",
            "not",
            "print",
            "--json",
        ])
        .expect("parses");
        match cli.command {
            Command::Report { text, json, .. } => {
                assert_eq!(text.join(" "), "the printer does not print");
                assert!(json);
            }
            other => panic!("expected report, got {other:?}"),
        }
        let quoted = Cli::try_parse_from(["firstline-agent", "report", "--json", "I can't print"])
            .expect("parses");
        assert!(
            matches!(quoted.command, Command::Report { text, .. } if text == ["I can't print"])
        );
        assert!(Cli::try_parse_from(["firstline-agent", "report"]).is_err());
    }

    #[test]
    fn a_report_is_printed_in_the_users_language_with_steps_only_when_verbose() {
        let mut outcome =
            report::ReportOutcome::refused(String::new(), firstline_i18n::msg!("report-note-busy"));
        outcome.note = None;
        outcome.note_said = None;
        outcome.queued = true;
        outcome.report_id = "42".to_owned();
        outcome.said = vec![firstline_i18n::msg!("said-disk-full", "place" => "/home")];
        outcome.advice = vec![firstline_i18n::msg!("advice-disk-save-elsewhere")];
        outcome.results = serde_json::json!([{
            "playbook": "disk", "target": null, "conclusion": "Likely cause: / is 97% full.",
            "steps": [{"layer": "space", "outcome": "fail", "detail": "Disk / is 97% full (errno 28)"}],
        }]);
        let greek = render_report(&outcome, firstline_i18n::Lang::El, false);
        assert!(
            greek.contains("Τι βρήκαμε:") && greek.contains("Τι να κάνετε τώρα:"),
            "{greek}"
        );
        assert!(
            greek.contains("/home") && greek.contains("OneDrive") && greek.contains("42"),
            "{greek}"
        );
        assert!(
            !greek.contains("errno") && !greek.contains("Likely cause"),
            "{greek}"
        );
        let verbose = render_report(&outcome, firstline_i18n::Lang::En, true);
        assert!(
            verbose.contains("errno 28") && verbose.contains("What to do now:"),
            "{verbose}"
        );
    }

    #[test]
    fn help_opens_the_browser_unless_told_not_to() {
        let cli = Cli::try_parse_from(["firstline-agent", "help"]).expect("parses");
        assert!(matches!(cli.command, Command::Help { no_open: false, .. }));
        let cli = Cli::try_parse_from(["firstline-agent", "help", "--no-open"]).expect("parses");
        assert!(matches!(cli.command, Command::Help { no_open: true, .. }));
    }
}
