//! Developer tasks, run as `cargo xtask <task>`: `demo` (a collector and a local agent, real
//! processes, ready to look at), `bench`, `dist` (packages) and `windows` (the agent cross-built
//! and tested under Wine). Never a runtime dependency of the product.

mod bench;
mod bench_collector;
mod bench_history;
mod bench_prune;
mod bench_storm;
mod dist;
mod rust_version;
mod windows;
mod windows_smoke;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};

const USAGE: &str =
    "usage: cargo xtask demo [--check] [--grpc-port PORT] [--http-port PORT] [--fresh]

  demo   build, start a collector on embedded SQLite in target/demo, enrol and start a local
         agent, and print what to open. Ctrl-C stops both.
         --check       stop once the agent's inventory has arrived (for CI and smoke tests)
         --fresh       delete target/demo first (new CA, new database, new device)
         --grpc-port   gRPC port for agents (default 7443)
         --http-port   HTTP port for the API and /healthz (default 7080)

       cargo xtask bench [collector] [--agents N] [--secs S] [--backend sqlite|postgres]

  bench collector   N simulated agents (own certificates, own mTLS connections) against the
                    collector, the same server acking without storing, and raw inserts into
                    the same schema: findings/s, ack latency p50/p99, finding → ticket via
                    REST, collector memory per agent, and the ratios. Defaults: 1000 agents,
                    20 s windows, sqlite (postgres: FIRSTLINE_BENCH_POSTGRES_URL, else
                    FIRSTLINE_TEST_POSTGRES_URL, else the local server; databases named
                    firstline_bench_* are dropped and created there)

       cargo xtask bench history [--backend sqlite|postgres] [--scale small|medium|year] [--requests N]

  bench history   a year of history seeded straight into a fresh database (firstline-loadgen
                  seed: year = 5,000 devices, 5 million findings, 100,000 tickets of which
                  1,000 open; medium 2,000 / 1 million / 40,000; small 500 / 200,000 / 10,000,
                  the default), then the release collector serving it: p50/p99 of the queue,
                  ticket, device, stats and knowledge pages and the REST lists and details,
                  N requests each (default 50), database bytes per finding, load average

       cargo xtask bench storm [--agents N] [--spread S] [--backend sqlite|postgres]

  bench storm   the storm drill: N agents (default 10,000) healthy, then every resolver fails
                within S seconds (default 10) and later recovers the same way: time until
                every failure is decided, incidents per scope and device tickets opened, time
                until every ticket resolved

       cargo xtask bench prune [--agents N] [--rate F] [--findings N] [--backend sqlite|postgres]

  bench prune   does pruning slow ingest? N agents (default 1000) send single findings at F/s
                (default 2000) while the collector's first retention pass prunes a seeded day
                (--findings spread over 3 days, default 300,000, retention 2 days): ack p50/p99
                while the pass ran against the same run's acks before and after it

       cargo xtask bench agent [--secs N]

  bench agent   the agent's memory (PSS) and CPU at default intervals, side by side with
                node_exporter and zabbix_agentd when installed, over an N-second window
                (default 120)

       cargo xtask dist [--profile PROFILE] [--check]

  dist   release binaries, firstline-agent_VERSION_ARCH.deb and firstline-collector_VERSION_ARCH.deb
         (dpkg-deb) and SHA256SUMS in target/dist; the agent is built with the `agent`
         profile, the collector with `release`
         --profile     build both with this profile instead (`dev` is quick, for tests and CI)
         --check       then install each package into a fresh root with dpkg, run its binary,
                       remove and purge it

       cargo xtask windows [check|test|dist]

  windows  the agent for x86_64-pc-windows-gnu: installs what it needs (MinGW, Wine, wixl and
           msitools from apt, Debian's rust-src matching rustc through a private apt
           configuration, into target/windows-toolchain), then
           check   builds firstline-agent.exe and runs clippy for Windows with -D warnings
           test    runs the agent's unit tests under Wine (prefix target/windows-wine, no Z:
                   drive), a smoke run of firstline-agent.exe check --json, one enrolled
                   against a Linux collector on loopback whose checks and a WER crash report
                   must become tickets (with the agent's footprint under Wine beside Linux's),
                   and installs and uninstalls the MSI (of the dev-profile exe) with Wine's msiexec
           dist    builds firstline-agent.exe in the agent profile and the MSI
                   target/dist/firstline-agent-VERSION-x64.msi (wixl), with its .sha256 beside
                   it and its line in target/dist/SHA256SUMS";

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match arguments.first().map(String::as_str) {
        Some("demo") => Demo::parse(&arguments[1..]).and_then(|demo| demo.run()),
        Some("dist") => dist::Dist::parse(&arguments[1..]).and_then(|dist| dist.run()),
        Some("windows") => {
            windows::Windows::parse(&arguments[1..]).and_then(|windows| windows.run())
        }
        Some("bench") if arguments.get(1).map(String::as_str) == Some("agent") => {
            bench::AgentBench::parse(&arguments[2..]).and_then(|bench| bench.run())
        }
        Some("bench") if arguments.get(1).map(String::as_str) == Some("history") => {
            bench_history::HistoryBench::parse(&arguments[2..]).and_then(|bench| bench.run())
        }
        Some("bench") if arguments.get(1).map(String::as_str) == Some("prune") => {
            bench_prune::PruneBench::parse(&arguments[2..]).and_then(|bench| bench.run())
        }
        Some("bench") if arguments.get(1).map(String::as_str) == Some("storm") => {
            bench_storm::StormBench::parse(&arguments[2..]).and_then(|bench| bench.run())
        }
        Some("bench") if arguments.get(1).map(String::as_str) == Some("collector") => {
            bench_collector::CollectorBench::parse(&arguments[2..]).and_then(|bench| bench.run())
        }
        Some("bench") => {
            bench_collector::CollectorBench::parse(&arguments[1..]).and_then(|bench| bench.run())
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: {error:#}");
            ExitCode::FAILURE
        }
    }
}

