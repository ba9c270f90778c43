//! `cargo xtask bench [collector]`: the collector under a simulated fleet. N agents, each
//! enrolled with its own certificate and on its own mTLS connection (`firstline-loadgen`),
//! against (1) the real collector, (2) the same server acking without storing (the transport's
//! limit) and (3) raw inserts into the same schema (the database's limit), in one run, on
//! SQLite or PostgreSQL. Prints findings/s, ack latency, finding → ticket over REST, collector
//! memory per agent, and the ratios. On PostgreSQL it also runs two collectors on one database
//! (half the agents each) and reports the ratio to one.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, bail};
use serde_json::Value;

pub struct CollectorBench {
    agents: usize,
    secs: u64,
    postgres: Option<String>,
}

/// Stops a child process (SIGTERM, then kill) when dropped.
pub(crate) struct Running(pub(crate) Child);

impl Drop for Running {
    fn drop(&mut self) {
        crate::stop_child(&mut self.0);
    }
}

impl CollectorBench {
    pub fn parse(arguments: &[String]) -> anyhow::Result<Self> {
        let mut bench = CollectorBench {
            agents: 1000,
            secs: 20,
            postgres: None,
        };
        let mut arguments = arguments.iter();
        while let Some(argument) = arguments.next() {
            let mut value = || {
                arguments
                    .next()
                    .with_context(|| format!("{argument} needs a value"))
            };
            match argument.as_str() {
                "--agents" => {
                    let value = value()?;
                    bench.agents = value
                        .parse()
                        .with_context(|| format!("--agents {value:?}"))?;
                    if bench.agents < 2 {
                        bail!("--agents must be at least 2");
                    }
                }
                "--secs" => {
                    let value = value()?;
                    bench.secs = value.parse().with_context(|| format!("--secs {value:?}"))?;
                }
                "--backend" => bench.postgres = backend_flag(value()?)?,
                other => bail!("unknown argument {other:?}"),
            }
        }
        Ok(bench)
    }

    pub fn run(&self) -> anyhow::Result<()> {
        let binaries = build_release()?;
        let target = target_dir();
        let backend = backend_name(&self.postgres);
        let work = target.join("bench-collector").join(backend);
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work)?;

        eprintln!("raw inserts into the collector's schema ({backend}) …");
        let raw = {
            let mut command = Command::new(&binaries.loadgen);
            command.args(["raw", "--secs", &self.secs.min(10).to_string()]);
            match &self.postgres {
                Some(url) => command.args(["--postgres", &fresh_database(&binaries, url, "raw")?]),
                None => command.arg("--sqlite-dir").arg(work.join("raw")),
            };
            json_output(&mut command)?
        };

        eprintln!("no-store collector (acks without storing) …");
        let limit = self.fleet(&binaries, &work.join("no-store"), 0)?;
        eprintln!("the collector …");
        let real = self.fleet(&binaries, &work.join("collector"), 1)?;
        let pair = match self.postgres {
            Some(_) => {
                eprintln!("two collectors on one database …");
                Some(self.fleet(&binaries, &work.join("two-collectors"), 2)?)
            }
            None => None,
        };

        print_report(self, backend, &raw, &limit, &real, pair.as_ref());
        Ok(())
    }

    /// Runs the simulated fleet in `dir` against `collectors` collectors sharing one database
    /// (the agents spread over them), or against the no-store variant when `collectors` is 0.
    fn fleet(&self, binaries: &Binaries, dir: &Path, collectors: usize) -> anyhow::Result<Value> {
        std::fs::create_dir_all(dir)?;
        let discard = collectors == 0;
        let database_url = match &self.postgres {
            Some(url) => Some(fresh_database(
                binaries,
                url,
                if discard { "nostore" } else { "collector" },
            )?),
            None => None,
        };
        let mut running = Vec::new();
        for index in 0..collectors.max(1) {
            let dir = if collectors > 1 {
                dir.join(format!("collector-{}", index + 1))
            } else {
                dir.to_path_buf()
            };
            // Collectors on one database share the CA that signs their agents.
            let ca_from = running.first().map(|first: &Served| first.data_dir.clone());
            running.push(serve(
                binaries,
                &dir,
                discard,
                database_url.as_deref(),
                ca_from,
                "",
            )?);
        }
        let first = &running[0];

        let tokens = dir.join("tokens.txt");
        let created = first.command(
            binaries,
            &["token", "create", "--count", &self.agents.to_string()],
        )?;
        std::fs::write(&tokens, created)?;
        let api_key = first.command(
            binaries,
            &["apikey", "create", "bench", "--role", "technician"],
        )?;

        let urls: Vec<String> = running
            .iter()
            .map(|served| format!("https://{}", served.grpc))
            .collect();
        let mut command = Command::new(&binaries.loadgen);
        command
            .args(["agents", "--url", &urls.join(",")])
            .arg("--ca")
            .arg(first.data_dir.join("ca.pem"))
            .arg("--tokens")
            .arg(&tokens)
            .args([
                "--agents",
                &self.agents.to_string(),
                "--secs",
                &self.secs.to_string(),
                "--collector-pid",
                &first.process.0.id().to_string(),
            ]);
        if !discard {
            command.args(["--http", &first.http, "--api-key", api_key.trim()]);
        }
        let result = json_output(&mut command);
        drop(running);
        result.with_context(|| format!("the simulated fleet (logs in {})", dir.display()))
    }
}

