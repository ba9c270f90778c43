//! `cargo xtask bench prune`: does pruning old history slow ingest down? A database is seeded
//! with `--findings` findings spread over three days (`firstline-loadgen seed`), and the release
//! collector serves it with `[retention] findings = "2d"` (and the timeline evidence of tickets
//! ended two days ago), so its first retention pass — a minute after it starts — prunes the
//! oldest day. Meanwhile N simulated agents send single findings at a steady rate from before
//! the pass until after it. The acks given while the pass ran are compared with the acks of the
//! same run before and after it (p50, p99, and the ratio): one collector, one database, one
//! load, so the only difference is the pruning.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::bench_collector::{
    backend_flag, backend_name, build_release, fresh_database, json_output, serve, target_dir,
};

/// The retention settings the served collector runs with: a seeded day falls out of each.
const RETENTION: &str = "\n[retention]\nfindings = \"2d\"\nticket_evidence = \"2d\"\n";
/// The days the seed spreads its findings over: the oldest is the one the pass prunes.
const SEEDED_DAYS: &str = "3";
/// The collector's first retention pass starts this long after it does (`server.rs`).
const FIRST_PASS_AFTER: Duration = Duration::from_secs(60);
/// What the window allows the pass to prune per second (batches of `batch_rows`, 50 ms apart,
/// each waiting its turn for the write lock behind the group commit).
const PRUNED_PER_SEC_AT_LEAST: u64 = 2_000;
/// Acks this close to either end of the pass count in neither sample.
const EDGE_MS: i64 = 1_000;

pub struct PruneBench {
    agents: usize,
    rate: f64,
    findings: u64,
    postgres: Option<String>,
}

impl PruneBench {
    pub fn parse(arguments: &[String]) -> anyhow::Result<Self> {
        let mut bench = PruneBench {
            agents: 1000,
            rate: 2000.0,
            findings: 300_000,
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
                        .ok()
                        .filter(|n| (2..=20_000).contains(n))
                        .with_context(|| format!("--agents {value:?}: from 2 to 20000"))?;
                }
                "--rate" => {
                    let value = value()?;
                    bench.rate = value
                        .parse()
                        .ok()
                        .filter(|rate: &f64| rate.is_finite() && *rate > 0.0)
                        .with_context(|| format!("--rate {value:?}: findings per second"))?;
                }
                "--findings" => {
                    let value = value()?;
                    bench.findings = value
                        .parse()
                        .ok()
                        .filter(|n| (3_000..=100_000_000).contains(n))
                        .with_context(|| format!("--findings {value:?}: from 3000 to 100000000"))?;
                }
                "--backend" => bench.postgres = backend_flag(value()?)?,
                other => bail!("unknown argument {other:?}"),
            }
        }
        Ok(bench)
    }

    pub fn run(&self) -> anyhow::Result<()> {
        let binaries = build_release()?;
        let backend = backend_name(&self.postgres);
        let dir = target_dir().join("bench-prune").join(backend);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let database_url = match &self.postgres {
            Some(url) => Some(fresh_database(&binaries, url, "prune")?),
            None => None,
        };
        eprintln!(
            "seeding {} findings over {SEEDED_DAYS} days on {backend} …",
            self.findings
        );
        let mut seed = Command::new(&binaries.loadgen);
        seed.arg("seed");
        match &database_url {
            Some(url) => seed.args(["--postgres", url]),
            None => seed.arg("--sqlite-dir").arg(dir.join("data")),
        };
        let devices = self.agents.clamp(100, 5000).to_string();
        let tickets = (self.findings / 100).clamp(100, 100_000).to_string();
        seed.args([
            "--devices",
            &devices,
            "--findings",
            &self.findings.to_string(),
            "--tickets",
            &tickets,
            "--open",
            "50",
            "--days",
            SEEDED_DAYS,
        ]);
        json_output(&mut seed).context("seeding")?;

        let served = serve(
            &binaries,
            &dir,
            false,
            database_url.as_deref(),
            None,
            RETENTION,
        )?;
        let started = std::time::Instant::now();
        let collector = |arguments: &[&str]| served.command(&binaries, arguments);
        let tokens = dir.join("tokens.txt");
        std::fs::write(
            &tokens,
            collector(&["token", "create", "--count", &self.agents.to_string()])?,
        )?;
        // The paced window runs from when the fleet is connected until well after the pass
        // started: a pass that outlasts it is said, not cut short silently.
        let pruned_estimate = Duration::from_secs(self.findings / 3 / PRUNED_PER_SEC_AT_LEAST);
        let secs = (FIRST_PASS_AFTER.saturating_sub(started.elapsed())
            + pruned_estimate
            + Duration::from_secs(60))
        .as_secs()
        .to_string();
        eprintln!(
            "{} agents at {:.0} findings/s on {backend}; the retention pass starts a minute after the collector (logs in {}) …",
            self.agents,
            self.rate,
            dir.display()
        );
        let result = json_output(
            Command::new(&binaries.loadgen)
                .args(["paced", "--url", &format!("https://{}", served.grpc)])
                .arg("--ca")
                .arg(served.data_dir.join("ca.pem"))
                .arg("--tokens")
                .arg(&tokens)
                .args([
                    "--agents",
                    &self.agents.to_string(),
                    "--rate",
                    &self.rate.to_string(),
                    "--secs",
                    &secs,
                ]),
        )
        .with_context(|| format!("the paced fleet (logs in {})", dir.display()))?;
        let (_, metrics) = crate::http_get(&served.http, "/metrics", None)
            .context("reading the collector's /metrics")?;
        drop(served);
        let pass = Pass::from_metrics(&metrics)?;
        print_report(self, backend, &result, &pass, &dir)
    }
}

