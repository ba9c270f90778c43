//! `cargo xtask bench storm`: the storm drill. N simulated agents (default 10,000, each with its
//! own certificate and mTLS stream) are connected to the release collector and healthy; then
//! every device's resolver fails within a few seconds, as when DNS goes down fleet-wide, and
//! later every device recovers. Reports how long until every failure was decided, what the
//! desk got (incidents per scope, device tickets) and how long until every ticket resolved.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::bench_collector::{
    backend_flag, backend_name, build_release, fresh_database, json_output, serve, target_dir,
};

pub struct StormBench {
    agents: usize,
    spread_secs: u64,
    postgres: Option<String>,
}

impl StormBench {
    pub fn parse(arguments: &[String]) -> anyhow::Result<Self> {
        let mut bench = StormBench {
            agents: 10_000,
            spread_secs: 10,
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
                    if bench.agents < 10 {
                        bail!("--agents must be at least 10");
                    }
                }
                "--spread" => {
                    let value = value()?;
                    bench.spread_secs = value
                        .parse()
                        .with_context(|| format!("--spread {value:?}"))?;
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
        let dir = target_dir().join("bench-storm").join(backend);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let database_url = match &self.postgres {
            Some(url) => Some(fresh_database(&binaries, url, "storm")?),
            None => None,
        };
        let served = serve(&binaries, &dir, false, database_url.as_deref(), None, "")?;
        let collector = |arguments: &[&str]| served.command(&binaries, arguments);
        let tokens = dir.join("tokens.txt");
        std::fs::write(
            &tokens,
            collector(&["token", "create", "--count", &self.agents.to_string()])?,
        )?;
        let api_key = collector(&["apikey", "create", "bench", "--role", "technician"])?;
        eprintln!(
            "storm drill: {} agents on {backend} (logs in {}) …",
            self.agents,
            dir.display()
        );
        let result = json_output(
            Command::new(&binaries.loadgen)
                .args(["storm", "--url", &format!("https://{}", served.grpc)])
                .arg("--ca")
                .arg(served.data_dir.join("ca.pem"))
                .arg("--tokens")
                .arg(&tokens)
                .args([
                    "--agents",
                    &self.agents.to_string(),
                    "--spread",
                    &self.spread_secs.to_string(),
                    "--http",
                    &served.http,
                    "--api-key",
                    api_key.trim(),
                ]),
        )
        .with_context(|| format!("the storm drill (logs in {})", dir.display()))?;
        drop(served);
        print_report(self, backend, &result, &dir);
        Ok(())
    }
}

fn print_report(bench: &StormBench, backend: &str, result: &Value, dir: &Path) {
    let number = |key: &str| result.get(key).and_then(Value::as_f64).unwrap_or(f64::NAN);
    let latency = |key: &str, which: &str| {
        result
            .get(key)
            .and_then(|l| l.get(which))
            .and_then(Value::as_f64)
            .unwrap_or(f64::NAN)
    };
    println!();
    println!(
        "storm drill: {} agents, {backend}, failures spread over {} s, {} cores, load average {}",
        bench.agents,
        bench.spread_secs,
        std::thread::available_parallelism().map_or(0, usize::from),
        crate::bench_history::load_average()
    );
    println!(
        "  enroll {:.1} s, connect {:.1} s",
        number("enroll_secs"),
        number("connect_secs")
    );
    println!(
        "  every failure decided after      {:>7.1} s  (ack p50 {:.0} ms, p99 {:.0} ms)",
        number("failure_decided_secs"),
        latency("failure_ack", "p50_ms"),
        latency("failure_ack", "p99_ms")
    );
    println!(
        "  the desk got                      {:>5} incidents in {} scopes over {} devices, {} device tickets",
        number("incidents"),
        number("incident_scopes"),
        number("devices_in_incidents"),
        number("device_tickets")
    );
    println!(
        "  every recovery decided after     {:>7.1} s  (ack p50 {:.0} ms, p99 {:.0} ms)",
        number("recovery_decided_secs"),
        latency("recovery_ack", "p50_ms"),
        latency("recovery_ack", "p99_ms")
    );
    println!(
        "  every ticket resolved after      {:>7.1} s  (from the first recovery)",
        number("all_resolved_secs")
    );
    println!("  raw results: {result}  (logs in {})", dir.display());
}
