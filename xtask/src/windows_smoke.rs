//! The acceptance smoke of `cargo xtask windows test`: `firstline-agent.exe`, enrolled under
//! Wine against a Linux collector on loopback, turns its memory, TCP, DNS and HTTPS checks and
//! a Windows Error Reporting folder into tickets; its footprint is printed beside the Linux
//! agent's.
//!
//! Every packet stays on this machine: the collector and every target are on 127.0.0.1, the
//! gateway ping and the system's resolvers are off.

use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::windows::Wine;
use crate::{Children, capture, http_get, log_file, stop_child, tail, wait_until};

/// The checks the smoke must see as tickets of the Windows device.
const EXPECTED_CHECKS: &[(&str, &str)] = &[
    (
        "memory.available_pct",
        "memory (a threshold every machine is over)",
    ),
    ("tcp.connect", "TCP (a loopback port nobody listens on)"),
    (
        "dns.resolve",
        "DNS (asked of a loopback port that never answers)",
    ),
    (
        "https.reachable",
        "HTTPS (a loopback port nobody listens on)",
    ),
    ("crash.new_file", "a crash report in a WER folder"),
];
/// The application of the pretend crash, as its ticket's resource names it.
const CRASHED_APP: &str = "firstline-smoke-crash.exe";
/// How long the agent has, from its start, to make every ticket.
const TICKETS_DEADLINE: Duration = Duration::from_secs(120);
/// The smoke's folder inside the prefix (C:\firstline-enrolled).
const SMOKE_FOLDER: &str = "firstline-enrolled";
/// The source of the helper that asks Windows for a process's private bytes.
const PRIVATE_BYTES_C: &str = include_str!("../windows/private_bytes.c");