/// The retention pass as `/metrics` tells it.
struct Pass {
    /// When it ended and began, ms since 1970 (the end to the second).
    ended_ms: i64,
    started_ms: i64,
    findings: u64,
    evidence_entries: u64,
}

impl Pass {
    fn from_metrics(metrics: &str) -> anyhow::Result<Pass> {
        let value = |name: &str| -> Option<f64> {
            metrics
                .lines()
                .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        };
        let ended = value("firstline_retention_last_run_timestamp_seconds ").unwrap_or(0.0);
        if ended <= 0.0 {
            bail!(
                "no retention pass ended while the fleet was paced: the window was too short for this database"
            );
        }
        let took = value("firstline_retention_last_run_duration_seconds ").unwrap_or(0.0);
        let ended_ms = (ended * 1000.0) as i64;
        Ok(Pass {
            ended_ms,
            started_ms: ended_ms - (took * 1000.0) as i64,
            findings: value("firstline_retention_pruned_rows_total{table=\"findings\"} ")
                .unwrap_or(0.0) as u64,
            evidence_entries: value(
                "firstline_retention_pruned_rows_total{table=\"ticket_evidence\"} ",
            )
            .unwrap_or(0.0) as u64,
        })
    }
}

/// p50 and p99 (ms) of `latencies`, nearest rank; NaN when there are none.
fn p50_p99(mut latencies: Vec<f64>) -> (usize, f64, f64) {
    latencies.sort_by(f64::total_cmp);
    let at = |fraction: f64| {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let rank = (fraction * latencies.len() as f64).ceil().max(1.0) as usize;
        latencies[rank.min(latencies.len()) - 1]
    };
    (latencies.len(), at(0.5), at(0.99))
}

fn print_report(
    bench: &PruneBench,
    backend: &str,
    result: &Value,
    pass: &Pass,
    dir: &Path,
) -> anyhow::Result<()> {
    let samples: Vec<(i64, f64)> = result
        .get("samples")
        .and_then(Value::as_array)
        .context("the fleet reported no samples")?
        .iter()
        .filter_map(|sample| Some((sample.get(0)?.as_i64()?, sample.get(1)?.as_f64()?)))
        .collect();
    let during: Vec<f64> = samples
        .iter()
        .filter(|(sent, _)| *sent >= pass.started_ms && *sent < pass.ended_ms)
        .map(|(_, latency)| *latency)
        .collect();
    let outside: Vec<f64> = samples
        .iter()
        .filter(|(sent, _)| *sent < pass.started_ms - EDGE_MS || *sent >= pass.ended_ms + EDGE_MS)
        .map(|(_, latency)| *latency)
        .collect();
    let (during_count, during_p50, during_p99) = p50_p99(during);
    let (outside_count, outside_p50, outside_p99) = p50_p99(outside);
    println!();
    println!(
        "pruning bench: {backend}, {} agents at {:.0} findings/s, {} findings seeded over {SEEDED_DAYS} days, {} cores, load average {}",
        bench.agents,
        bench.rate,
        bench.findings,
        std::thread::available_parallelism().map_or(0, usize::from),
        crate::bench_history::load_average()
    );
    println!(
        "  the retention pass pruned {} findings and emptied {} timeline entries' evidence in {:.1} s",
        pass.findings,
        pass.evidence_entries,
        (pass.ended_ms - pass.started_ms) as f64 / 1000.0
    );
    println!(
        "  acks without pruning   {outside_count:>7} acks  p50 {outside_p50:>7.1} ms  p99 {outside_p99:>7.1} ms"
    );
    println!(
        "  acks while pruning     {during_count:>7} acks  p50 {during_p50:>7.1} ms  p99 {during_p99:>7.1} ms"
    );
    println!(
        "  while pruning / without: p99 {:.2}x (target: at most 1.20x)",
        during_p99 / outside_p99
    );
    println!(
        "  streams failed: {}  (logs in {})",
        result
            .get("paced_streams_failed")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        dir.display()
    );
    if during_count == 0 {
        bail!("no ack was timed while the pass ran: nothing to compare");
    }
    Ok(())
}
