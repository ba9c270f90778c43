//! `cargo xtask bench agent`: the agent's resident memory and CPU at its default intervals,
//! measured side by side with node_exporter and zabbix_agentd (when installed) in the same
//! window on the same machine, and reported as ratios.
//!
//! Memory is the proportional set size (PSS) of each process tree, which charges shared pages
//! fairly; CPU is user+system time of the tree over the window, as CPU seconds per minute.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

pub struct AgentBench {
    pub window: Duration,
}

struct Subject {
    name: String,
    child: Child,
    /// Work a real deployment would drive: a Prometheus scrape, a Zabbix poll.
    poll: Option<Box<dyn FnMut()>>,
    poll_every: Duration,
    cpu: CpuMeter,
    pss_peak_kb: u64,
    rss_peak_kb: u64,
}

impl Drop for Subject {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        std::thread::sleep(Duration::from_millis(200));
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl AgentBench {
    pub fn parse(arguments: &[String]) -> anyhow::Result<Self> {
        let mut bench = AgentBench {
            window: Duration::from_secs(120),
        };
        let mut arguments = arguments.iter();
        while let Some(argument) = arguments.next() {
            match argument.as_str() {
                "--secs" => {
                    let value = arguments.next().context("--secs needs a value")?;
                    bench.window = Duration::from_secs(
                        value.parse().with_context(|| format!("--secs {value:?}"))?,
                    );
                }
                other => bail!("unknown argument {other:?}"),
            }
        }
        Ok(bench)
    }

    pub fn run(&self) -> anyhow::Result<()> {
        let root = crate::workspace_root();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        eprintln!("building release binaries (cargo's progress follows) …");
        // The agent as shipped: the `agent` profile (size-optimised); the collector as release.
        for (profile, package) in [
            ("release", "firstline-collector"),
            ("agent", "firstline-agent"),
        ] {
            let status = Command::new(&cargo)
                .current_dir(&root)
                .args(["build", "--profile", profile, "-p", package])
                .status()?;
            if !status.success() {
                bail!("cargo build --profile {profile} -p {package} failed");
            }
        }
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        let release = target.join("release");
        let agent_bin = target.join("agent").join("firstline-agent");
        let work = target.join("bench-agent");
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work)?;

        // A collector for the agent to talk to, as in production (not measured).
        let grpc = free_port()?;
        let http = free_port()?;
        let data_dir = work.join("collector");
        let mut collector = Command::new(release.join("firstline-collector"))
            .args(["serve", "--data-dir"])
            .arg(&data_dir)
            .args([
                "--grpc",
                &format!("127.0.0.1:{grpc}"),
                "--http",
                &format!("127.0.0.1:{http}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let _collector_guard = KillOnDrop(&mut collector);
        wait_for_port(http)?;
        let token = output(
            Command::new(release.join("firstline-collector"))
                .args(["token", "create", "--data-dir"])
                .arg(&data_dir),
        )?;
        let state_dir = work.join("agent");
        output(
            Command::new(&agent_bin)
                .args([
                    "enroll",
                    "--collector",
                    &format!("https://127.0.0.1:{grpc}"),
                    "--token",
                    &token,
                    "--ca-file",
                ])
                .arg(data_dir.join("ca.pem"))
                .arg("--state-dir")
                .arg(&state_dir),
        )?;
        // The shipped defaults (a config file of our own, so no machine config leaks in), minus
        // the gateway ping and the system's resolvers: a bench sends nothing beyond loopback.
        let config = work.join("agent.toml");
        std::fs::write(
            &config,
            "[checks.network]\nping_gateway = false\n\n[checks.dns]\nsystem_resolver = false\n",
        )?;

        let mut subjects = Vec::new();
        subjects.push(Subject::start(
            "firstline-agent",
            Command::new(&agent_bin)
                .args(["run", "--config"])
                .arg(&config)
                .arg("--state-dir")
                .arg(&state_dir)
                .env("RUST_LOG", "warn"),
            None,
            Duration::ZERO,
        )?);
        if let Some(node_exporter) = find_program(&["prometheus-node-exporter", "node_exporter"]) {
            let port = free_port()?;
            subjects.push(Subject::start(
                "node_exporter",
                Command::new(node_exporter).arg(format!("--web.listen-address=127.0.0.1:{port}")),
                // Scraped every 15 s, a common Prometheus setting.
                Some(Box::new(move || {
                    let _ = http_get(port, "/metrics");
                })),
                Duration::from_secs(15),
            )?);
        } else {
            eprintln!("node_exporter: not installed (apt-get install prometheus-node-exporter)");
        }
        if let Some(zabbix) = find_program(&["zabbix_agentd"]) {
            // Zabbix only accepts ports up to 32767.
            let port = (20_000..32_767)
                .find(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok())
                .context("no free port below 32768 for zabbix_agentd")?;
            let zabbix_dir = work.join("zabbix");
            std::fs::create_dir_all(&zabbix_dir)?;
            let conf = zabbix_dir.join("zabbix_agentd.conf");
            std::fs::write(
                &conf,
                format!(
                    "Server=127.0.0.1\nListenIP=127.0.0.1\nListenPort={port}\nPidFile={}\nLogFile={}\nHostname=bench\nAllowRoot=1\n",
                    zabbix_dir.join("zabbix_agentd.pid").display(),
                    zabbix_dir.join("zabbix_agentd.log").display()
                ),
            )?;
            subjects.push(Subject::start(
                "zabbix_agentd",
                Command::new(zabbix).arg("-f").arg("-c").arg(&conf),
                // The same facts the agent looks at, polled at Zabbix's default 1 minute.
                Some(Box::new(move || {
                    for key in [
                        "system.cpu.util",
                        "vm.memory.size[available]",
                        "vfs.fs.size[/,pused]",
                        "system.uptime",
                        "net.if.discovery",
                    ] {
                        let _ = zabbix_get(port, key);
                    }
                })),
                Duration::from_secs(60),
            )?);
        } else {
            eprintln!("zabbix_agentd: not installed (apt-get install zabbix-agent)");
        }

        // Let everything start up and settle its allocations before the window opens.
        std::thread::sleep(Duration::from_secs(5));
        for subject in &mut subjects {
            subject.cpu.start(subject.child.id());
        }
        eprintln!(
            "measuring {} for {}s …",
            subjects
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            self.window.as_secs()
        );
        let started = Instant::now();
        let mut next_poll: Vec<Instant> = subjects.iter().map(|_| started).collect();
        while started.elapsed() < self.window {
            for (index, subject) in subjects.iter_mut().enumerate() {
                if let Ok(Some(status)) = subject.child.try_wait() {
                    bail!("{} exited during the benchmark ({status})", subject.name);
                }
                if let Some(poll) = subject.poll.as_mut()
                    && Instant::now() >= next_poll[index]
                {
                    poll();
                    next_poll[index] = Instant::now() + subject.poll_every;
                }
                subject.cpu.sample(subject.child.id());
                let (pss, rss) = tree_memory_kb(subject.child.id());
                subject.pss_peak_kb = subject.pss_peak_kb.max(pss);
                subject.rss_peak_kb = subject.rss_peak_kb.max(rss);
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        let minutes = started.elapsed().as_secs_f64() / 60.0;

        println!();
        println!(
            "agent benchmark: {:.0} s window, default intervals, same machine, same window",
            minutes * 60.0
        );
        println!(
            "{:<18} {:>12} {:>12} {:>14} {:>10}",
            "process tree", "PSS peak MB", "RSS peak MB", "CPU s/minute", "processes"
        );
        let mut rows = Vec::new();
        for subject in &mut subjects {
            subject.cpu.sample(subject.child.id());
            let cpu_per_minute = subject.cpu.seconds() / minutes;
            let processes = tree(subject.child.id()).len();
            println!(
                "{:<18} {:>12.2} {:>12.2} {:>14.4} {:>10}",
                subject.name,
                subject.pss_peak_kb as f64 / 1024.0,
                subject.rss_peak_kb as f64 / 1024.0,
                cpu_per_minute,
                processes
            );
            rows.push((
                subject.name.clone(),
                subject.pss_peak_kb as f64 / 1024.0,
                cpu_per_minute,
            ));
        }
        if let Some((_, agent_pss, agent_cpu)) = rows.first().cloned() {
            for (name, pss, cpu) in rows.iter().skip(1) {
                println!(
                    "firstline-agent / {name}: memory {:.2}x, CPU {:.2}x",
                    agent_pss / pss.max(0.001),
                    agent_cpu / cpu.max(0.000_001)
                );
            }
        }
        Ok(())
    }
}

impl Subject {
    fn start(
        name: &str,
        command: &mut Command,
        poll: Option<Box<dyn FnMut()>>,
        poll_every: Duration,
    ) -> anyhow::Result<Self> {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        Ok(Subject {
            name: name.to_owned(),
            child,
            poll,
            poll_every,
            cpu: CpuMeter::default(),
            pss_peak_kb: 0,
            rss_peak_kb: 0,
        })
    }
}

struct KillOnDrop<'a>(&'a mut Child);

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let mut directories: Vec<PathBuf> = std::env::split_paths(&path).collect();
    directories.extend(["/usr/sbin", "/usr/bin", "/sbin"].map(PathBuf::from));
    names
        .iter()
        .flat_map(|name| directories.iter().map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

fn output(command: &mut Command) -> anyhow::Result<String> {
    let output = command.stdin(Stdio::null()).output()?;
    if !output.status.success() {
        bail!(
            "{command:?}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub(crate) fn wait_for_port(port: u16) -> anyhow::Result<()> {
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > Duration::from_secs(30) {
            bail!("nothing listening on port {port} after 30 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

fn http_get(port: u16, path: &str) -> std::io::Result<usize> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut body = Vec::new();
    stream.read_to_end(&mut body)?;
    Ok(body.len())
}

/// One Zabbix passive check, as `zabbix_get` does it.
fn zabbix_get(port: u16, key: &str) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut request = b"ZBXD\x01".to_vec();
    request.extend_from_slice(&(key.len() as u64).to_le_bytes());
    request.extend_from_slice(key.as_bytes());
    stream.write_all(&request)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    Ok(response)
}

/// `pid` and all its descendants.
fn tree(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            if let Some(parent) = stat_fields(child).and_then(|fields| fields.get(1)?.parse().ok())
            {
                parents.push((child, parent));
            }
        }
    }
    let mut members = vec![pid];
    let mut index = 0;
    while index < members.len() {
        let parent = members[index];
        members.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        index += 1;
    }
    members
}

/// Fields of /proc/PID/stat after the command name (which may contain spaces).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &text[text.rfind(')')? + 2..];
    Some(after.split_whitespace().map(str::to_owned).collect())
}

/// CPU time of a process tree at nanosecond resolution: each thread's run time from
/// /proc/PID/task/TID/schedstat, sampled often and summed as deltas (a thread that appears
/// mid-window counts from zero), plus reaped children's time from /proc/PID/stat, which the
/// kernel only keeps in clock ticks.
#[derive(Debug, Default)]
struct CpuMeter {
    threads: std::collections::HashMap<(u32, u32), u64>,
    reaped_ticks: std::collections::HashMap<u32, u64>,
    nanoseconds: u64,
    ticks: u64,
    started: bool,
}

impl CpuMeter {
    fn start(&mut self, pid: u32) {
        self.sample(pid);
        self.nanoseconds = 0;
        self.ticks = 0;
        self.started = true;
    }

    fn sample(&mut self, pid: u32) {
        for member in tree(pid) {
            if let Ok(tasks) = std::fs::read_dir(format!("/proc/{member}/task")) {
                for task in tasks.flatten() {
                    let Ok(tid) = task.file_name().to_string_lossy().parse::<u32>() else {
                        continue;
                    };
                    let Some(runtime) = std::fs::read_to_string(task.path().join("schedstat"))
                        .ok()
                        .and_then(|text| text.split_whitespace().next()?.parse::<u64>().ok())
                    else {
                        continue;
                    };
                    // A thread first seen after the start ran all of its time inside the window.
                    let previous = self
                        .threads
                        .insert((member, tid), runtime)
                        .unwrap_or(if self.started { 0 } else { runtime });
                    self.nanoseconds += runtime.saturating_sub(previous);
                }
            }
            // cutime + cstime (fields 16 and 17): children that have exited and been reaped.
            if let Some(fields) = stat_fields(member) {
                let reaped: u64 = (13..15)
                    .filter_map(|i| fields.get(i)?.parse::<u64>().ok())
                    .sum();
                let previous = self
                    .reaped_ticks
                    .insert(member, reaped)
                    .unwrap_or(if self.started { 0 } else { reaped });
                self.ticks += reaped.saturating_sub(previous);
            }
        }
    }

    fn seconds(&self) -> f64 {
        self.nanoseconds as f64 / 1e9 + self.ticks as f64 / 100.0
    }
}

/// (PSS, RSS) of the tree in kB.
fn tree_memory_kb(pid: u32) -> (u64, u64) {
    let mut pss = 0;
    let mut rss = 0;
    for member in tree(pid) {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{member}/smaps_rollup")) else {
            continue;
        };
        for line in text.lines() {
            let value = |prefix: &str| {
                line.strip_prefix(prefix)
                    .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
            };
            if let Some(kb) = value("Pss:") {
                pss += kb;
            } else if let Some(kb) = value("Rss:") {
                rss += kb;
            }
        }
    }
    (pss, rss)
}