/// A collector (or the no-store variant) serving in its own directory.
pub(crate) struct Served {
    pub(crate) process: Running,
    pub(crate) config: PathBuf,
    pub(crate) data_dir: PathBuf,
    pub(crate) grpc: String,
    pub(crate) http: String,
}

impl Served {
    /// Runs the collector's command line (`token create`, `apikey create`, …) on this
    /// collector's config and data; what it printed.
    pub(crate) fn command(
        &self,
        binaries: &Binaries,
        arguments: &[&str],
    ) -> anyhow::Result<String> {
        crate::capture(
            Command::new(&binaries.collector)
                .args(arguments)
                .arg("--config")
                .arg(&self.config)
                .arg("--data-dir")
                .arg(&self.data_dir),
        )
    }
}

pub(crate) fn serve(
    binaries: &Binaries,
    dir: &Path,
    discard: bool,
    database_url: Option<&str>,
    ca_from: Option<PathBuf>,
    extra_config: &str,
) -> anyhow::Result<Served> {
    std::fs::create_dir_all(dir)?;
    let grpc = crate::bench::free_port()?;
    let http = crate::bench::free_port()?;
    let config = dir.join("collector.toml");
    // Every simulated agent connects from 127.0.0.1: the per-address cap (which keeps one
    // host from taking every connection) would refuse a fleet past 1,024.
    let mut text = match database_url {
        Some(url) => format!("database_url = \"{url}\"\n"),
        None => String::new(),
    };
    text.push_str("\n[limits]\nconnections_per_address = 20000\n");
    text.push_str(extra_config);
    std::fs::write(&config, text)?;
    let data_dir = dir.join("data");
    if let Some(source) = ca_from {
        std::fs::create_dir_all(&data_dir)?;
        for file in ["ca.pem", "ca-key.pem"] {
            std::fs::copy(source.join(file), data_dir.join(file))
                .with_context(|| format!("sharing {file} with the second collector"))?;
        }
    }
    let grpc_address = format!("127.0.0.1:{grpc}");
    let http_address = format!("127.0.0.1:{http}");
    let log = std::fs::File::create(dir.join("collector.log"))?;
    let mut command = if discard {
        let mut command = Command::new(&binaries.loadgen);
        command.arg("sink").arg("--data-dir").arg(&data_dir);
        if let Some(url) = database_url {
            command.args(["--postgres", url]);
        }
        command.args(["--grpc", &grpc_address, "--http", &http_address]);
        command
    } else {
        let mut command = Command::new(&binaries.collector);
        command
            .args(["serve", "--config"])
            .arg(&config)
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--grpc", &grpc_address, "--http", &http_address]);
        command
    };
    let process = Running(
        command
            .env(
                "RUST_LOG",
                std::env::var("FIRSTLINE_BENCH_LOG").unwrap_or_else(|_| "warn".to_owned()),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting the collector")?,
    );
    crate::bench::wait_for_port(http)?;
    Ok(Served {
        process,
        config,
        data_dir,
        grpc: grpc_address,
        http: http_address,
    })
}

pub(crate) struct Binaries {
    pub(crate) collector: PathBuf,
    pub(crate) loadgen: PathBuf,
}

/// `--backend sqlite|postgres`: the PostgreSQL server to use, or none for SQLite.
pub(crate) fn backend_flag(value: &str) -> anyhow::Result<Option<String>> {
    match value {
        "sqlite" => Ok(None),
        "postgres" => Ok(Some(postgres_admin_url())),
        other => bail!("--backend {other:?}: sqlite or postgres"),
    }
}

/// The backend's name in reports and work directories.
pub(crate) fn backend_name(postgres: &Option<String>) -> &'static str {
    if postgres.is_some() {
        "postgres"
    } else {
        "sqlite"
    }
}

/// The PostgreSQL server the benches make their databases on: `FIRSTLINE_BENCH_POSTGRES_URL`,
/// else `FIRSTLINE_TEST_POSTGRES_URL`, else the local server.
pub(crate) fn postgres_admin_url() -> String {
    std::env::var("FIRSTLINE_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("FIRSTLINE_TEST_POSTGRES_URL"))
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join("target"))
}

/// Builds the release collector and `firstline-loadgen`.
pub(crate) fn build_release() -> anyhow::Result<Binaries> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    // Cargo's own progress shows: a first release build takes many minutes on two cores.
    eprintln!("building release binaries (cargo's progress follows) …");
    let status = Command::new(&cargo)
        .current_dir(crate::workspace_root())
        .args([
            "build",
            "--release",
            "-p",
            "firstline-collector",
            "-p",
            "firstline-tests",
            "--bin",
            "firstline-collector",
            "--bin",
            "firstline-loadgen",
        ])
        .status()?;
    if !status.success() {
        bail!("cargo build --release failed");
    }
    let release = target_dir().join("release");
    Ok(Binaries {
        collector: release.join("firstline-collector"),
        loadgen: release.join("firstline-loadgen"),
    })
}