/// Enrolls `exe` under Wine with a fresh Linux collector, runs it with checks that fire on
/// loopback, drops a WER report folder, and waits for the five tickets.
pub(crate) fn enrolled_run(
    wine: &Wine,
    prefix: &Path,
    exe: &Path,
    target_dir: &Path,
) -> anyhow::Result<()> {
    let root = crate::workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    // The Linux collector (and agent, for the footprint beside it): the tests build both, so
    // this reuses that build.
    crate::windows::run_visibly(Command::new(&cargo).current_dir(&root).args([
        "build",
        "--locked",
        "-p",
        "firstline-collector",
        "-p",
        "firstline-agent",
    ]))?;
    let collector_bin = target_dir.join("debug/firstline-collector");
    let linux_agent_bin = target_dir.join("debug/firstline-agent");
    let private_bytes = build_private_bytes(&target_dir.join("windows-toolchain"))?;

    let work = target_dir.join("windows-smoke");
    if work.exists() {
        std::fs::remove_dir_all(&work).with_context(|| format!("removing {}", work.display()))?;
    }
    let data_dir = work.join("collector");
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let in_prefix = prefix.join("drive_c").join(SMOKE_FOLDER);
    if in_prefix.exists() {
        std::fs::remove_dir_all(&in_prefix)
            .with_context(|| format!("removing {}", in_prefix.display()))?;
    }
    std::fs::create_dir_all(&in_prefix)
        .with_context(|| format!("creating {}", in_prefix.display()))?;

    let grpc = format!("127.0.0.1:{}", free_tcp_port()?);
    let http = format!("127.0.0.1:{}", free_tcp_port()?);
    let closed_tcp = format!("127.0.0.1:{}", free_tcp_port()?);
    let closed_https = format!("127.0.0.1:{}", free_tcp_port()?);
    // A DNS server that never answers: bound (so no other program takes the port) and never
    // read. Held until the smoke ends.
    let silent_dns = UdpSocket::bind("127.0.0.1:0").context("binding a UDP port on loopback")?;
    let silent_dns_address = silent_dns.local_addr()?;

    let mut guard = Guard {
        children: Children(Vec::new()),
        wine: wine.clone(),
        prefix: prefix.to_owned(),
    };
    let collector_log = work.join("collector.log");
    crate::start_collector(
        &collector_bin,
        &data_dir,
        &grpc,
        &http,
        &collector_log,
        &mut guard.children,
    )?;
    eprintln!(
        "  collector on grpc {grpc}, http {http} (data in {})",
        data_dir.display()
    );

    let api_key = capture(
        Command::new(&collector_bin)
            .args([
                "apikey",
                "create",
                "windows-smoke",
                "--role",
                "admin",
                "--data-dir",
            ])
            .arg(&data_dir),
    )?;
    let token_for = || {
        capture(
            Command::new(&collector_bin)
                .args(["token", "create", "--ttl", "10m", "--data-dir"])
                .arg(&data_dir),
        )
    };
    let token = token_for()?;
    let ca = data_dir.join("ca.pem");
    std::fs::copy(&ca, in_prefix.join("ca.pem"))
        .with_context(|| format!("copying {} into the prefix", ca.display()))?;
    let windows_folder = format!(r"C:\{SMOKE_FOLDER}");

    // Enroll.
    let mut enroll = wine.command(prefix, exe);
    enroll
        .args([
            "enroll",
            "--collector",
            &format!("https://{grpc}"),
            "--token",
            &token,
        ])
        .arg("--ca-file")
        .arg(format!(r"{windows_folder}\ca.pem"))
        .arg("--state-dir")
        .arg(format!(r"{windows_folder}\state"));
    eprintln!("  $ {}", crate::windows::describe(&enroll));
    let enrolled = crate::windows::run_with_deadline(
        &mut enroll,
        Duration::from_secs(120),
        Stdio::piped(),
        true,
    )?;
    let said = String::from_utf8_lossy(&enrolled.stdout);
    if !enrolled.status.success() {
        bail!(
            "firstline-agent.exe enroll failed ({}): {said}",
            enrolled.status
        );
    }
    let device_id = device_id_from_enroll_output(&said)
        .with_context(|| format!("enroll printed no device id: {said:?}"))?;
    eprintln!("  enrolled under Wine as device {device_id}");

    // The config: every check that can fire on loopback fires; nothing leaves the machine.
    let config = agent_config(&closed_tcp, &closed_https, &silent_dns_address.to_string());
    std::fs::write(in_prefix.join("agent.toml"), &config)
        .with_context(|| format!("writing {}", in_prefix.join("agent.toml").display()))?;
    // WER's folders exist on every Windows; a fresh Wine prefix has none.
    let report_queue = prefix.join("drive_c/ProgramData/Microsoft/Windows/WER/ReportQueue");
    std::fs::create_dir_all(&report_queue)
        .with_context(|| format!("creating {}", report_queue.display()))?;

    let agent_log = work.join("agent.log");
    let mut run = wine.command(prefix, exe);
    run.arg("run")
        .arg("--config")
        .arg(format!(r"{windows_folder}\agent.toml"))
        .arg("--state-dir")
        .arg(format!(r"{windows_folder}\state"))
        .stdin(Stdio::null())
        .stdout(log_file(&agent_log)?)
        .stderr(log_file(&agent_log)?);
    eprintln!(
        "  $ {} (log: {})",
        crate::windows::describe(&run),
        agent_log.display()
    );
    let started = Instant::now();
    let agent = run
        .spawn()
        .context("starting firstline-agent.exe run under Wine")?;
    let agent_pid = agent.id();
    guard.children.0.push(("agent under Wine", agent));

    // The Linux agent with the same config, beside it, for the footprint's comparison.
    let linux_state = work.join("linux-agent");
    capture(
        Command::new(&linux_agent_bin)
            .args([
                "enroll",
                "--collector",
                &format!("https://{grpc}"),
                "--token",
            ])
            .arg(token_for()?)
            .arg("--ca-file")
            .arg(&ca)
            .arg("--state-dir")
            .arg(&linux_state),
    )?;
    let linux_config = work.join("linux-agent.toml");
    std::fs::write(&linux_config, &config)
        .with_context(|| format!("writing {}", linux_config.display()))?;
    let linux_log = work.join("linux-agent.log");
    let linux_agent = Command::new(&linux_agent_bin)
        .arg("run")
        .arg("--config")
        .arg(&linux_config)
        .arg("--state-dir")
        .arg(&linux_state)
        .stdin(Stdio::null())
        .stdout(log_file(&linux_log)?)
        .stderr(log_file(&linux_log)?)
        .spawn()
        .context("starting the Linux firstline-agent run")?;
    let linux_pid = linux_agent.id();
    guard.children.0.push(("Linux agent", linux_agent));

    wait_until(
        Duration::from_secs(60),
        &mut guard.children,
        &agent_log,
        || device_connected(&http, &api_key, &device_id),
    )
    .context("waiting for the agent under Wine to connect")?;
    eprintln!(
        "  the agent under Wine is connected ({:.1} s after its start)",
        started.elapsed().as_secs_f64()
    );

    // A crash, the way Windows Error Reporting files one: a folder and its Report.wer.
    let report_folder = report_queue.join(format!(
        "AppCrash_{CRASHED_APP}_1f2e3d4c5b6a79880f1e2d3c4b5a69788f9e0d1c_7a8b9c0d_{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&report_folder)
        .with_context(|| format!("creating {}", report_folder.display()))?;
    std::fs::write(report_folder.join("Report.wer"), report_wer())
        .with_context(|| format!("writing {}", report_folder.join("Report.wer").display()))?;
    eprintln!("  wrote a WER report into {}", report_folder.display());

    let mut seen_so_far = Vec::new();
    let mut last_said = Instant::now();
    loop {
        let found = tickets_of(&http, &api_key, &device_id).unwrap_or_default();
        let have: Vec<&str> = EXPECTED_CHECKS
            .iter()
            .map(|(check, _)| *check)
            .filter(|check| {
                found.iter().any(|(found_check, resource)| {
                    found_check == check && (*check != "crash.new_file" || resource == CRASHED_APP)
                })
            })
            .collect();
        if have != seen_so_far || last_said.elapsed() > Duration::from_secs(15) {
            eprintln!(
                "  {:>5.1} s: tickets for {} of {}: {}",
                started.elapsed().as_secs_f64(),
                have.len(),
                EXPECTED_CHECKS.len(),
                if have.is_empty() {
                    "none yet".to_owned()
                } else {
                    have.join(", ")
                }
            );
            seen_so_far = have.clone();
            last_said = Instant::now();
        }
        if have.len() == EXPECTED_CHECKS.len() {
            break;
        }
        for (name, child) in &mut guard.children.0 {
            if let Ok(Some(status)) = child.try_wait() {
                bail!(
                    "the {name} exited ({status}); last lines of {}:\n{}",
                    agent_log.display(),
                    tail(&agent_log)
                );
            }
        }
        if started.elapsed() > TICKETS_DEADLINE {
            let missing: Vec<String> = EXPECTED_CHECKS
                .iter()
                .filter(|(check, _)| !have.contains(check))
                .map(|(check, what)| format!("{check} ({what})"))
                .collect();
            bail!(
                "after {TICKETS_DEADLINE:?} no ticket for {}; the device's tickets: {found:?}; \
                 last lines of {}:\n{}",
                missing.join(", "),
                agent_log.display(),
                tail(&agent_log)
            );
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    eprintln!(
        "  every expected ticket exists for the Windows device {device_id} ({:.1} s after the agent started)",
        started.elapsed().as_secs_f64()
    );
    print_footprint(
        wine,
        prefix,
        &private_bytes,
        agent_pid,
        linux_pid,
        started.elapsed(),
    );
    drop(silent_dns);
    Ok(())
}

/// Stops the collector, the agents and Wine's server on every path out of the smoke.
struct Guard {
    children: Children,
    wine: Wine,
    prefix: PathBuf,
}

impl Drop for Guard {
    fn drop(&mut self) {
        for (_, child) in self.children.0.iter_mut().rev() {
            stop_child(child);
        }
        self.children.0.clear();
        self.wine.kill_server(&self.prefix);
    }
}

/// A TCP port on loopback that was free a moment ago (the OS picks it; nothing listens after).
fn free_tcp_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding a TCP port on loopback")?;
    Ok(listener.local_addr()?.port())
}

/// "enrolled as device 3f2a… with https://… (state in …)" → "3f2a…".
fn device_id_from_enroll_output(output: &str) -> Option<String> {
    let mut words = output.split_whitespace();
    words.find(|word| *word == "device")?;
    words.next().map(str::to_owned).filter(|id| !id.is_empty())
}

/// The smoke agent's config: the four checks pointed at loopback targets that fail, the memory
/// threshold at 100 % available (every machine is below it), everything that would reach
/// beyond this machine off, and the CPU check off (see `CPU_UNDER_WINE` in windows.rs).
fn agent_config(closed_tcp: &str, closed_https: &str, silent_dns: &str) -> String {
    format!(
        "\
# cargo xtask windows test: the enrolled smoke. Every target is on loopback.
[checks.cpu]
# sysinfo's CPU usage calls PdhEnumObjectsW, which Wine 8 only stubs: the process aborts.
enabled = false

[checks.memory]
interval = \"5s\"
available_pct = {{ raise = 100.0, clear = 100.0, for = \"0s\", clear_for = \"0s\" }}

[checks.network]
ping_gateway = false

[checks.tcp]
endpoints = [\"{closed_tcp}\"]
interval = \"5s\"
timeout = \"2s\"
for = \"0s\"

[checks.dns]
names = [\"intranet.firstline.invalid\"]
servers = [\"{silent_dns}\"]
system_resolver = false
interval = \"5s\"
timeout = \"1s\"
for = \"0s\"

[checks.https]
urls = [\"https://{closed_https}/\"]
interval = \"5s\"
timeout = \"2s\"
for = \"0s\"
"
    )
}

/// A Report.wer as Windows Error Reporting writes it: UTF-16LE with a byte-order mark.
fn report_wer() -> Vec<u8> {
    let text = format!(
        "Version=1\r\n\
         EventType=APPCRASH\r\n\
         EventTime=134089632000000000\r\n\
         ReportType=2\r\n\
         Consent=1\r\n\
         ReportIdentifier=5c7e2a4d-0b1f-4c3e-9a8d-{:012x}\r\n\
         Sig[0].Name=Application Name\r\n\
         Sig[0].Value={CRASHED_APP}\r\n\
         Sig[1].Name=Application Version\r\n\
         Sig[1].Value=1.2.3.4\r\n\
         Sig[2].Name=Application Timestamp\r\n\
         Sig[2].Value=65f1a2b3\r\n\
         Sig[3].Name=Fault Module Name\r\n\
         Sig[3].Value=ntdll.dll\r\n\
         Sig[4].Name=Fault Module Version\r\n\
         Sig[4].Value=10.0.19041.4355\r\n\
         Sig[5].Name=Fault Module Timestamp\r\n\
         Sig[5].Value=a1b2c3d4\r\n\
         Sig[6].Name=Exception Code\r\n\
         Sig[6].Value=c0000005\r\n\
         Sig[7].Name=Exception Offset\r\n\
         Sig[7].Value=000000000001e2f3\r\n\
         AppName=Firstline smoke crash\r\n\
         AppPath=C:\\Program Files\\Firstline Smoke\\{CRASHED_APP}\r\n",
        std::process::id()
    );
    let mut bytes = vec![0xff, 0xfe];
    for unit in text.encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    bytes
}

fn device_connected(http: &str, api_key: &str, device_id: &str) -> bool {
    let Ok((200, body)) = http_get(http, &format!("/api/v1/devices/{device_id}"), Some(api_key))
    else {
        return false;
    };
    serde_json::from_str::<serde_json::Value>(&body)
        .is_ok_and(|device| device["id"] == device_id && device["connected"] == true)
}

/// The (check, resource) of every ticket of the device.
fn tickets_of(http: &str, api_key: &str, device_id: &str) -> anyhow::Result<Vec<(String, String)>> {
    let (status, body) = http_get(
        http,
        &format!("/api/v1/tickets?device={device_id}&limit=200"),
        Some(api_key),
    )?;
    if status != 200 {
        bail!("GET /api/v1/tickets: {status} {body}");
    }
    let page: serde_json::Value =
        serde_json::from_str(&body).with_context(|| format!("tickets are not JSON: {body}"))?;
    let tickets = page["tickets"]
        .as_array()
        .with_context(|| format!("no tickets list: {body}"))?;
    Ok(tickets
        .iter()
        .map(|ticket| {
            (
                ticket["check"].as_str().unwrap_or_default().to_owned(),
                ticket["resource"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect())
}

/// Compiles the private-bytes helper (see `xtask/windows/private_bytes.c`) unless current.
fn build_private_bytes(toolchain_dir: &Path) -> anyhow::Result<PathBuf> {
    let dir = toolchain_dir.join("private-bytes");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let source = dir.join("private_bytes.c");
    let exe = dir.join("private_bytes.exe");
    if std::fs::read_to_string(&source).ok().as_deref() == Some(PRIVATE_BYTES_C) && exe.is_file() {
        return Ok(exe);
    }
    std::fs::write(&source, PRIVATE_BYTES_C)
        .with_context(|| format!("writing {}", source.display()))?;
    crate::windows::run_visibly(
        Command::new("x86_64-w64-mingw32-gcc-posix")
            .args(["-O2", "-s", "-o"])
            .arg(&exe)
            .arg(&source)
            .arg("-lpsapi"),
    )?;
    Ok(exe)
}

/// The agent's memory under Wine and on Linux, measured at the same moment with the same
/// config: Windows' own counters (GetProcessMemoryInfo, asked under Wine), and the Linux
/// memory of the process that runs `firstline-agent.exe` (Wine's loader execs into it, so it
/// is the child's pid), beside the Linux agent's.
fn print_footprint(
    wine: &Wine,
    prefix: &Path,
    private_bytes: &Path,
    wine_pid: u32,
    linux_pid: u32,
    running_for: Duration,
) {
    let kib = |bytes: u64| bytes / 1024;
    eprintln!(
        "  footprint after {:.0} s, same config (Wine is not Windows: Wine's own DLLs are in \
         the Windows process, and real Windows accounts memory its own way):",
        running_for.as_secs_f64()
    );
    let mut ask = wine.command(prefix, private_bytes);
    ask.arg("firstline-agent.exe");
    match crate::windows::run_with_deadline(
        &mut ask,
        Duration::from_secs(60),
        Stdio::piped(),
        false,
    ) {
        Ok(output) => {
            let said = String::from_utf8_lossy(&output.stdout);
            let field = |name: &str| {
                said.split_whitespace().find_map(|word| {
                    word.strip_prefix(name)?
                        .strip_prefix('=')?
                        .parse::<u64>()
                        .ok()
                })
            };
            match (field("private_bytes"), field("working_set")) {
                (Some(private), Some(working_set)) => eprintln!(
                    "    firstline-agent.exe under Wine: private bytes {} KiB, working set {} KiB (GetProcessMemoryInfo)",
                    kib(private),
                    kib(working_set)
                ),
                _ => eprintln!(
                    "    firstline-agent.exe under Wine: GetProcessMemoryInfo gave nothing ({}): {said}",
                    output.status
                ),
            }
        }
        Err(e) => eprintln!("    firstline-agent.exe under Wine: GetProcessMemoryInfo: {e:#}"),
    }
    for (what, pid) in [
        ("firstline-agent.exe under Wine, as Linux sees it", wine_pid),
        ("firstline-agent on Linux", linux_pid),
    ] {
        match linux_memory_kib(pid) {
            Some((rss, pss)) => eprintln!("    {what}: RSS {rss} KiB, PSS {pss} KiB"),
            None => eprintln!("    {what}: /proc/{pid}/smaps_rollup could not be read"),
        }
    }
}

/// A Linux process's resident and proportional set sizes, in KiB.
fn linux_memory_kib(pid: u32) -> Option<(u64, u64)> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let field = |name: &str| {
        rollup.lines().find_map(|line| {
            let rest = line.strip_prefix(name)?.strip_prefix(':')?;
            rest.split_whitespace().next()?.parse::<u64>().ok()
        })
    };
    Some((field("Rss")?, field("Pss")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_device_id_is_read_from_what_enroll_prints() {
        for (output, expected) in [
            (
                "enrolled as device 3f2a-77 with https://127.0.0.1:7443 (state in C:\\x)\r\n",
                Some("3f2a-77"),
            ),
            ("enrolled as device", None),
            ("error: the token was refused", None),
        ] {
            assert_eq!(
                device_id_from_enroll_output(output).as_deref(),
                expected,
                "{output:?}"
            );
        }
    }

    #[test]
    fn the_smoke_report_is_utf16_with_a_bom() {
        let bytes = report_wer();
        assert_eq!(&bytes[..2], &[0xff, 0xfe]);
        let units: Vec<u16> = bytes[2..]
            .chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
            .collect();
        let text = String::from_utf16(&units).expect("UTF-16");
        assert!(
            text.contains(&format!("Sig[0].Value={CRASHED_APP}")),
            "{text}"
        );
    }
}
