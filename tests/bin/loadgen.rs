//! `firstline-loadgen`: the load side of `cargo xtask bench`. It simulates agents over the real
//! protocol (each enrolled with its own key and certificate, each on its own mTLS connection),
//! runs the no-store collector variant for the raw limit, and measures raw database inserts.
//! It prints one JSON object per run on stdout; xtask turns them into the report.
//!
//!   firstline-loadgen agents --url URL[,URL…] --ca FILE --tokens FILE --agents N --secs S
//!                            --http ADDR --api-key KEY --collector-pid PID [--rate F/S] [--batch B]
//!   (several URLs: collectors sharing one database; agent i talks to URL i mod n)
//!   firstline-loadgen paced --url URL --ca FILE --tokens FILE --agents N --secs S [--rate F/S]
//!   (only the paced phase, every ack's send time and round trip: the pruning bench)
//!   firstline-loadgen storm --url URL --ca FILE --tokens FILE --agents N --http ADDR
//!                           --api-key KEY [--spread SECS]   (a fleet-wide DNS failure and recovery)
//!   firstline-loadgen sink --data-dir DIR --grpc ADDR --http ADDR [--postgres URL]
//!   firstline-loadgen raw --secs S (--sqlite-dir DIR | --postgres URL)
//!   firstline-loadgen resetdb --postgres URL --name DATABASE   (drops and creates it)
//!   firstline-loadgen seed (--sqlite-dir DIR | --postgres URL) [--devices N] [--findings N]
//!                          [--tickets N] [--open N] [--days D]   (a year of history: seed.rs)

