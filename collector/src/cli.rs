//! The `firstline-collector` command line: flags, logging, and a call into the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::Settings;
use crate::model::Role;
use crate::{enrollment, http, server};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "firstline-collector",
    version,
    about = "Firstline collector: enrollment, ingest, tickets, web UI"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the state lives; shared by every subcommand.
#[derive(Debug, clap::Args)]
struct Location {
    /// Config file (TOML); default /etc/firstline/collector.toml if it exists.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory (database, CA); overrides the config file.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

impl Location {
    fn settings(&self) -> anyhow::Result<Settings> {
        let mut settings = Settings::load(self.config.as_deref())?;
        if let Some(data_dir) = &self.data_dir {
            settings.data_dir.clone_from(data_dir);
        }
        Ok(settings)
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the collector: gRPC for agents, HTTP for people.
    Serve {
        #[command(flatten)]
        location: Location,
        /// Address for agents (gRPC over TLS), e.g. 0.0.0.0:7443.
        #[arg(long, value_name = "ADDR")]
        grpc: Option<SocketAddr>,
        /// Address for the web UI, REST API, /healthz, e.g. 127.0.0.1:7080.
        #[arg(long, value_name = "ADDR")]
        http: Option<SocketAddr>,
    },
    /// Enrollment tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// API keys for scripts.
    Apikey {
        #[command(subcommand)]
        command: ApikeyCommand,
    },
    /// Staff who sign in to the web UI and API.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Devices.
    Device {
        #[command(subcommand)]
        command: DeviceCommand,
    },
    /// The contact directory: who an OS account is (name, e-mail, language).
    People {
        #[command(subcommand)]
        command: PeopleCommand,
    },
}

#[derive(Debug, Subcommand)]
enum PeopleCommand {
    /// Add or replace entries from a CSV file with a header row: account, display_name, email,
    /// language (en, zh, pl or el). Every row is checked first; one bad row imports nothing.
    Import {
        /// The CSV file (UTF-8).
        file: std::path::PathBuf,
        #[command(flatten)]
        location: Location,
    },
    /// List the directory as CSV (the format `import` reads).
    List {
        #[command(flatten)]
        location: Location,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user; the password is read from stdin (typed without echo on a terminal).
    Add {
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[command(flatten)]
        location: Location,
    },
    /// List users, with whether they are disabled.
    List {
        #[command(flatten)]
        location: Location,
    },
    /// Disable a user: their sessions end at once and they cannot sign in.
    Disable {
        name: String,
        #[command(flatten)]
        location: Location,
    },
    /// Enable a disabled user again.
    Enable {
        name: String,
        #[command(flatten)]
        location: Location,
    },
    /// Set a user's password (read from stdin, like `add`); every session of theirs ends.
    Password {
        name: String,
        #[command(flatten)]
        location: Location,
    },
}

#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// Mark a device as a VIP's (its tickets get higher impact), or unmark it with --off.
    Vip {
        /// The device id (see /api/v1/devices).
        device_id: String,
        #[arg(long)]
        off: bool,
        #[command(flatten)]
        location: Location,
    },
}

/// `--ttl`: a duration, longer than zero and at most a year.
fn token_ttl(text: &str) -> Result<Duration, String> {
    let ttl = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if ttl.is_zero() || ttl > enrollment::MAX_TOKEN_TTL {
        return Err(
            "a token must stay valid longer than zero and at most 365 days (a longer rollout mints new tokens)"
                .to_owned(),
        );
    }
    Ok(ttl)
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Print one one-time enrollment token on stdout.
    Create {
        #[command(flatten)]
        location: Location,
        /// How long the token stays valid, e.g. 30m, 24h, 7d (default from the config: 24h).
        #[arg(long, value_name = "DURATION", value_parser = token_ttl)]
        ttl: Option<Duration>,
        /// How many tokens to print, one per line (for rolling out many machines at once).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        count: u32,
    },
    /// List the enrollment tokens not used yet, by id.
    List {
        #[command(flatten)]
        location: Location,
    },
    /// Revoke unused enrollment tokens: the one whose id starts with ID_PREFIX, or all.
    Revoke {
        /// The start of a token's id (see `token list`; `token create` prints it too).
        #[arg(value_name = "ID_PREFIX", required_unless_present = "all_unused")]
        id_prefix: Option<String>,
        /// Every token not used yet.
        #[arg(long, conflicts_with = "id_prefix")]
        all_unused: bool,
        #[command(flatten)]
        location: Location,
    },
}

#[derive(Debug, Subcommand)]
enum ApikeyCommand {
    /// Print a new API key on stdout (it is stored hashed and cannot be shown again).
    Create {
        /// A unique name saying who or what uses the key.
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[command(flatten)]
        location: Location,
    },
    /// Revoke the API key named NAME: it is refused from the next request on.
    Revoke {
        name: String,
        #[command(flatten)]
        location: Location,
    },
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text)
        .ok_or_else(|| format!("{text:?} is not a role (technician, supervisor or admin)"))
}

/// Entry point shared by the `firstline-collector` binary and the end-to-end tests' copy.
pub fn main() -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("firstline-collector: starting the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(async_main())
}

async fn async_main() -> std::process::ExitCode {
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
            eprintln!("firstline-collector: {}", describe(&error));
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            location,
            grpc,
            http,
        } => {
            let mut settings = location.settings()?;
            if let Some(grpc) = grpc {
                settings.grpc_listen = grpc;
            }
            if let Some(http) = http {
                settings.http_listen = http;
            }
            let collector = server::start(&settings).await?;
            collector.run_until(shutdown_signal()).await?;
        }
        Command::Token {
            command:
                TokenCommand::Create {
                    location,
                    ttl,
                    count,
                },
        } => {
            let settings = location.settings()?;
            // The CA is made here if `serve` has not run yet: the token carries its pin.
            let (store, authority) = server::open_data_dir(&settings).await?;
            for index in 0..count {
                let issued = enrollment::create_token(
                    &store,
                    authority.ca_pem(),
                    ttl.unwrap_or(settings.token_ttl),
                )
                .await?;
                if index == 0 {
                    let tokens = if count == 1 {
                        format!("one-time enrollment token (id {})", issued.id)
                    } else {
                        format!("{count} one-time enrollment tokens")
                    };
                    eprintln!(
                        "{tokens}, valid until {}:",
                        humantime::format_rfc3339_seconds(issued.expires_at)
                    );
                }
                println!("{}", issued.token);
            }
        }
        Command::Token {
            command: TokenCommand::List { location },
        } => {
            let settings = location.settings()?;
            let store = server::open_store(&settings).await?;
            let now = crate::model::now_ms();
            let tokens = store.unused_tokens().await?;
            eprintln!("{} unused enrollment tokens", tokens.len());
            for token in tokens {
                let state = if token.expires_at_ms <= now {
                    "expired"
                } else {
                    "valid"
                };
                println!(
                    "{}  {state}  created {}  expires {}",
                    token.id,
                    rfc3339(token.created_at_ms),
                    rfc3339(token.expires_at_ms)
                );
            }
        }
        Command::Token {
            command:
                TokenCommand::Revoke {
                    id_prefix,
                    all_unused,
                    location,
                },
        } => {
            let settings = location.settings()?;
            let store = server::open_store(&settings).await?;
            let selection = match (&id_prefix, all_unused) {
                (_, true) => enrollment::TokenSelection::AllUnused,
                (Some(prefix), false) => enrollment::TokenSelection::IdPrefix(prefix),
                (None, false) => anyhow::bail!("name a token id prefix or pass --all-unused"),
            };
            let revoked = enrollment::revoke_tokens(&store, selection).await?;
            tracing::warn!(tokens = ?revoked, by = %cli_actor(), "enrollment tokens revoked");
            eprintln!("{} unused enrollment tokens revoked", revoked.len());
            for id in revoked {
                println!("{id}");
            }
        }
        Command::Apikey {
            command: ApikeyCommand::Revoke { name, location },
        } => {
            let settings = location.settings()?;
            let store = server::open_store(&settings).await?;
            if !store.revoke_api_key(&name, crate::model::now_ms()).await? {
                anyhow::bail!("no live API key named {name:?} (already revoked, or never made)");
            }
            tracing::warn!(api_key = %name, by = %cli_actor(), "API key revoked");
            eprintln!("API key {name:?} revoked; it is refused from now on");
        }
        Command::User {
            command: UserCommand::List { location },
        } => {
            let settings = location.settings()?;
            let store = server::open_store(&settings).await?;
            for user in store.users().await? {
                let state = if user.disabled_at_ms.is_some() {
                    "disabled"
                } else {
                    "enabled"
                };
                println!("{}  {}  {state}", user.name, user.role.as_str());
            }
        }
        Command::User {
            command: UserCommand::Disable { name, location },
        } => {
            let settings = location.settings()?;
            let store = server::open_store(&settings).await?;
            if !store
                .set_user_disabled(&name, true, crate::model::now_ms())
                .await?
            {
                anyhow::bail!("no user named {name:?}");
            }
            tracing::warn!(user = %name, by = %cli_actor(), "user disabled; their sessions ended");
            eprintln!("user {name:?} disabled; their sessions have ended");
        }
        Command::User {
            command: UserCommand::Enable { name, location },
        } => {
            let settings = location.settings()?;
            let store = server::open_store(&settings).await?;
            if !store
                .set_user_disabled(&name, false, crate::model::now_ms())
                .await?
            {
                anyhow::bail!("no user named {name:?}");
            }
            tracing::warn!(user = %name, by = %cli_actor(), "user enabled");
            eprintln!("user {name:?} enabled; they can sign in again");
        }
        Command::User {
            command: UserCommand::Password { name, location },
        } => {
            let settings = location.settings()?;
            let store = server::open_store(&settings).await?;
            if store.user_exists(&name).await? {
                let password = read_password(&name)?;
                let hash =
                    tokio::task::spawn_blocking(move || crate::auth::hash_password(&password))
                        .await??;
                if store.set_user_password(&name, &hash, None).await? {
                    tracing::warn!(user = %name, by = %cli_actor(), "password reset; the user's sessions ended");
                    eprintln!("password of {name:?} set; their sessions have ended");
                    return Ok(());
                }
            }
            anyhow::bail!("no user named {name:?}");
        }
        Command::Apikey {
            command:
                ApikeyCommand::Create {
                    name,
                    role,
                    location,
                },
        } => {
            let settings = location.settings()?;
            let store = server::open_store(&settings).await?;
            let key = http::create_api_key(&store, &name, role).await?;
            eprintln!(
                "API key {name:?} ({}); send it as `Authorization: Bearer <key>`:",
                role.as_str()
            );
            println!("{key}");
        }
        Command::User {
            command:
                UserCommand::Add {
                    name,
                    role,
                    location,
                },
        } => {
            if name.is_empty()
                || name.len() > 64
                || !name
                    .chars()
                    .all(|c| c.is_alphanumeric() || "._-@".contains(c))
            {
                anyhow::bail!(
                    "user name {name:?} must be 1-64 letters, digits, '.', '_', '-' or '@'"
                );
            }
            let settings = location.settings()?;
            let store = server::open_store(&settings).await?;
            let password = read_password(&name)?;
            let hash = tokio::task::spawn_blocking(move || crate::auth::hash_password(&password))
                .await??;
            store
                .insert_user(&name, role, &hash, crate::model::now_ms())
                .await?;
            eprintln!(
                "user {name:?} added ({}); they sign in at /login",
                role.as_str()
            );
        }
        Command::Device {
            command:
                DeviceCommand::Vip {
                    device_id,
                    off,
                    location,
                },
        } => {
            let settings = location.settings()?;
            let store = server::open_store(&settings).await?;
            if !store.set_device_vip(&device_id, !off).await? {
                anyhow::bail!("no device with id {device_id:?} is enrolled at this collector");
            }
            eprintln!(
                "device {device_id} is {}a VIP's device; new tickets use the new impact",
                if off { "no longer " } else { "" }
            );
        }
        Command::People {
            command: PeopleCommand::Import { file, location },
        } => {
            let bytes = std::fs::read(&file)
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", file.display()))?;
            let people = match crate::directory::read_csv(&file.display().to_string(), &bytes) {
                Ok(people) => people,
                Err(problems) => {
                    for problem in &problems {
                        eprintln!("{problem}");
                    }
                    anyhow::bail!(
                        "{} problem(s) in {}; nothing was imported",
                        problems.len(),
                        file.display()
                    );
                }
            };
            let settings = location.settings()?;
            let store = server::open_store(&settings).await?;
            let added = store
                .upsert_people(&people, &cli_actor(), crate::model::now_ms())
                .await?;
            tracing::info!(file = %file.display(), people = people.len(), added, by = %cli_actor(), "directory imported");
            eprintln!(
                "{} people imported from {} ({added} new, {} updated)",
                people.len(),
                file.display(),
                people.len() as u64 - added
            );
        }
        Command::People {
            command: PeopleCommand::List { location },
        } => {
            let settings = location.settings()?;
            let store = server::open_store(&settings).await?;
            let mut writer = csv::Writer::from_writer(std::io::stdout());
            writer.write_record(["account", "display_name", "email", "language"])?;
            for person in store.people(usize::MAX).await? {
                writer.write_record([
                    person.account.as_str(),
                    person.display_name.as_str(),
                    person.email.as_deref().unwrap_or_default(),
                    person.language.as_deref().unwrap_or_default(),
                ])?;
            }
            writer.flush()?;
        }
    }
    Ok(())
}

