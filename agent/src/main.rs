//! `firstline-agent`: parse flags, set up logging, call the library.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use firstline_agent::config::Settings;
use firstline_agent::enroll::{self, EnrollOptions};
use firstline_agent::identity::Identity;
use firstline_agent::uplink::{self, UplinkState};
use tokio::sync::watch;

#[derive(Debug, Parser)]
#[command(
    name = "firstline-agent",
    version,
    about = "Firstline agent: workstation health, streamed to the collector"
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
        /// The collector's CA certificate (its DATA_DIR/ca.pem) to trust.
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
    /// Run the agent in the foreground (what the service runs).
    Run {
        /// Config file (TOML); default /etc/firstline/agent.toml if it exists.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Where the identity is kept; overrides the config file.
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("firstline-agent: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
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
            let settings = Settings::load(config.as_deref())?;
            let state_dir = state_dir.unwrap_or(settings.state_dir);
            let mut identity = Identity::load(&state_dir)?;
            if let Some(url) = settings.collector_url {
                identity.enrollment.collector_url = url;
            }
            tracing::info!(
                device = %identity.device_id(),
                collector = %identity.enrollment.collector_url,
                version = firstline_agent::AGENT_VERSION,
                "agent starting"
            );
            let (stop, stop_watch) = watch::channel(false);
            let (state, _) = watch::channel(UplinkState::Starting);
            let uplink = tokio::spawn(uplink::run(identity, settings.uplink, stop_watch, state));
            shutdown_signal().await;
            tracing::info!("stopping");
            let _ = stop.send(true);
            let _ = uplink.await;
        }
    }
    Ok(())
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