#[path = "loadgen/seed.rs"]
mod seed;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use firstline_proto::v1 as pb;
use pb::agent_message::Body;
use tokio::sync::{Semaphore, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// Connections opened (and enrollments made) at once.
const CONNECT_CONCURRENCY: usize = 64;
/// Checks the simulated fleet fails on, and resources per check on each device.
const CHECKS: [&str; 4] = [
    "disk.free_low",
    "memory.pressure",
    "cpu.saturated",
    "network.loss",
];
const RESOURCES_PER_CHECK: usize = 3;
/// Batches outstanding at once across the fleet while saturating.
const IN_FLIGHT_BATCHES: usize = 256;
/// Sites the fleet is spread over (each with its own DNS server and gateway).
const SITES: usize = 50;

fn main() -> anyhow::Result<()> {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let Some((mode, rest)) = arguments.split_first() else {
        bail!("usage: firstline-loadgen agents|paced|storm|sink|raw|resetdb|seed [flags]");
    };
    let flags = Flags::parse(rest)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match mode.as_str() {
        "agents" => runtime.block_on(agents(&flags)),
        "paced" => runtime.block_on(paced_only(&flags)),
        "storm" => runtime.block_on(storm(&flags)),
        "sink" => runtime.block_on(sink(&flags)),
        "raw" => runtime.block_on(raw(&flags)),
        "resetdb" => runtime.block_on(reset_database(&flags)),
        "seed" => runtime.block_on(seed::seed(&flags)),
        other => bail!("unknown mode {other:?}"),
    }
}

struct Flags(HashMap<String, String>);

impl Flags {
    fn parse(arguments: &[String]) -> anyhow::Result<Self> {
        let mut flags = HashMap::new();
        let mut arguments = arguments.iter();
        while let Some(name) = arguments.next() {
            let Some(name) = name.strip_prefix("--") else {
                bail!("expected a --flag, got {name:?}");
            };
            let value = arguments
                .next()
                .with_context(|| format!("--{name} needs a value"))?;
            flags.insert(name.to_owned(), value.clone());
        }
        Ok(Flags(flags))
    }

    fn text(&self, name: &str) -> anyhow::Result<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .with_context(|| format!("--{name} is required"))
    }

    fn optional(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn number<T: std::str::FromStr>(&self, name: &str, default: T) -> anyhow::Result<T> {
        match self.0.get(name) {
            None => Ok(default),
            Some(value) => value
                .parse()
                .map_err(|_| anyhow::anyhow!("--{name} {value:?} is not a number")),
        }
    }
}

/// The no-store collector: the real server, with findings acked without being stored.
async fn sink(flags: &Flags) -> anyhow::Result<()> {
    let mut settings = firstline_collector::config::Settings {
        data_dir: PathBuf::from(flags.text("data-dir")?),
        grpc_listen: flags.text("grpc")?.parse()?,
        http_listen: flags.text("http")?.parse()?,
        discard_findings: true,
        ..Default::default()
    };
    settings.database_url = flags.optional("postgres").map(str::to_owned);
    // Every simulated agent connects from 127.0.0.1 (as in the bench's collector config).
    settings.limits.connections_per_address = 20_000;
    let running = firstline_collector::server::start(&settings).await?;
    eprintln!("sink listening on {}", running.grpc_address);
    tokio::signal::ctrl_c().await?;
    running.stop().await?;
    Ok(())
}

/// One simulated device: its identity and its stream.
struct Device {
    id: String,
    outbound: mpsc::Sender<pb::AgentMessage>,
    inbound: tonic::Streaming<pb::CollectorMessage>,
    next_sequence: u64,
    /// Where each of its conditions is in its fire → … → clear cycle.
    step: u64,
}

impl Device {
    async fn enroll(
        url: &str,
        ca_pem: &str,
        token: String,
    ) -> anyhow::Result<(String, String, String)> {
        let key = rcgen::KeyPair::generate()?;
        let mut request = rcgen::CertificateParams::default();
        request.distinguished_name = rcgen::DistinguishedName::new();
        request
            .distinguished_name
            .push(rcgen::DnType::CommonName, "bench-pc");
        let csr = request.serialize_request(&key)?;
        let channel = connect(url, ca_pem, None).await?;
        let response = pb::enrollment_client::EnrollmentClient::new(channel)
            .enroll(pb::EnrollRequest {
                token,
                csr_der: csr.der().to_vec(),
                hostname: "bench-pc".to_owned(),
                agent_version: "bench".to_owned(),
            })
            .await
            .context("enrolling")?
            .into_inner();
        Ok((
            response.device_id,
            response.certificate_pem,
            key.serialize_pem(),
        ))
    }

    async fn connect(
        url: &str,
        ca_pem: &str,
        (id, certificate_pem, key_pem): (String, String, String),
        index: usize,
    ) -> anyhow::Result<Self> {
        let channel = connect(url, ca_pem, Some((&certificate_pem, &key_pem))).await?;
        let (outbound, receiver) = mpsc::channel(4);
        outbound
            .send(message(Body::Hello(pb::Hello {
                protocol_version: firstline_proto::PROTOCOL_VERSION,
                agent_version: "bench".to_owned(),
                last_sequence: 0,
                acked_sequence: 0,
                config_version: String::new(),
            })))
            .await?;
        let mut inbound = pb::telemetry_client::TelemetryClient::new(channel)
            .connect(ReceiverStream::new(receiver))
            .await?
            .into_inner();
        let Some(pb::CollectorMessage {
            body: Some(pb::collector_message::Body::Welcome(welcome)),
        }) = inbound.message().await?
        else {
            bail!("expected a Welcome");
        };
        let site = index % SITES;
        outbound
            .send(message(Body::Inventory(pb::Inventory {
                hostname: format!("bench-{index}"),
                os_name: "Debian GNU/Linux".to_owned(),
                agent_version: "bench".to_owned(),
                site: format!("bench-site-{site}"),
                dns_servers: vec![format!("198.51.100.{site}")],
                ..pb::Inventory::default()
            })))
            .await?;
        // Like a real agent, beat at the interval the collector asked for, whatever else the
        // device is doing (or waiting for); the task ends when the device's stream does.
        let beats = outbound.clone();
        let interval = Duration::from_secs(u64::from(welcome.heartbeat_interval_secs.max(1)));
        tokio::spawn(async move {
            let mut ticks =
                tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
            loop {
                ticks.tick().await;
                let beat = message(Body::Heartbeat(pb::Heartbeat {
                    sent_at_unix_ms: now_ms(),
                    ..Default::default()
                }));
                if beats.send(beat).await.is_err() {
                    return;
                }
            }
        });
        Ok(Device {
            id,
            outbound,
            inbound,
            next_sequence: welcome.committed_sequence + 1,
            step: 0,
        })
    }

    /// The device's next `count` findings: each condition goes fire (warning) → critical →
    /// warning … → clear, so most findings change a firing condition's severity, one in ten
    /// opens or reopens a ticket and one in ten resolves one.
    fn next_findings(&mut self, count: usize) -> Vec<pb::Finding> {
        let conditions = (CHECKS.len() * RESOURCES_PER_CHECK) as u64;
        let now = now_ms();
        (0..count)
            .map(|_| {
                let condition = self.step % conditions;
                let phase = (self.step / conditions) % 10;
                self.step += 1;
                let sequence = self.next_sequence;
                self.next_sequence += 1;
                let check = CHECKS[(condition as usize) / RESOURCES_PER_CHECK];
                let resource = format!("/bench/{}", condition as usize % RESOURCES_PER_CHECK);
                let severity = match phase {
                    9 => pb::Severity::Ok,
                    phase if phase % 2 == 1 => pb::Severity::Critical,
                    _ => pb::Severity::Warning,
                };
                finding(sequence, check, &resource, severity, now)
            })
            .collect()
    }

    /// Sends the findings and waits for the ack that covers them; returns the round trip.
    async fn send_and_wait(&mut self, findings: Vec<pb::Finding>) -> anyhow::Result<Duration> {
        let through = findings.iter().map(|f| f.sequence).max().unwrap_or(0);
        let started = Instant::now();
        self.outbound
            .send(message(Body::Findings(pb::FindingBatch { findings })))
            .await
            .context("stream closed")?;
        loop {
            match self.inbound.message().await? {
                Some(pb::CollectorMessage {
                    body: Some(pb::collector_message::Body::Ack(ack)),
                }) if ack.sequence >= through => {
                    if !ack.refused.is_empty() {
                        bail!("the collector refused findings: {:?}", ack.refused);
                    }
                    return Ok(started.elapsed());
                }
                Some(_) => continue,
                None => bail!("the collector closed the stream"),
            }
        }
    }
}

fn finding(
    sequence: u64,
    check: &str,
    resource: &str,
    severity: pb::Severity,
    now: i64,
) -> pb::Finding {
    pb::Finding {
        sequence,
        check: check.to_owned(),
        resource: resource.to_owned(),
        severity: severity as i32,
        summary: format!("{check} on {resource}: {}", severity.as_str_name()),
        evidence_json: format!(
            r#"{{"resource":"{resource}","value_pct":{},"threshold_pct":90}}"#,
            sequence % 100
        ),
        observed_at_unix_ms: now,
    }
}

fn message(body: Body) -> pb::AgentMessage {
    pb::AgentMessage { body: Some(body) }
}

async fn connect(url: &str, ca_pem: &str, client: Option<(&str, &str)>) -> anyhow::Result<Channel> {
    let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca_pem));
    if let Some((certificate, key)) = client {
        tls = tls.identity(Identity::from_pem(certificate, key));
    }
    Ok(Endpoint::from_shared(url.to_owned())?
        .tls_config(tls)?
        .connect_timeout(Duration::from_secs(30))
        .connect()
        .await?)
}