/// Drops and creates the database `firstline_bench_{run}` on the server of `admin_url`;
/// returns its URL.
pub(crate) fn fresh_database(
    binaries: &Binaries,
    admin_url: &str,
    run: &str,
) -> anyhow::Result<String> {
    let name = format!("firstline_bench_{run}");
    json_or_nothing(Command::new(&binaries.loadgen).args([
        "resetdb",
        "--postgres",
        admin_url,
        "--name",
        &name,
    ]))?;
    // The same server and credentials, another database.
    let (server, _) = admin_url
        .rsplit_once('/')
        .context("the PostgreSQL URL has no database part")?;
    Ok(format!("{server}/{name}"))
}

/// Runs a loadgen step, showing its progress, and parses the JSON it prints.
pub(crate) fn json_output(command: &mut Command) -> anyhow::Result<Value> {
    let output = command
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()?;
    if !output.status.success() {
        bail!("{command:?} failed");
    }
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(text.trim()).with_context(|| format!("{command:?} printed {text:?}"))
}

fn json_or_nothing(command: &mut Command) -> anyhow::Result<()> {
    let status = command.stdin(Stdio::null()).status()?;
    if !status.success() {
        bail!("{command:?} failed");
    }
    Ok(())
}

fn number(value: &Value, path: &[&str]) -> f64 {
    path.iter()
        .try_fold(value, |value, key| value.get(key))
        .and_then(Value::as_f64)
        .unwrap_or(f64::NAN)
}

fn print_report(
    bench: &CollectorBench,
    backend: &str,
    raw: &Value,
    limit: &Value,
    real: &Value,
    pair: Option<&Value>,
) {
    let stored = number(real, &["saturated_findings_per_sec"]);
    let no_store = number(limit, &["saturated_findings_per_sec"]);
    let raw_inserts = number(raw, &["raw_inserts_per_sec"]);
    let mib = |bytes: f64| bytes / (1024.0 * 1024.0);
    println!();
    println!(
        "collector bench: {} agents, {} s windows, {backend}, {} cores",
        bench.agents,
        bench.secs,
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    println!(
        "  enroll {:.1} s, connect {:.1} s",
        number(real, &["enroll_secs"]),
        number(real, &["connect_secs"])
    );
    println!("  findings/s durably stored (saturated)    {stored:>10.0}");
    println!("  findings/s acked, no-store collector     {no_store:>10.0}");
    println!("  raw {backend} inserts/s (same schema)     {raw_inserts:>10.0}");
    println!(
        "  ratio stored / no-store                   {:>9.0}%",
        100.0 * stored / no_store
    );
    println!(
        "  ratio stored / raw inserts                {:>9.0}%",
        100.0 * stored / raw_inserts
    );
    println!(
        "  ack latency saturated  p50 {:>7.1} ms  p99 {:>7.1} ms",
        number(real, &["saturated_ack", "p50_ms"]),
        number(real, &["saturated_ack", "p99_ms"])
    );
    println!(
        "  ack latency paced      p50 {:>7.1} ms  p99 {:>7.1} ms  at {:.0} findings/s ({:.0} acked)",
        number(real, &["paced_ack", "p50_ms"]),
        number(real, &["paced_ack", "p99_ms"]),
        number(real, &["paced_findings_per_sec_offered"]),
        number(real, &["paced_findings_per_sec_acked"])
    );
    println!(
        "  finding → ticket via REST  p50 {:>7.1} ms  p99 {:>7.1} ms  ({} probes)",
        number(real, &["finding_to_ticket", "p50_ms"]),
        number(real, &["finding_to_ticket", "p99_ms"]),
        number(real, &["finding_to_ticket", "count"])
    );
    println!(
        "  collector memory: {:.0} MiB idle, {:.0} MiB with agents connected ({:.1} KiB per agent), peak {:.0} MiB",
        mib(number(real, &["collector_rss_before_bytes"])),
        mib(number(real, &["collector_rss_connected_bytes"])),
        number(real, &["collector_rss_per_agent_bytes"]) / 1024.0,
        mib(number(real, &["collector_rss_peak_bytes"]))
    );
    if let Some(pair) = pair {
        let both = number(pair, &["saturated_findings_per_sec"]);
        println!(
            "  two collectors on one database (saturated)  {both:>6.0}  ({:.2}× one; ack p99 {:.1} ms)",
            both / stored,
            number(pair, &["saturated_ack", "p99_ms"])
        );
    }
    println!(
        "  raw results: {}",
        serde_json::json!({"raw": raw, "no_store": limit, "collector": real, "two_collectors": pair})
    );
}
