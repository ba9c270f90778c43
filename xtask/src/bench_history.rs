//! `cargo xtask bench history`: the staff pages and their REST twins against a database with
//! history. `firstline-loadgen seed` writes a year (devices over sites, findings, tickets with
//! timelines, conditions, solutions) into a fresh database made by the collector's migrations;
//! the release collector serves it, and each page and list is timed (p50, p99) signed in.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

use crate::bench_collector::{Binaries, build_release, fresh_database, json_output, target_dir};

pub struct HistoryBench {
    postgres: Option<String>,
    scale: Scale,
    requests: usize,
}

/// How much history: `small` seeds in well under a minute, `year` is the year.
#[derive(Clone, Copy)]
struct Scale {
    name: &'static str,
    devices: u64,
    findings: u64,
    tickets: u64,
    open: u64,
}

const SCALES: [Scale; 3] = [
    Scale {
        name: "small",
        devices: 500,
        findings: 200_000,
        tickets: 10_000,
        open: 100,
    },
    Scale {
        name: "medium",
        devices: 2000,
        findings: 1_000_000,
        tickets: 40_000,
        open: 400,
    },
    Scale {
        name: "year",
        devices: 5000,
        findings: 5_000_000,
        tickets: 100_000,
        open: 1000,
    },
];

/// How a request proves who it is.
#[derive(Clone, Copy, PartialEq)]
enum Credential {
    /// The staff session cookie (pages).
    Session,
    /// The API key (REST).
    ApiKey,
}

impl HistoryBench {
    pub fn parse(arguments: &[String]) -> anyhow::Result<Self> {
        let mut bench = HistoryBench {
            postgres: None,
            scale: SCALES[0],
            requests: 50,
        };
        let mut arguments = arguments.iter();
        while let Some(argument) = arguments.next() {
            let mut value = || {
                arguments
                    .next()
                    .with_context(|| format!("{argument} needs a value"))
            };
            match argument.as_str() {
                "--backend" => bench.postgres = crate::bench_collector::backend_flag(value()?)?,
                "--scale" => {
                    let wanted = value()?;
                    bench.scale = *SCALES
                        .iter()
                        .find(|scale| scale.name == wanted)
                        .with_context(|| format!("--scale {wanted:?}: small, medium or year"))?;
                }
                "--requests" => {
                    let value = value()?;
                    bench.requests = value
                        .parse()
                        .ok()
                        .filter(|n| (2..=10_000).contains(n))
                        .with_context(|| {
                            format!("--requests {value:?}: a number from 2 to 10000")
                        })?;
                }
                other => bail!("unknown argument {other:?}"),
            }
        }
        Ok(bench)
    }

    pub fn run(&self) -> anyhow::Result<()> {
        let binaries = build_release()?;
        let backend = crate::bench_collector::backend_name(&self.postgres);
        let work = target_dir()
            .join("bench-history")
            .join(format!("{backend}-{}", self.scale.name));
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work)?;
        let data_dir = work.join("data");
        let database_url = match &self.postgres {
            Some(url) => Some(fresh_database(&binaries, url, "history")?),
            None => None,
        };

        let scale = self.scale;
        eprintln!(
            "seeding {} ({} devices, {} findings, {} tickets of which {} open, 365 days) …",
            scale.name, scale.devices, scale.findings, scale.tickets, scale.open
        );
        let mut seed = Command::new(&binaries.loadgen);
        seed.arg("seed");
        match &database_url {
            Some(url) => seed.args(["--postgres", url]),
            None => seed.arg("--sqlite-dir").arg(&data_dir),
        };
        seed.args([
            "--devices",
            &scale.devices.to_string(),
            "--findings",
            &scale.findings.to_string(),
            "--tickets",
            &scale.tickets.to_string(),
            "--open",
            &scale.open.to_string(),
            "--days",
            "365",
        ]);
        let seeded = json_output(&mut seed).context("seeding")?;