fn now_ms() -> i64 {
    firstline_collector::model::now_ms()
}

/// The collector's resident memory (VmRSS) and its peak (VmHWM), in bytes.
fn collector_memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .unwrap_or(0)
            * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn percentile(sorted: &[Duration], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

fn latency_json(mut latencies: Vec<Duration>) -> serde_json::Value {
    latencies.sort();
    serde_json::json!({
        "count": latencies.len(),
        "p50_ms": percentile(&latencies, 0.50),
        "p99_ms": percentile(&latencies, 0.99),
        "max_ms": percentile(&latencies, 1.0),
    })
}

/// The fleet's flags: the collectors' URLs (comma-separated), the CA, the enrollment tokens
/// (one per line) and how many agents (`default` when not given).
fn fleet_flags(
    flags: &Flags,
    default: usize,
) -> anyhow::Result<(Vec<String>, String, Vec<String>, usize)> {
    let urls: Vec<String> = flags.text("url")?.split(',').map(str::to_owned).collect();
    let ca_pem = std::fs::read_to_string(flags.text("ca")?).context("reading --ca")?;
    let tokens: Vec<String> = std::fs::read_to_string(flags.text("tokens")?)
        .context("reading --tokens")?
        .lines()
        .map(str::to_owned)
        .collect();
    let count: usize = flags.number("agents", default)?;
    if tokens.len() < count {
        bail!("{} tokens for {count} agents", tokens.len());
    }
    Ok((urls, ca_pem, tokens, count))
}

/// The simulated fleet: enroll, connect, saturate, then a paced phase with ticket probes.
async fn agents(flags: &Flags) -> anyhow::Result<()> {
    let (urls, ca_pem, tokens, count) = fleet_flags(flags, 1000)?;
    let window = Duration::from_secs(flags.number("secs", 20)?);
    let batch: usize = flags.number("batch", 50)?;
    let pid: u32 = flags.number("collector-pid", 0)?;
    let probe_http: Option<SocketAddr> = flags.optional("http").map(str::parse).transpose()?;
    let api_key = flags.optional("api-key").map(str::to_owned);
    let mut report = serde_json::Map::new();
    let (mut devices, rss_before) =
        enroll_and_connect(&urls, &ca_pem, tokens, count, pid, &mut report).await?;
    // Let inventories land and the collector settle before reading its memory.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (rss_connected, _) = collector_memory(pid);
    report.insert("collector_rss_before_bytes".into(), rss_before.into());
    report.insert("collector_rss_connected_bytes".into(), rss_connected.into());
    report.insert(
        "collector_rss_per_agent_bytes".into(),
        (rss_connected.saturating_sub(rss_before) / count.max(1) as u64).into(),
    );
    eprintln!(
        "{count} agents connected; saturating for {}s with batches of {batch}",
        window.as_secs()
    );

    // Saturation: devices send a batch, wait for its ack and send the next, with at most
    // IN_FLIGHT batches outstanding across the fleet (a replay storm the collector must work
    // off, bounded so the queue drains before the paced phase).
    let probe = devices.pop().context("at least two agents")?;
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT_BATCHES));
    let mut running = tokio::task::JoinSet::new();
    for mut device in devices {
        let (stop, acked, in_flight) = (stop.clone(), acked.clone(), in_flight.clone());
        running.spawn(async move {
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let _turn = in_flight.acquire().await?;
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let findings = device.next_findings(batch);
                // On an error a real agent would reconnect and resend; here the device drops
                // out and the failure is counted in the report.
                latencies.push(device.send_and_wait(findings).await?);
                acked.fetch_add(batch as u64, Ordering::Relaxed);
            }
            Ok::<_, anyhow::Error>((device, latencies))
        });
    }
    // A short warm-up, then the measured window.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = acked.load(Ordering::Relaxed);
    let window_started = Instant::now();
    tokio::time::sleep(window).await;
    let stored = acked.load(Ordering::Relaxed) - before;
    let elapsed = window_started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut devices = Vec::with_capacity(count);
    let mut latencies = Vec::new();
    let mut failed = Vec::new();
    while let Some(finished) = running.join_next().await {
        match finished? {
            Ok((device, mut device_latencies)) => {
                latencies.append(&mut device_latencies);
                devices.push(device);
            }
            Err(error) => failed.push(error.to_string()),
        }
    }
    report.insert("saturated_streams_failed".into(), failed.len().into());
    if let Some(first) = failed.first() {
        eprintln!(
            "{} streams failed while saturating, e.g.: {first}",
            failed.len()
        );
    }
    let throughput = stored as f64 / elapsed;
    report.insert("saturated_findings_per_sec".into(), throughput.into());
    report.insert("saturated_ack".into(), latency_json(latencies));
    eprintln!("saturated: {throughput:.0} findings/s acked after commit");

    // Paced: single-finding batches at a fixed total rate (default: half of the saturated
    // throughput), and a probe device timing finding → ticket over REST.
    let rate: f64 = flags.number("rate", (throughput / 2.0).max(1.0))?;
    let per_device_interval = Duration::from_secs_f64(devices.len() as f64 / rate);
    eprintln!(
        "paced: {rate:.0} findings/s ({} ms between findings per agent) for {}s",
        per_device_interval.as_millis(),
        window.as_secs()
    );
    let stop = Arc::new(AtomicBool::new(false));
    let running = pace(devices, rate, stop.clone());
    let probes = match (probe_http, &api_key) {
        (Some(http), Some(api_key)) => {
            Some(probe_tickets(probe, http, api_key, window, stop.clone()).await?)
        }
        _ => {
            tokio::time::sleep(window).await;
            None
        }
    };
    stop.store(true, Ordering::Relaxed);
    let (samples, failed) = paced_samples(running).await?;
    let latencies: Vec<Duration> = samples.into_iter().map(|(_, latency)| latency).collect();
    report.insert("paced_streams_failed".into(), failed.len().into());
    if let Some(first) = failed.first() {
        eprintln!("{} streams failed while paced, e.g.: {first}", failed.len());
    }
    let paced_count = latencies.len();
    report.insert("paced_findings_per_sec_offered".into(), rate.into());
    report.insert(
        "paced_findings_per_sec_acked".into(),
        (paced_count as f64 / window.as_secs_f64()).into(),
    );
    report.insert("paced_ack".into(), latency_json(latencies));
    if let Some(probes) = probes {
        report.insert("finding_to_ticket".into(), latency_json(probes));
    }
    let (_, peak) = collector_memory(pid);
    report.insert("collector_rss_peak_bytes".into(), peak.into());
    println!("{}", serde_json::Value::Object(report));
    Ok(())
}