pub(crate) fn workspace_root() -> PathBuf {
    // xtask lives one level below the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from("."))
}

struct Demo {
    check: bool,
    fresh: bool,
    grpc_port: u16,
    http_port: u16,
}

/// Child processes are stopped when this is dropped, whatever way the demo ends.
pub(crate) struct Children(pub(crate) Vec<(&'static str, Child)>);

impl Drop for Children {
    fn drop(&mut self) {
        for (_, child) in self.0.iter_mut().rev() {
            stop_child(child);
        }
    }
}

pub(crate) fn stop_child(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    // SIGTERM first so both processes shut down the way a service manager stops them.
    #[cfg(unix)]
    {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The lock file a running demo holds in its state dir.
const DEMO_LOCK: &str = "demo.lock";

/// Takes the demo dir's lock, or says which demo holds it.
fn lock_demo_dir(demo_dir: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::create_dir_all(demo_dir)
        .with_context(|| format!("creating {}", demo_dir.display()))?;
    let path = demo_dir.join(DEMO_LOCK);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {
            file.set_len(0)?;
            writeln!(file, "{}", std::process::id())?;
            Ok(file)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            bail!(
                "another demo is running from {} (process {}, holding {}): use that one, or stop it \
                 (Ctrl-C in its terminal) before starting a new one",
                demo_dir.display(),
                holder.trim(),
                path.display()
            )
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
}

/// The demo keeps every packet on this machine: the network check's gateway ping and the
/// system's resolvers (checks and playbooks) are off; the collector is on loopback.
const DEMO_LOCAL_ONLY: &str = "\
# DEMO: these keep the demo's packets on this machine. A real workstation wants them on:
# delete these lines (the defaults ping the default gateway and ask the system's resolvers).
[checks.network]
ping_gateway = false   # DEMO

[checks.dns]
system_resolver = false   # DEMO
";

impl Demo {
    fn parse(arguments: &[String]) -> anyhow::Result<Self> {
        let mut demo = Demo {
            check: false,
            fresh: false,
            grpc_port: 7443,
            http_port: 7080,
        };
        let mut arguments = arguments.iter();
        while let Some(argument) = arguments.next() {
            let mut port = |name: &str| -> anyhow::Result<u16> {
                let value = arguments
                    .next()
                    .with_context(|| format!("{name} needs a value"))?;
                value
                    .parse()
                    .with_context(|| format!("{name} {value:?} is not a port number"))
            };
            match argument.as_str() {
                "--check" => demo.check = true,
                "--fresh" => demo.fresh = true,
                "--grpc-port" => demo.grpc_port = port("--grpc-port")?,
                "--http-port" => demo.http_port = port("--http-port")?,
                other => bail!("unknown argument {other:?}\n{USAGE}"),
            }
        }
        Ok(demo)
    }

    fn run(&self) -> anyhow::Result<()> {
        let root = workspace_root();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        // Cargo's own progress shows: a first build takes many minutes on two cores.
        eprintln!(
            "building firstline-collector and firstline-agent (the first build takes a while) …"
        );
        let status = Command::new(&cargo)
            .current_dir(&root)
            .args([
                "build",
                "-p",
                "firstline-collector",
                "-p",
                "firstline-agent",
            ])
            .status()
            .context("running cargo build")?;
        if !status.success() {
            bail!("cargo build failed");
        }
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        let collector_bin = target.join("debug").join(exe("firstline-collector"));
        let agent_bin = target.join("debug").join(exe("firstline-agent"));
        let demo_dir = target.join("demo");
        // Held until this process ends (however it ends): a second demo would take over this
        // one's database, rewrite its agent's config and run a second agent on its state dir.
        let _lock = lock_demo_dir(&demo_dir)?;
        if self.fresh {
            for entry in std::fs::read_dir(&demo_dir)
                .with_context(|| format!("reading {}", demo_dir.display()))?
            {
                let path = entry?.path();
                if path.file_name() == Some(std::ffi::OsStr::new(DEMO_LOCK)) {
                    continue;
                }
                let removed = if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
                removed.with_context(|| format!("removing {}", path.display()))?;
            }
        }
        let data_dir = demo_dir.join("collector");
        let state_dir = demo_dir.join("agent");
        std::fs::create_dir_all(&demo_dir)
            .with_context(|| format!("creating {}", demo_dir.display()))?;

        let grpc = format!("127.0.0.1:{}", self.grpc_port);
        let http = format!("127.0.0.1:{}", self.http_port);
        let mut children = Children(Vec::new());
        let collector_log = demo_dir.join("collector.log");
        start_collector(
            &collector_bin,
            &data_dir,
            &grpc,
            &http,
            &collector_log,
            &mut children,
        )?;

        let suffix = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let api_key = capture(
            Command::new(&collector_bin)
                .args([
                    "apikey",
                    "create",
                    &format!("demo-{suffix}"),
                    "--role",
                    "admin",
                    "--data-dir",
                ])
                .arg(&data_dir),
        )?;
        // A person to sign in to the web UI as; the password comes from the key's randomness.
        let user = format!("demo-{suffix}");
        let password = api_key
            .trim_start_matches("flk_")
            .chars()
            .take(20)
            .collect::<String>();
        {
            use std::io::Write;
            let mut add = Command::new(&collector_bin)
                .args(["user", "add", &user, "--role", "admin", "--data-dir"])
                .arg(&data_dir)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .context("running firstline-collector user add")?;
            if let Some(mut stdin) = add.stdin.take() {
                writeln!(stdin, "{password}").context("passing the demo password")?;
            }
            let added = add.wait_with_output().context("waiting for user add")?;
            if !added.status.success() {
                bail!(
                    "firstline-collector user add failed: {}",
                    String::from_utf8_lossy(&added.stderr)
                );
            }
        }
        // Enrolled with this very collector (same CA)? Otherwise (first run, or the collector's
        // data was wiped) enroll afresh.
        let pinned_ca = std::fs::read_to_string(state_dir.join("ca.pem")).ok();
        let collector_ca = std::fs::read_to_string(data_dir.join("ca.pem")).ok();
        let enrolled = state_dir.join("enrollment.toml").exists()
            && pinned_ca.is_some()
            && pinned_ca == collector_ca;
        if !enrolled {
            let token = capture(
                Command::new(&collector_bin)
                    .args(["token", "create", "--ttl", "10m", "--data-dir"])
                    .arg(&data_dir),
            )?;
            let output = capture(
                Command::new(&agent_bin)
                    .args([
                        "enroll",
                        "--collector",
                        &format!("https://{grpc}"),
                        "--token",
                        &token,
                    ])
                    // No --ca-file: the token's CA pin is enough, as for a real rollout.
                    .arg("--state-dir")
                    .arg(&state_dir)
                    .arg("--force"),
            )?;
            eprintln!("{output}");
        }
        let agent_log = demo_dir.join("agent.log");
        // The shipped defaults, plus a folder to drop pretend crash reports into, minus what
        // would send packets beyond this machine (DEMO_LOCAL_ONLY).
        let crashes = demo_dir.join("crashes");
        std::fs::create_dir_all(&crashes)
            .with_context(|| format!("creating {}", crashes.display()))?;
        let agent_config = demo_dir.join("agent.toml");
        std::fs::write(
            &agent_config,
            format!(
                "# Demo agent config: the defaults, plus a watched folder. Edit me while the demo runs.\n\
                 collector_url = \"https://{grpc}\"\n\n{DEMO_LOCAL_ONLY}\n\
                 # DEMO: a user's report may test the demo's own web page (and the usual web ports).\n\
                 [playbooks]\nreport_ports = [80, 443, {}]\n\n\
                 [[checks.watch]]\nname = \"demo-crashes\"\npath = \"{}\"\npattern = \"*.crash\"\n",
                self.http_port,
                crashes.display()
            ),
        )
        .with_context(|| format!("writing {}", agent_config.display()))?;
        let agent = Command::new(&agent_bin)
            .args(["run", "--config"])
            .arg(&agent_config)
            .arg("--state-dir")
            .arg(&state_dir)
            .stdin(Stdio::null())
            .stdout(log_file(&agent_log)?)
            .stderr(log_file(&agent_log)?)
            .spawn()
            .with_context(|| format!("starting {}", agent_bin.display()))?;
        children.0.push(("agent", agent));

        let mut hostname = String::new();
        wait_until(Duration::from_secs(30), &mut children, &agent_log, || {
            let Ok((200, body)) = http_get(&http, "/api/v1/devices", Some(&api_key)) else {
                return false;
            };
            let Ok(page) = serde_json::from_str::<serde_json::Value>(&body) else {
                return false;
            };
            // The demo has one agent: the first page holds it.
            let Some(devices) = page["devices"].as_array() else {
                return false;
            };
            let connected = devices.iter().find(|device| {
                device["connected"] == serde_json::Value::Bool(true)
                    && !device["inventory"].is_null()
            });
            if let Some(device) = connected {
                hostname = device["hostname"].as_str().unwrap_or_default().to_owned();
            }
            connected.is_some()
        })
        .context("waiting for the agent's inventory to reach the collector")?;

        println!();
        println!(
            "Firstline demo is running (state in {}).",
            demo_dir.display()
        );
        println!("  Agent on this machine ({hostname}) is enrolled and connected over mutual TLS.");
        println!();
        println!("  Open:     http://{http}/");
        println!("  Login:    {user} / {password}  (web UI, admin)");
        println!("  API:      key (admin) {api_key}, sent as a bearer token:");
        println!(
            "            curl -H 'Authorization: Bearer {api_key}' 'http://{http}/api/v1/tickets?state=open'"
        );
        println!("            (also /api/v1/devices, /api/v1/tickets/<id>)");
        println!("  Health:   http://{http}/healthz (no login)");
        println!(
            "  Agents:   https://{grpc} (CA: {})",
            data_dir.join("ca.pem").display()
        );
        println!(
            "  Logs:     {} and {}",
            collector_log.display(),
            agent_log.display()
        );
        println!();
        println!(
            "  Try it:   touch {}/outlook.exe.1234.crash",
            crashes.display()
        );
        println!(
            "            then the queue at http://{http}/ shows a ticket for outlook.exe with the crash"
        );
        println!(
            "            as evidence; it resolves itself once the watch window passes without another."
        );
        println!(
            "            {} report \"I can't open http://localhost:{}/\" --config {} --state-dir {}",
            agent_bin.display(),
            self.http_port,
            agent_config.display(),
            state_dir.display()
        );
        println!("            runs the diagnosis a user's words ask for and files it as a ticket.");
        println!(
            "            {} help --config {} --state-dir {}",
            agent_bin.display(),
            agent_config.display(),
            state_dir.display()
        );
        println!(
            "            is the desktop menu's \"Get IT help\": it opens your own help page (a link that"
        );
        println!(
            "            works once, for five minutes), where you can describe a problem and see the answer."
        );
        println!(
            "  Off here: pinging the default gateway and asking the system's DNS resolvers, so the"
        );
        println!(
            "            demo sends nothing beyond this machine. On a real workstation delete the"
        );
        println!(
            "            [checks.network] and [checks.dns] lines marked DEMO in {}.",
            agent_config.display()
        );
        println!(
            "            The agent's config is {}; edits apply while it runs.",
            agent_config.display()
        );
        println!();
        if self.check {
            // The whole path once: a crash file → finding → condition → ticket over REST.
            let crash = crashes.join(format!("demo-check.{}.crash", std::process::id()));
            std::fs::write(&crash, b"ProblemType: Crash\nPackage: demo-check 1.0\n")
                .with_context(|| format!("writing {}", crash.display()))?;
            wait_until(Duration::from_secs(30), &mut children, &agent_log, || {
                let Ok((200, body)) = http_get(&http, "/api/v1/tickets?state=open", Some(&api_key))
                else {
                    return false;
                };
                body.contains("demo-check")
            })
            .context("waiting for a crash file to open a ticket")?;
            let _ = std::fs::remove_file(&crash);
            // The report the banner suggests works as printed, and files a ticket.
            let reported = capture(
                Command::new(&agent_bin)
                    .arg("report")
                    .arg(format!("I can't open http://localhost:{}/", self.http_port))
                    .arg("--json")
                    .arg("--config")
                    .arg(&agent_config)
                    .arg("--state-dir")
                    .arg(&state_dir),
            )?;
            let outcome: serde_json::Value = serde_json::from_str(&reported)
                .with_context(|| format!("the report printed no JSON: {reported}"))?;
            if outcome["queued"] != serde_json::Value::Bool(true)
                || outcome["results"][0]["failed_layer"] != serde_json::Value::Null
            {
                bail!("the suggested report did not pass and reach the support desk: {outcome:#}");
            }
            wait_until(Duration::from_secs(30), &mut children, &agent_log, || {
                let Ok((200, body)) = http_get(
                    &http,
                    "/api/v1/tickets?state=open&kind=report",
                    Some(&api_key),
                ) else {
                    return false;
                };
                body.contains("localhost")
            })
            .context("waiting for the suggested report to open a ticket")?;
            // "Get IT help" as printed gives a link that opens once.
            let printed = capture(
                Command::new(&agent_bin)
                    .arg("help")
                    .arg("--no-open")
                    .arg("--config")
                    .arg(&agent_config)
                    .arg("--state-dir")
                    .arg(&state_dir)
                    .env("LANG", "C.UTF-8"),
            )?;
            let prefix = format!("http://{http}/help/link/");
            let link = printed
                .split_whitespace()
                .find(|word| word.starts_with(&prefix))
                .with_context(|| format!("'help' printed no help link: {printed}"))?;
            let path = &link[format!("http://{http}").len()..];
            let opened = http_get(&http, path, None).map(|(status, _)| status);
            let again = http_get(&http, path, None).map(|(status, _)| status);
            if !matches!((&opened, &again), (Ok(303), Ok(410))) {
                bail!(
                    "the help link should open once (303) and then be refused (410): {opened:?}, {again:?}"
                );
            }
            // And a person can sign in to the web UI with the login printed above.
            let login = serde_json::json!({ "name": user, "password": password }).to_string();
            match http_post_json(&http, "/login", &login) {
                Ok((200, response))
                    if response
                        .to_ascii_lowercase()
                        .contains("set-cookie: firstline_session=") => {}
                Ok((status, response)) => {
                    bail!("signing in to the web UI failed ({status}): {response}")
                }
                Err(e) => bail!("signing in to the web UI: {e}"),
            }
            println!(
                "demo check passed (a crash file and the suggested report opened tickets; the help link opens once; the printed login signs in); stopping."
            );
            return Ok(());
        }
        println!("Press Ctrl-C to stop.");
        loop {
            std::thread::sleep(Duration::from_secs(1));
            for (name, child) in &mut children.0 {
                if let Ok(Some(status)) = child.try_wait() {
                    let log = if *name == "collector" {
                        &collector_log
                    } else {
                        &agent_log
                    };
                    bail!(
                        "the {name} exited ({status}); last lines of {}:\n{}",
                        log.display(),
                        tail(log)
                    );
                }
            }
        }
    }
}

fn exe(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}

/// `firstline-collector serve` on `data_dir` and the given loopback addresses, logging to
/// `log`, held in `children`; returns once its `/healthz` answers 200 (or says why not).
pub(crate) fn start_collector(
    collector_bin: &Path,
    data_dir: &Path,
    grpc: &str,
    http: &str,
    log: &Path,
    children: &mut Children,
) -> anyhow::Result<()> {
    let collector = Command::new(collector_bin)
        .args(["serve", "--data-dir"])
        .arg(data_dir)
        .args(["--grpc", grpc, "--http", http])
        .stdin(Stdio::null())
        .stdout(log_file(log)?)
        .stderr(log_file(log)?)
        .spawn()
        .with_context(|| format!("starting {}", collector_bin.display()))?;
    children.0.push(("collector", collector));
    wait_until(Duration::from_secs(30), children, log, || {
        http_get(http, "/healthz", None).is_ok_and(|(status, _)| status == 200)
    })
    .context("waiting for the collector's /healthz")
}

pub(crate) fn log_file(path: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening log {}", path.display()))
}

/// Runs a command and returns its trimmed stdout, or fails with its stderr.
pub(crate) fn capture(command: &mut Command) -> anyhow::Result<String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Polls `ready` every 200 ms; fails if a child dies or the deadline passes.
pub(crate) fn wait_until(
    deadline: Duration,
    children: &mut Children,
    log: &Path,
    mut ready: impl FnMut() -> bool,
) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        if ready() {
            return Ok(());
        }
        for (name, child) in &mut children.0 {
            if let Ok(Some(status)) = child.try_wait() {
                bail!(
                    "the {name} exited ({status}); last lines of {}:\n{}",
                    log.display(),
                    tail(log)
                );
            }
        }
        if started.elapsed() > deadline {
            bail!(
                "not ready after {deadline:?}; last lines of {}:\n{}",
                log.display(),
                tail(log)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub(crate) fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// A minimal HTTP/1.1 GET over loopback, so xtask needs no HTTP client dependency.
/// POSTs a JSON body; returns the status and the response head and body.
fn http_post_json(address: &str, path: &str, json: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other("no HTTP status line"))?;
    Ok((status, response))
}

pub(crate) fn http_get(
    address: &str,
    path: &str,
    bearer: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let authorization = bearer
        .map(|key| format!("Authorization: Bearer {key}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\n{authorization}Connection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other("no HTTP status line"))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A second demo once took over a running one's database and rewrote its agent's config.
    #[test]
    fn a_second_demo_is_refused_while_the_first_holds_its_dir() {
        let dir = std::env::temp_dir().join(format!("firstline-demo-lock-{}", std::process::id()));
        let first = lock_demo_dir(&dir).expect("the first demo takes the lock");
        let second = lock_demo_dir(&dir).expect_err("a second demo is refused");
        let message = second.to_string();
        assert!(message.contains("another demo is running"), "{message}");
        assert!(
            message.contains(&std::process::id().to_string()),
            "{message}"
        );
        drop(first);
        let again = lock_demo_dir(&dir).expect("free again once the first ends");
        drop(again);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