/// Who ran a command, for the log: the operating-system account.
fn cli_actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".to_owned());
    format!("command line ({user})")
}

pub fn rfc3339(ms: i64) -> String {
    let time = std::time::UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_seconds(time).to_string()
}

/// A password from stdin: typed without echo on a terminal, or piped by a script.
fn read_password(name: &str) -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal};
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    if interactive {
        eprint!(
            "Password for {name} (at least {} characters): ",
            crate::auth::MIN_PASSWORD_CHARS
        );
    }
    let echo = interactive.then(EchoOff::new).flatten();
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    drop(echo);
    if interactive {
        eprintln!();
    }
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.chars().count() < crate::auth::MIN_PASSWORD_CHARS {
        anyhow::bail!(
            "the password must be at least {} characters",
            crate::auth::MIN_PASSWORD_CHARS
        );
    }
    Ok(password)
}

/// Turns terminal echo off until dropped.
struct EchoOff {
    #[cfg(unix)]
    saved: rustix::termios::Termios,
}

impl EchoOff {
    #[cfg(unix)]
    fn new() -> Option<Self> {
        let stdin = std::io::stdin();
        let saved = rustix::termios::tcgetattr(&stdin).ok()?;
        let mut quiet = saved.clone();
        quiet.local_modes.remove(rustix::termios::LocalModes::ECHO);
        rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &quiet).ok()?;
        Some(Self { saved })
    }

    #[cfg(not(unix))]
    fn new() -> Option<Self> {
        None
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            let _ = rustix::termios::tcsetattr(
                std::io::stdin(),
                rustix::termios::OptionalActions::Now,
                &self.saved,
            );
        }
    }
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

/// An error and its causes, each said once: our messages already quote their cause, so the
/// chain is only extended by causes not yet in the text.
fn describe(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&cause);
        }
    }
    text
}