/// Each paced device's task: (when it sent, ms since 1970; the round trip to its ack).
type PacedTasks = tokio::task::JoinSet<anyhow::Result<Vec<(i64, Duration)>>>;

/// Starts `devices` sending single findings at `rate` findings/s in total, spread over the
/// interval, until `stop`.
fn pace(devices: Vec<Device>, rate: f64, stop: Arc<AtomicBool>) -> PacedTasks {
    let count = devices.len().max(1);
    let per_device_interval = Duration::from_secs_f64(count as f64 / rate);
    let mut running = tokio::task::JoinSet::new();
    for (index, mut device) in devices.into_iter().enumerate() {
        let stop = stop.clone();
        running.spawn(async move {
            // Spread the devices over the interval instead of firing them all at once.
            let offset = per_device_interval.mul_f64(index as f64 / count as f64);
            tokio::time::sleep(offset).await;
            let mut ticks = tokio::time::interval(per_device_interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut samples = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                ticks.tick().await;
                let findings = device.next_findings(1);
                let sent = now_ms();
                samples.push((sent, device.send_and_wait(findings).await?));
            }
            Ok::<_, anyhow::Error>(samples)
        });
    }
    running
}

/// Waits for the paced devices (stopped by the caller): every sample, and the errors of the
/// streams that failed.
async fn paced_samples(
    mut running: PacedTasks,
) -> anyhow::Result<(Vec<(i64, Duration)>, Vec<String>)> {
    let mut samples = Vec::new();
    let mut failed = Vec::new();
    while let Some(finished) = running.join_next().await {
        match finished? {
            Ok(mut device_samples) => samples.append(&mut device_samples),
            Err(error) => failed.push(error.to_string()),
        }
    }
    samples.sort_unstable_by_key(|(sent, _)| *sent);
    Ok((samples, failed))
}