        let serving = serve(&binaries, &work, &data_dir, database_url.as_deref())?;
        let result = self.measure(&serving.http, &seeded);
        let log = serving.log.clone();
        drop(serving);
        let (rows, load) = result.with_context(|| format!("collector log: {}", log.display()))?;
        let errors = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter(|line| line.contains("ERROR"))
            .count();
        print_report(self, backend, &seeded, &rows, load, errors, &log);
        Ok(())
    }

    /// Times every page and REST list; returns (label, sorted latencies, bytes) and the load
    /// average seen across the run.
    fn measure(&self, http: &str, seeded: &Value) -> anyhow::Result<(Vec<Measured>, String)> {
        let ids = |key: &str| -> Vec<String> {
            seeded[key]
                .as_array()
                .map(|ids| {
                    ids.iter()
                        .map(|id| match id {
                            Value::String(text) => text.clone(),
                            other => other.to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let (open, closed, incidents, devices) = (
            ids("open_tickets"),
            ids("closed_tickets"),
            ids("incidents"),
            ids("sample_devices"),
        );
        if open.is_empty() || closed.is_empty() || devices.is_empty() {
            bail!("the seed named no tickets or devices to look at: {seeded}");
        }
        let tickets: Vec<String> = open
            .iter()
            .chain(&closed)
            .chain(&incidents)
            .cloned()
            .collect();
        let each = |pattern: &str, ids: &[String]| -> Vec<String> {
            ids.iter().map(|id| pattern.replace("{}", id)).collect()
        };
        let one = |path: &str| vec![path.to_owned()];
        use Credential::{ApiKey, Session};
        let endpoints: Vec<(&str, Vec<String>, Credential)> = vec![
            ("page  /  (queue)", one("/"), Session),
            (
                "page  /tickets/{id}",
                each("/tickets/{}", &tickets),
                Session,
            ),
            (
                "page  /devices/{id}",
                each("/devices/{}", &devices),
                Session,
            ),
            ("page  /stats  (30 days)", one("/stats"), Session),
            ("page  /stats?days=365", one("/stats?days=365"), Session),
            ("page  /knowledge", one("/knowledge"), Session),
            ("api   /api/v1/tickets", one("/api/v1/tickets"), ApiKey),
            (
                "api   /api/v1/tickets?state=open",
                one("/api/v1/tickets?state=open"),
                ApiKey,
            ),
            (
                "api   /api/v1/tickets?device={id}",
                each("/api/v1/tickets?device={}", &devices),
                ApiKey,
            ),
            (
                "api   /api/v1/tickets/{id}",
                each("/api/v1/tickets/{}", &tickets),
                ApiKey,
            ),
            ("api   /api/v1/devices", one("/api/v1/devices"), ApiKey),
            (
                "api   /api/v1/devices/{id}",
                each("/api/v1/devices/{}", &devices),
                ApiKey,
            ),
            ("api   /api/v1/stats", one("/api/v1/stats"), ApiKey),
        ];
        let cookie = seeded["session_cookie"]
            .as_str()
            .context("the seed printed no session cookie")?;
        let api_key = seeded["api_key"]
            .as_str()
            .context("the seed printed no API key")?;
        let load_before = load_average();
        let mut measured = Vec::new();
        for (label, paths, credential) in endpoints {
            let header = match credential {
                Session => format!("Cookie: {cookie}"),
                ApiKey => format!("Authorization: Bearer {api_key}"),
            };
            // One request first, not counted: the first touch of cold pages.
            timed_get(http, &paths[0], &header)?;
            let mut latencies = Vec::with_capacity(self.requests);
            let mut bytes = 0usize;
            for n in 0..self.requests {
                let path = &paths[n % paths.len()];
                let (took, size) = timed_get(http, path, &header)?;
                latencies.push(took);
                bytes = bytes.max(size);
            }
            latencies.sort();
            eprintln!(
                "{label:<36} p50 {:>8.1} ms  p99 {:>8.1} ms",
                percentile_ms(&latencies, 0.5),
                percentile_ms(&latencies, 0.99)
            );
            measured.push(Measured {
                label,
                latencies,
                bytes,
            });
        }
        Ok((
            measured,
            format!("{load_before} at the start, {} at the end", load_average()),
        ))
    }
}

/// The release collector serving the seeded database, stopped when dropped.
struct Serving {
    _collector: crate::Children,
    http: String,
    log: std::path::PathBuf,
}

/// Starts the release collector on the seeded database and waits for its `/healthz`.
fn serve(
    binaries: &Binaries,
    work: &std::path::Path,
    data_dir: &std::path::Path,
    database_url: Option<&str>,
) -> anyhow::Result<Serving> {
    let config = work.join("collector.toml");
    // The year stays whole while it is measured: the default retention (90 days of findings)
    // would start pruning most of it a minute in, under the pages being timed.
    let mut text = database_url
        .map(|url| format!("database_url = \"{url}\"\n"))
        .unwrap_or_default();
    text.push_str(
        "\n[retention]\nfindings = \"off\"\nticket_evidence = \"off\"\nnotifications = \"off\"\n\
         reproduce_requests = \"off\"\nuser_notices = \"off\"\n",
    );
    std::fs::write(&config, text)?;
    let log = work.join("collector.log");
    let http = format!("127.0.0.1:{}", crate::bench::free_port()?);
    let grpc = format!("127.0.0.1:{}", crate::bench::free_port()?);
    let collector = Command::new(&binaries.collector)
        .args(["serve", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--grpc", &grpc, "--http", &http])
        .env(
            "RUST_LOG",
            std::env::var("FIRSTLINE_BENCH_LOG").unwrap_or_else(|_| "warn".to_owned()),
        )
        .stdin(Stdio::null())
        .stdout(crate::log_file(&log)?)
        .stderr(crate::log_file(&log)?)
        .spawn()
        .context("starting the collector")?;
    let mut children = crate::Children(vec![("collector", collector)]);
    crate::wait_until(Duration::from_secs(60), &mut children, &log, || {
        crate::http_get(&http, "/healthz", None).is_ok_and(|(status, _)| status == 200)
    })
    .context("waiting for the collector's /healthz")?;
    Ok(Serving {
        _collector: children,
        http,
        log,
    })
}

struct Measured {
    label: &'static str,
    latencies: Vec<Duration>,
    bytes: usize,
}

/// One GET over a fresh loopback connection, read to the end; fails unless it is a 200.
fn timed_get(address: &str, path: &str, header: &str) -> anyhow::Result<(Duration, usize)> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\n{header}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .with_context(|| format!("reading GET {path}"))?;
    let took = started.elapsed();
    let head = String::from_utf8_lossy(&response[..response.len().min(200)]).into_owned();
    if !head.starts_with("HTTP/1.1 200") {
        bail!("GET {path}: {}", head.lines().next().unwrap_or("no answer"));
    }
    Ok((took, response.len()))
}

fn percentile_ms(sorted: &[Duration], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| "?".to_owned())
}

fn print_report(
    bench: &HistoryBench,
    backend: &str,
    seeded: &Value,
    measured: &[Measured],
    load: String,
    errors: usize,
    log: &std::path::Path,
) {
    let number = |key: &str| seeded[key].as_f64().unwrap_or(f64::NAN);
    let mib = |bytes: f64| bytes / (1024.0 * 1024.0);
    let findings = number("findings");
    println!();
    println!(
        "history bench: {backend}, scale {} ({} devices, {} findings, {} tickets of which {} open, {} days; {} rows seeded in {:.0} s), {} requests each, {} cores",
        bench.scale.name,
        number("devices"),
        findings,
        number("tickets"),
        number("open"),
        number("days"),
        number("rows"),
        number("seed_secs"),
        bench.requests,
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    println!(
        "  database {:.0} MiB on disk, {:.0} bytes per finding; findings with their indexes {} ",
        mib(number("database_bytes")),
        number("database_bytes") / findings,
        match seeded["findings_bytes"].as_f64() {
            Some(bytes) => format!(
                "{:.0} MiB, {:.0} bytes per finding",
                mib(bytes),
                bytes / findings
            ),
            None => "not measured".to_owned(),
        }
    );
    println!("  load average (1, 5, 15 min): {load}");
    println!(
        "  {:<36} {:>9} {:>9} {:>9} {:>10}",
        "path", "p50 ms", "p99 ms", "max ms", "bytes"
    );
    let mut over = Vec::new();
    for row in measured {
        let p99 = percentile_ms(&row.latencies, 0.99);
        if p99 >= 100.0 {
            over.push(row.label);
        }
        println!(
            "  {:<36} {:>9.1} {:>9.1} {:>9.1} {:>10}",
            row.label,
            percentile_ms(&row.latencies, 0.5),
            p99,
            percentile_ms(&row.latencies, 1.0),
            row.bytes
        );
    }
    if over.is_empty() {
        println!("  every page and list: p99 under 100 ms");
    } else {
        println!("  p99 at or over 100 ms: {}", over.join(", "));
    }
    if errors > 0 {
        println!(
            "  the collector logged {errors} ERROR lines: see {}",
            log.display()
        );
    }
}