/// Only the paced phase, for `--secs` after the fleet connected, reporting every sample (when
/// it was sent, its ack's round trip) so `cargo xtask bench prune` can tell the acks given
/// while the collector pruned from the others.
async fn paced_only(flags: &Flags) -> anyhow::Result<()> {
    let (urls, ca_pem, tokens, count) = fleet_flags(flags, 1000)?;
    let window = Duration::from_secs(flags.number("secs", 60)?);
    let rate: f64 = flags.number("rate", 2000.0)?;
    if !(rate.is_finite() && rate > 0.0) {
        bail!("--rate {rate}: findings per second, above 0");
    }
    let mut report = serde_json::Map::new();
    let (devices, _) = enroll_and_connect(&urls, &ca_pem, tokens, count, 0, &mut report).await?;
    eprintln!(
        "{count} agents connected; paced at {rate:.0} findings/s for {}s",
        window.as_secs()
    );
    let stop = Arc::new(AtomicBool::new(false));
    let running = pace(devices, rate, stop.clone());
    tokio::time::sleep(window).await;
    stop.store(true, Ordering::Relaxed);
    let (samples, failed) = paced_samples(running).await?;
    report.insert("paced_streams_failed".into(), failed.len().into());
    if let Some(first) = failed.first() {
        eprintln!("{} streams failed while paced, e.g.: {first}", failed.len());
    }
    report.insert("paced_findings_per_sec_offered".into(), rate.into());
    report.insert(
        "samples".into(),
        samples
            .iter()
            .map(|(sent, latency)| serde_json::json!([sent, latency.as_secs_f64() * 1000.0]))
            .collect(),
    );
    println!("{}", serde_json::Value::Object(report));
    Ok(())
}

/// The name every device of the storm drill fails to resolve.
const STORM_NAME: &str = "intranet.example.com";

/// The storm drill: every device's resolver fails within `--spread` seconds (default 10), as
/// when a site-wide DNS server goes down everywhere at once, then every device recovers the
/// same way. Times until every failure is decided (acked: decisions commit with the finding),
/// counts what the desk got (incidents, device tickets), and times until nothing is open.
async fn storm(flags: &Flags) -> anyhow::Result<()> {
    let (urls, ca_pem, tokens, count) = fleet_flags(flags, 10_000)?;
    let spread = Duration::from_secs(flags.number("spread", 10)?);
    let http: SocketAddr = flags.text("http")?.parse()?;
    let api_key = flags.text("api-key")?.to_owned();
    let mut report = serde_json::Map::new();
    let (devices, _) = enroll_and_connect(&urls, &ca_pem, tokens, count, 0, &mut report).await?;
    eprintln!("{count} agents connected; all resolving {STORM_NAME} first");
    // Healthy first, so the failure is a change the collector has to decide on.
    let (devices, _, _) = wave(devices, pb::Severity::Ok, Duration::ZERO).await?;
    // Let inventories land (sites and resolvers are the scopes incidents form in).
    tokio::time::sleep(Duration::from_secs(3)).await;

    eprintln!(
        "storm: every resolver fails within {} s …",
        spread.as_secs()
    );
    let (devices, decided, latencies) = wave(devices, pb::Severity::Critical, spread).await?;
    report.insert("failure_decided_secs".into(), decided.as_secs_f64().into());
    report.insert("failure_ack".into(), latency_json(latencies));
    let open = open_dns_tickets(http, &api_key).await?;
    let incidents: Vec<&serde_json::Value> =
        open.iter().filter(|t| t["kind"] == "incident").collect();
    let devices_in_incidents: u64 = incidents
        .iter()
        .filter_map(|t| t["device_count"].as_u64())
        .sum();
    let scopes: std::collections::BTreeSet<&str> = incidents
        .iter()
        .filter_map(|t| t["scope"].as_str())
        .collect();
    report.insert("incidents".into(), incidents.len().into());
    report.insert("incident_scopes".into(), scopes.len().into());
    report.insert("devices_in_incidents".into(), devices_in_incidents.into());
    report.insert(
        "device_tickets".into(),
        open.iter().filter(|t| t["kind"] == "device").count().into(),
    );
    eprintln!(
        "decided in {:.1} s: {} incidents over {} devices, {} device tickets",
        decided.as_secs_f64(),
        incidents.len(),
        devices_in_incidents,
        report["device_tickets"]
    );

    eprintln!(
        "recovery: every resolver answers again within {} s …",
        spread.as_secs()
    );
    let started = Instant::now();
    let (_devices, decided, latencies) = wave(devices, pb::Severity::Ok, spread).await?;
    report.insert("recovery_decided_secs".into(), decided.as_secs_f64().into());
    report.insert("recovery_ack".into(), latency_json(latencies));
    let resolved = loop {
        let open = open_dns_tickets(http, &api_key).await?;
        if open.is_empty() {
            break Some(started.elapsed());
        }
        if started.elapsed() > Duration::from_secs(600) {
            eprintln!("{} tickets still open after 10 minutes", open.len());
            break None;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    report.insert(
        "all_resolved_secs".into(),
        resolved.map(|d| d.as_secs_f64()).into(),
    );
    println!("{}", serde_json::Value::Object(report));
    Ok(())
}

/// Every device sends one `dns.resolve` finding at `severity`, each at its own moment within
/// `spread`; returns the devices, the time until the last ack and each device's ack latency.
async fn wave(
    devices: Vec<Device>,
    severity: pb::Severity,
    spread: Duration,
) -> anyhow::Result<(Vec<Device>, Duration, Vec<Duration>)> {
    let count = devices.len().max(1);
    let started = Instant::now();
    let mut running = tokio::task::JoinSet::new();
    for (index, mut device) in devices.into_iter().enumerate() {
        // Spread evenly but not in device order (a stride coprime with the fleet's size).
        let slot = (index * 7919) % count;
        let offset = spread.mul_f64(slot as f64 / count as f64);
        running.spawn(async move {
            tokio::time::sleep(offset).await;
            let sequence = device.next_sequence;
            device.next_sequence += 1;
            let mut failing = finding(sequence, "dns.resolve", STORM_NAME, severity, now_ms());
            failing.summary = match severity {
                pb::Severity::Ok => format!("{STORM_NAME} resolves"),
                _ => format!("{STORM_NAME} does not resolve: the DNS server does not answer"),
            };
            failing.evidence_json = format!(r#"{{"name":"{STORM_NAME}","error":"timed out"}}"#);
            let latency = device.send_and_wait(vec![failing]).await?;
            Ok::<_, anyhow::Error>((device, latency))
        });
    }
    let mut devices = Vec::with_capacity(count);
    let mut latencies = Vec::with_capacity(count);
    while let Some(done) = running.join_next().await {
        let (device, latency) = done??;
        devices.push(device);
        latencies.push(latency);
    }
    Ok((devices, started.elapsed(), latencies))
}

/// The open tickets about the storm's name, as the REST API lists them.
async fn open_dns_tickets(
    http: SocketAddr,
    api_key: &str,
) -> anyhow::Result<Vec<serde_json::Value>> {
    // The check is filtered in the database: a page of 1000 is every storm ticket there is.
    let text = http_get(
        http,
        "/api/v1/tickets?state=open&check=dns.resolve&limit=1000",
        api_key,
    )
    .await?;
    let body = text.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    let page: serde_json::Value =
        serde_json::from_str(body).context("the ticket list is not JSON")?;
    if !page["next_cursor"].is_null() {
        bail!("1,000 open DNS tickets or more: the list is cut off");
    }
    let tickets = page["tickets"]
        .as_array()
        .context("the ticket page has no tickets list")?;
    Ok(tickets
        .iter()
        .filter(|t| t["check"] == "dns.resolve")
        .cloned()
        .collect())
}

/// Enrolls `count` devices (token i, collector URL i mod n) and connects each on its own mTLS
/// stream; notes how long each took in `report`. Returns the devices and the collector's
/// memory before they connected.
async fn enroll_and_connect(
    urls: &[String],
    ca_pem: &str,
    tokens: Vec<String>,
    count: usize,
    pid: u32,
    report: &mut serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<(Vec<Device>, u64)> {
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let mut enrolling = tokio::task::JoinSet::new();
    for (index, token) in tokens.into_iter().take(count).enumerate() {
        let url = urls[index % urls.len()].clone();
        let (ca_pem, gate) = (ca_pem.to_owned(), gate.clone());
        enrolling.spawn(async move {
            let _permit = gate.acquire_owned().await?;
            Ok::<_, anyhow::Error>((index, Device::enroll(&url, &ca_pem, token).await?))
        });
    }
    let mut identities = Vec::with_capacity(count);
    while let Some(enrolled) = enrolling.join_next().await {
        identities.push(enrolled??);
    }
    report.insert("enroll_secs".into(), started.elapsed().as_secs_f64().into());
    let (rss_before, _) = collector_memory(pid);

    let started = Instant::now();
    let mut connecting = tokio::task::JoinSet::new();
    for (index, identity) in identities {
        let url = urls[index % urls.len()].clone();
        let (ca_pem, gate) = (ca_pem.to_owned(), gate.clone());
        connecting.spawn(async move {
            let _permit = gate.acquire_owned().await?;
            Device::connect(&url, &ca_pem, identity, index).await
        });
    }
    let mut devices = Vec::with_capacity(count);
    while let Some(connected) = connecting.join_next().await {
        devices.push(connected??);
    }
    report.insert(
        "connect_secs".into(),
        started.elapsed().as_secs_f64().into(),
    );
    Ok((devices, rss_before))
}

/// Fires a new condition on the probe device every 250 ms and times until the collector's
/// REST API lists a ticket for it.
async fn probe_tickets(
    mut device: Device,
    http: SocketAddr,
    api_key: &str,
    window: Duration,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<Vec<Duration>> {
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut probe = 0u32;
    while started.elapsed() < window && !stop.load(Ordering::Relaxed) {
        probe += 1;
        // A check of its own, so no fleet correlation holds it back.
        let check = format!("bench.probe{probe}");
        let sequence = device.next_sequence;
        device.next_sequence += 1;
        let sent = Instant::now();
        device
            .send_and_wait(vec![finding(
                sequence,
                &check,
                "/",
                pb::Severity::Critical,
                now_ms(),
            )])
            .await?;
        let path = format!("/api/v1/tickets?device={}&state=open&limit=500", device.id);
        loop {
            let body = http_get(http, &path, api_key).await?;
            if body.contains(&format!("\"{check}\"")) {
                latencies.push(sent.elapsed());
                break;
            }
            if sent.elapsed() > Duration::from_secs(30) {
                bail!("no ticket for {check} within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(latencies)
}

async fn http_get(address: SocketAddr, path: &str, api_key: &str) -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    stream
        .write_all(
            format!(
                "GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {api_key}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let text = String::from_utf8_lossy(&response).into_owned();
    if !text.starts_with("HTTP/1.1 200") {
        bail!("GET {path}: {}", text.lines().next().unwrap_or("no answer"));
    }
    Ok(text)
}

/// 4,000 rows a transaction, 200 a statement, as the collector's group commit writes them.
/// (A macro: the same code for both databases' connection types.)
macro_rules! insert_rows {
    ($pool:expr, $database:ty, $window:expr) => {{
        let mut connection = $pool.acquire().await?;
        sqlx::query(
            "INSERT INTO devices (id, hostname, agent_version, enrolled_at_ms, certificate_serial, \
             certificate_not_after_ms) VALUES ('raw-bench', 'raw', 'bench', 0, '00', 0)",
        )
        .execute(&mut *connection)
        .await?;
        let started = Instant::now();
        let mut sequence: i64 = 0;
        let mut rows = 0u64;
        let evidence = r#"{"resource":"/bench/0","value_pct":93,"threshold_pct":90}"#;
        while started.elapsed() < $window {
            sqlx::query("BEGIN").execute(&mut *connection).await?;
            for _ in 0..20 {
                let mut insert = sqlx::QueryBuilder::<$database>::new(
                    "INSERT INTO findings (device_id, sequence, check_name, resource, severity, summary, \
                     evidence_json, observed_at_ms, received_at_ms) ",
                );
                insert.push_values(0..200, |mut row, _| {
                    sequence += 1;
                    row.push_bind("raw-bench")
                        .push_bind(sequence)
                        .push_bind("disk.free_low")
                        .push_bind("/bench/0")
                        .push_bind("warning")
                        .push_bind("disk.free_low on /bench/0: WARNING")
                        .push_bind(evidence)
                        .push_bind(sequence)
                        .push_bind(sequence);
                });
                insert.build().execute(&mut *connection).await?;
            }
            sqlx::query("COMMIT").execute(&mut *connection).await?;
            rows += 4000;
        }
        rows
    }};
}

/// Raw inserts of finding rows into the collector's own schema, in transactions as large as
/// the collector's group commits, with the same durability settings: the database's limit.
async fn raw(flags: &Flags) -> anyhow::Result<()> {
    let window = Duration::from_secs(flags.number("secs", 10)?);
    let rows = if let Some(url) = flags.optional("postgres") {
        firstline_collector::store::Store::connect_postgres(url).await?;
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await?;
        insert_rows!(pool, sqlx::Postgres, window)
    } else {
        let dir = PathBuf::from(flags.text("sqlite-dir")?);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        firstline_collector::store::Store::open(&dir).await?;
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(dir.join(firstline_collector::store::DATABASE_FILE))
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Full);
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        insert_rows!(pool, sqlx::Sqlite, window)
    };
    println!(
        "{}",
        serde_json::json!({ "raw_inserts_per_sec": rows as f64 / window.as_secs_f64() })
    );
    Ok(())
}

/// Drops and creates a PostgreSQL database for one run, so every run starts empty.
async fn reset_database(flags: &Flags) -> anyhow::Result<()> {
    use sqlx::Connection;
    let name = flags.text("name")?;
    if !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        bail!("--name {name:?}: lowercase letters and underscores only");
    }
    let mut connection = sqlx::postgres::PgConnection::connect(flags.text("postgres")?).await?;
    // The name was checked above: lowercase letters and underscores only.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut connection)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut connection)
        .await?;
    Ok(())
}
