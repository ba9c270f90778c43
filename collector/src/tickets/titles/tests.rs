//! Titles per check, from evidence shaped as the agent's checks write it; and, in every
//! language, no OS error, path or unformatted placeholder in any of them.

use firstline_i18n::{Lang, Message};

use super::*;

/// `(check, resource, summary, evidence, English title)`.
const DEVICE_CASES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "dns.resolve",
        "intranet.example.com",
        "intranet.example.com does not resolve: 192.0.2.53:53 says the name does not exist (NXDOMAIN)",
        r#"{"name": "intranet.example.com", "server": "192.0.2.53:53", "response_code": "NXDOMAIN",
            "addresses": [], "duration_ms": 3.0, "errors": []}"#,
        "intranet.example.com does not resolve (DNS server 192.0.2.53 says it does not exist)",
    ),
    (
        "dns.resolve",
        "intranet.example.com",
        "intranet.example.com does not resolve: 2001:db8::53 answers SERVFAIL",
        r#"{"name": "intranet.example.com", "server": "[2001:db8::53]:53", "response_code": "SERVFAIL",
            "addresses": [], "errors": []}"#,
        "intranet.example.com does not resolve (DNS server 2001:db8::53 answers SERVFAIL)",
    ),
    (
        "dns.resolve",
        "intranet.example.com",
        "intranet.example.com does not resolve: failed to lookup address information: Name or service not known",
        r#"{"name": "intranet.example.com", "server": null, "response_code": null, "addresses": [],
            "errors": ["192.0.2.53:53: no answer within 2s", "system: failed to lookup address information: Name or service not known"]}"#,
        "intranet.example.com does not resolve (no DNS server answers)",
    ),
    (
        "dns.resolve",
        "intranet.example.com",
        "intranet.example.com does not resolve: failed to lookup address information: Name or service not known",
        "{}",
        "intranet.example.com does not resolve",
    ),
    (
        "https.reachable",
        "https://intranet.example.com/wiki",
        "https://intranet.example.com/wiki fails at connect: 192.0.2.80:443: Connection refused (os error 111)",
        r#"{"url": "https://intranet.example.com/wiki", "failed_stage": "connect",
            "error": "192.0.2.80:443: Connection refused (os error 111)", "addresses": ["192.0.2.80:443"],
            "connect_ms": null, "tls_ms": null, "http_status": null, "total_ms": 1.2, "certificate": null}"#,
        "intranet.example.com refuses connections",
    ),
    (
        "https.reachable",
        "https://intranet.example.com:8443/",
        "https://intranet.example.com:8443/ fails at resolve: cannot resolve intranet.example.com:8443: failed to lookup address information: Name or service not known",
        r#"{"url": "https://intranet.example.com:8443/", "failed_stage": "resolve",
            "error": "cannot resolve intranet.example.com:8443: failed to lookup address information: Name or service not known"}"#,
        "intranet.example.com:8443 cannot be reached: its name does not resolve",
    ),
    (
        "https.reachable",
        "https://mail.example.com/owa",
        "https://mail.example.com/owa fails at tls: TLS handshake with mail.example.com:443 failed: invalid peer certificate: UnknownIssuer",
        r#"{"url": "https://mail.example.com/owa", "failed_stage": "tls",
            "error": "TLS handshake with mail.example.com:443 failed: invalid peer certificate: UnknownIssuer"}"#,
        "mail.example.com: the secure connection (TLS) fails",
    ),
    (
        "https.reachable",
        "https://intranet.example.com/",
        "https://intranet.example.com/ fails at http: https://intranet.example.com/ answered HTTP 503",
        r#"{"url": "https://intranet.example.com/", "failed_stage": "http", "http_status": 503,
            "error": "https://intranet.example.com/ answered HTTP 503"}"#,
        "intranet.example.com answers with an error (HTTP 503)",
    ),
    (
        "https.reachable",
        "https://intranet.example.com/",
        "https://intranet.example.com/ fails at connect: 192.0.2.80:443: timed out after 5s",
        r#"{"url": "https://intranet.example.com/", "failed_stage": "connect",
            "error": "192.0.2.80:443: timed out after 5s"}"#,
        "intranet.example.com does not answer (the connection times out)",
    ),
    (
        "https.cert_expiry_days",
        "https://intranet.example.com/",
        "The certificate of https://intranet.example.com/ expires in 6 days",
        r#"{"url": "https://intranet.example.com/", "subject": "CN=intranet.example.com",
            "issuer": "CN=Example CA", "not_after_unix": 1790000000, "days_left": 6.4}"#,
        "The certificate of intranet.example.com expires in 6 days",
    ),
    (
        "https.cert_expiry_days",
        "https://intranet.example.com/",
        "The certificate of https://intranet.example.com/ expired 3 days ago",
        r#"{"url": "https://intranet.example.com/", "days_left": -2.5}"#,
        "The certificate of intranet.example.com expired 3 days ago",
    ),
    (
        "https.cert_expiry_days",
        "https://intranet.example.com/",
        "The certificate of https://intranet.example.com/ could not be read",
        r#"{"url": "https://intranet.example.com/"}"#,
        "The certificate of intranet.example.com cannot be read",
    ),
    (
        "tcp.connect",
        "files.example.com:445",
        "files.example.com:445 is unreachable: cannot resolve files.example.com:445: failed to lookup address information: Name or service not known",
        r#"{"endpoint": "files.example.com:445", "addresses": [], "connected": null, "connect_ms": null,
            "failed_stage": "resolve", "error": "cannot resolve files.example.com:445: failed to lookup address information: Name or service not known"}"#,
        "files.example.com:445 cannot be reached: its name does not resolve",
    ),
    (
        "tcp.connect",
        "files.example.com:445",
        "files.example.com:445 is unreachable: 192.0.2.10:445: No route to host (os error 113)",
        r#"{"endpoint": "files.example.com:445", "failed_stage": "connect",
            "error": "192.0.2.10:445: No route to host (os error 113)"}"#,
        "files.example.com:445 cannot be reached",
    ),
    (
        "disk.used_pct",
        "C:\\",
        "Disk C:\\ is 97% full (1.2 GB free of 237.9 GB)",
        r#"{"mount_point": "C:\\", "device": "\\\\?\\Volume{1b2c}", "file_system": "NTFS",
            "total_bytes": 255471714304, "available_bytes": 1288490188, "used_pct": 96.6, "raise_pct": 90.0}"#,
        "Disk C: is 97% full",
    ),
    (
        "disk.used_pct",
        "/",
        "Disk / is 93% full (3.1 GB free of 45.0 GB)",
        r#"{"mount_point": "/", "device": "/dev/sda2", "file_system": "ext4", "used_pct": 93.2}"#,
        "Disk / is 93% full",
    ),
    (
        "disk.inodes_used_pct",
        "/var",
        "Disk /var has used 95% of its inodes (5000 of 100000 free)",
        r#"{"mount_point": "/var", "device": "/dev/sda3", "inodes_total": 100000, "inodes_free": 5000,
            "inodes_used_pct": 95.0}"#,
        "Disk /var has used 95% of its file slots (inodes)",
    ),
    (
        "memory.available_pct",
        "ram",
        "Memory: 4% available (320 MB of 8.0 GB)",
        r#"{"total_bytes": 8589934592, "available_bytes": 335544320, "available_pct": 3.9, "swap_used_bytes": 0}"#,
        "Only 4% of memory is free",
    ),
    (
        "memory.swap_used_pct",
        "swap",
        "Swap is 88% used (1.8 GB of 2.0 GB)",
        r#"{"swap_total_bytes": 2147483648, "swap_used_bytes": 1889785610, "swap_used_pct": 88.0}"#,
        "Swap is 88% used",
    ),
    (
        "cpu.usage_pct",
        "cpu",
        "CPU at 98% of 8 cores; busiest: MsMpEng.exe (71%)",
        r#"{"usage_pct": 97.6, "logical_cores": 8, "top_by_cpu": [
            {"pid": 4012, "name": "MsMpEng.exe", "cpu_pct": 71.0, "memory_bytes": 104857600, "memory": "100.0 MB"}],
            "top_by_memory": []}"#,
        "The processor is 98% busy, mostly with MsMpEng.exe",
    ),
    (
        "cpu.usage_pct",
        "cpu",
        "CPU at 95% of 4 cores",
        r#"{"usage_pct": 95.0, "logical_cores": 4, "top_by_cpu": [], "top_by_memory": []}"#,
        "The processor is 95% busy",
    ),
    (
        "thermal.temperature_c",
        "coretemp Package id 0",
        "coretemp Package id 0 is at 96 °C",
        r#"{"sensor": "coretemp Package id 0", "temperature_c": 96.2, "max_c": 100.0, "critical_c": 105.0}"#,
        "coretemp Package id 0 is at 96 °C",
    ),
    (
        "battery.health_pct",
        "BAT0",
        "Battery BAT0 holds 41% of its design capacity, 912 charge cycles",
        r#"{"battery": "BAT0", "health_pct": 41.3, "cycle_count": 912, "charge_pct": 80.0, "status": "Discharging"}"#,
        "Battery BAT0 holds only 41% of its original charge",
    ),
    (
        "smart.failing",
        "/dev/sda",
        "Disk /dev/sda (Samsung SSD 860 EVO) FAILS its SMART self-assessment: back up and replace it",
        r#"{"device": "/dev/sda", "model": "Samsung SSD 860 EVO", "serial": "S3Z1", "passed": false,
            "temperature_c": 41, "reallocated_sectors": 112, "percentage_used": null}"#,
        "Disk Samsung SSD 860 EVO is failing (SMART): back it up and replace it",
    ),
    (
        "smart.failing",
        "/dev/nvme0n1",
        "Disk /dev/nvme0n1 () FAILS its SMART self-assessment: back up and replace it",
        r#"{"device": "/dev/nvme0n1", "model": "", "passed": false}"#,
        "Disk nvme0n1 is failing (SMART): back it up and replace it",
    ),
    (
        "service.not_running",
        "cups",
        "Service cups is not running (failed/failed)",
        r#"{"service": "cups", "load_state": "loaded", "active_state": "failed", "sub_state": "failed"}"#,
        "Service cups has failed",
    ),
    (
        "service.not_running",
        "Spooler",
        "Service Spooler is not running (inactive/stopped)",
        r#"{"service": "Spooler", "load_state": "loaded", "active_state": "inactive", "sub_state": "stopped"}"#,
        "Service Spooler is not running",
    ),
    (
        "service.not_running",
        "sshd",
        "Service sshd is not installed",
        r#"{"service": "sshd", "load_state": "not-found", "active_state": "inactive", "sub_state": "dead"}"#,
        "Service sshd is not installed",
    ),
    (
        "os.reboot_pending",
        "os",
        "A reboot is pending to finish installing updates",
        r#"{"pending": true, "requested_by": ["Windows Update"]}"#,
        "A restart is needed to finish installing updates",
    ),
    (
        "clock.skew_secs",
        "collector",
        "This computer's clock is 95 s behind the collector's",
        r#"{"skew_ms": 95200, "reference": "collector"}"#,
        "The clock is 95 seconds behind",
    ),
    (
        "clock.skew_secs",
        "collector",
        "This computer's clock is 600 s ahead of the collector's",
        r#"{"skew_ms": -600000, "reference": "collector"}"#,
        "The clock is 10 minutes ahead",
    ),
    (
        "network.gateway_missing",
        "ipv4",
        "No default gateway: this computer has no route to other networks",
        r#"{"default_routes": []}"#,
        "No default gateway: this device cannot reach other networks",
    ),
    (
        "network.gateway_loss_pct",
        "192.0.2.1",
        "Gateway 192.0.2.1: 60% packet loss (2 of 5 answered, average 3.1 ms)",
        r#"{"gateway": "192.0.2.1", "sent": 5, "received": 2, "loss_pct": 60.0, "rtt_ms": [3.0, 3.2]}"#,
        "Gateway 192.0.2.1 loses 60% of packets",
    ),
    (
        "network.gateway_loss_pct",
        "192.0.2.1",
        "Gateway 192.0.2.1: packet loss not measured",
        r#"{"gateway": "192.0.2.1"}"#,
        "Packet loss to gateway 192.0.2.1 cannot be measured",
    ),
    (
        "network.gateway_rtt_ms",
        "192.0.2.1",
        "Gateway 192.0.2.1 answers in 250.5 ms on average",
        r#"{"gateway": "192.0.2.1", "rtt_ms": [240.0, 261.0]}"#,
        "Gateway 192.0.2.1 answers slowly (251 ms)",
    ),
    (
        "network.collector_unreachable",
        "collector.example.com:7443",
        "Collector collector.example.com:7443 unreachable: 192.0.2.7:7443: Connection refused (os error 111)",
        r#"{"endpoint": "collector.example.com:7443", "addresses": ["192.0.2.7:7443"], "connect_ms": null,
            "failed_stage": "connect", "error": "192.0.2.7:7443: Connection refused (os error 111)"}"#,
        "The collector collector.example.com:7443 cannot be reached",
    ),
    (
        "network.collector_latency_ms",
        "collector.example.com:7443",
        "Connecting to the collector collector.example.com:7443 takes 812 ms",
        r#"{"endpoint": "collector.example.com:7443", "connect_ms": 812.4}"#,
        "Connecting to the collector takes 812 ms",
    ),
    (
        "crash.new_file",
        "outlook.exe",
        r"3 new crash report(s) from outlook.exe in the last 1h (latest: C:\ProgramData\Microsoft\Windows\WER\ReportArchive\AppCrash_OUTLOOK.EXE_1f2e3d4c5b6a7980_abc\Report.wer)",
        r#"{"watch": "app-crashes", "path": "C:\\ProgramData\\Microsoft\\Windows\\WER", "count": 3,
            "latest": ["C:\\ProgramData\\Microsoft\\Windows\\WER\\ReportArchive\\AppCrash_OUTLOOK.EXE_1f2e3d4c5b6a7980_abc\\Report.wer"],
            "app_version": "16.0.17928.20114", "application": "outlook.exe",
            "fault_module": "mso20win32client.dll", "exception_code": "c0000005"}"#,
        "Outlook crashed 3 times in the last hour",
    ),
    (
        "crash.new_file",
        "_usr_bin_firefox",
        "1 new crash report(s) from _usr_bin_firefox in the last 30m (latest: /var/crash/_usr_bin_firefox.1000.crash)",
        r#"{"watch": "app-crashes", "path": "/var/crash", "count": 1, "latest": ["/var/crash/_usr_bin_firefox.1000.crash"]}"#,
        "Firefox crashed once in the last 30 minutes",
    ),
    (
        "crash.new_file",
        "Safari",
        "2 new crash report(s) from Safari",
        r#"{"watch": "app-crashes", "path": "/Library/Logs/DiagnosticReports", "count": 2, "window_secs": 7200}"#,
        "Safari crashed 2 times in the last 2 hours",
    ),
    (
        "log.match",
        "app-errors",
        "4 log line(s) matching watch app-errors in the last 1h (latest: Jan 1 kernel: Out of memory: Killed process 4242 (java))",
        r#"{"watch": "app-errors", "path": "/var/log/syslog", "count": 4,
            "latest": ["Jan 1 kernel: Out of memory: Killed process 4242 (java)"]}"#,
        "4 log lines match “app-errors” in the last hour",
    ),
    (
        "agent.outbox_evicted",
        "outbox",
        "The outbox was full: 120 findings were dropped (480 in all)",
        r#"{"evicted_now": 120, "evicted_total": 480}"#,
        "The agent dropped 120 findings: its outbox was full",
    ),
    (
        "agent.outbox_damaged",
        "outbox",
        "The outbox file was damaged and moved to /var/lib/firstline/outbox.damaged-1: 3 findings lost",
        r#"{"moved_to": "/var/lib/firstline/outbox.damaged-1", "records_salvaged": 40, "records_lost": 3,
            "bytes_lost": 512, "unknown_bytes": 0, "error": "checksum mismatch"}"#,
        "The agent's outbox was damaged: 3 findings lost",
    ),
    (
        "agent.config_invalid",
        "config",
        "The agent's config was edited but refused; the previous one stays in use: reading /etc/firstline/agent.toml: unknown key \"intervall\"",
        r#"{"error": "reading /etc/firstline/agent.toml: unknown key \"intervall\""}"#,
        "The agent refused its edited configuration and keeps the previous one",
    ),
    (
        "agent.state_dir_full",
        "/var/lib/firstline",
        "The agent's state folder /var/lib/firstline cannot be written: No space left on device (os error 28)",
        r#"{"full": true, "free_bytes": 0, "held_findings": 12, "error": "No space left on device (os error 28)"}"#,
        "The agent cannot save its data: the disk is full",
    ),
    // A check this collector does not know: the agent's words when they are plain…
    (
        "printer.queue_stuck",
        "office-printer",
        "3 print jobs waiting for 20 minutes",
        "{}",
        "3 print jobs waiting for 20 minutes",
    ),
    // …and the check's name when they are not.
    (
        "printer.queue_stuck",
        "/var/spool/cups",
        "cannot open /var/spool/cups/c00012: No such file or directory (os error 2)",
        "{}",
        "Check printer.queue_stuck is failing",
    ),
    (
        "disk.used_pct",
        "/home",
        "statvfs /home/alice: Permission denied (os error 13)",
        "not json",
        "Check disk.used_pct is failing on /home",
    ),
];

/// `(check, resource, scope, devices, evidence, English title)`.
const INCIDENT_CASES: &[(&str, &str, &str, u32, &str, &str)] = &[
    (
        "dns.resolve",
        "intranet.example.com",
        "site=Warsaw",
        7,
        "{}",
        "7 devices at Warsaw cannot resolve intranet.example.com",
    ),
    (
        "dns.resolve",
        "intranet.example.com",
        "dns=192.0.2.53",
        3,
        "{}",
        "3 devices using DNS server 192.0.2.53 cannot resolve intranet.example.com",
    ),
    (
        "https.reachable",
        "https://intranet.example.com/wiki",
        "gateway=192.0.2.1",
        4,
        "{}",
        "4 devices behind gateway 192.0.2.1 cannot reach intranet.example.com",
    ),
    (
        "tcp.connect",
        "files.example.com:445",
        "network=10.1.2.0/24",
        5,
        "{}",
        "5 devices on network 10.1.2.0/24 cannot reach files.example.com:445",
    ),
    (
        "network.gateway_loss_pct",
        "192.0.2.1",
        "gateway=192.0.2.1",
        6,
        "{}",
        "6 devices have trouble reaching gateway 192.0.2.1",
    ),
    (
        "crash.new_file",
        "outlook.exe",
        "app=outlook.exe@16.0.17928.20114",
        9,
        r#"{"application": "outlook.exe", "count": 2}"#,
        "Outlook crashes on 9 devices running version 16.0.17928.20114",
    ),
    (
        "disk.used_pct",
        "C:\\",
        "site=default",
        12,
        "{}",
        "Disk C: is nearly full on 12 devices",
    ),
    (
        "service.not_running",
        "Spooler",
        "site=hq",
        1,
        "{}",
        "Service Spooler is not running on 1 device at hq",
    ),
    (
        "clock.skew_secs",
        "collector",
        "site=hq",
        8,
        "{}",
        "8 devices at hq fail check clock.skew_secs",
    ),
];

/// `(who, text, failed layer, English title)`.
const REPORT_CASES: &[(&str, &str, Option<&str>, &str)] = &[
    (
        "alice",
        "the intranet is down",
        Some("dns"),
        "alice reports: “the intranet is down” (names do not resolve)",
    ),
    (
        "pc-17",
        "my computer is slow",
        None,
        "pc-17 reports: “my computer is slow”",
    ),
    (
        "bob",
        "printing does not work",
        Some("something new"),
        "bob reports: “printing does not work” (a check fails)",
    ),
];

fn every_title() -> Vec<(String, Message)> {
    let devices = DEVICE_CASES
        .iter()
        .map(|(check, resource, summary, evidence, _)| {
            (
                format!("{check} {resource}"),
                device_title(check, resource, summary, evidence),
            )
        });
    let incidents = INCIDENT_CASES
        .iter()
        .map(|(check, resource, scope, count, evidence, _)| {
            (
                format!("incident {check} {scope}"),
                incident_title(check, resource, scope, *count, evidence),
            )
        });
    let reports = REPORT_CASES
        .iter()
        .map(|(who, text, layer, _)| (format!("report {text}"), report_title(who, text, *layer)));
    devices.chain(incidents).chain(reports).collect()
}

#[test]
fn each_check_is_titled_from_its_evidence() {
    for (check, resource, summary, evidence, expected) in DEVICE_CASES {
        let title = device_title(check, resource, summary, evidence);
        assert_eq!(
            title.text(Lang::En),
            *expected,
            "{check} {resource}: {title:?}"
        );
    }
}

#[test]
fn incidents_are_titled_with_their_scope_in_words() {
    for (check, resource, scope, count, evidence, expected) in INCIDENT_CASES {
        let title = incident_title(check, resource, scope, *count, evidence);
        assert_eq!(
            title.text(Lang::En),
            *expected,
            "{check} {scope}: {title:?}"
        );
    }
}

#[test]
fn reports_are_titled_with_their_words_and_the_failing_layer() {
    for (who, text, layer, expected) in REPORT_CASES {
        assert_eq!(report_title(who, text, *layer).text(Lang::En), *expected);
    }
    let long = "a".repeat(300);
    let title = report_title("alice", &long, None).text(Lang::En);
    assert!(
        title.chars().count() < 120 && title.contains('…'),
        "{title}"
    );
}

#[test]
fn no_title_in_any_language_shows_an_os_error_a_path_or_a_placeholder() {
    let forbidden = [
        "failed to lookup",
        "os error",
        "No such file",
        "Name or service not known",
        "Connection refused",
        "Permission denied",
        "No space left",
        "C:\\",
        "\\",
        "/home/",
        "/var/",
        "/dev/",
        "/etc/",
        "_usr_bin",
        ".exe_",
        "title-",
        "$",
        "{",
        "}",
    ];
    for (case, message) in every_title() {
        assert!(
            message.id.starts_with("title-") && firstline_i18n::exists(&message.id),
            "{case}: {} is not in the catalog",
            message.id
        );
        for lang in Lang::ALL {
            let title = message.text(lang);
            assert!(!title.trim().is_empty(), "{case} in {lang}: empty");
            assert!(!title.contains("  "), "{case} in {lang}: {title:?}");
            for phrase in forbidden {
                assert!(
                    !title.contains(phrase),
                    "{case} in {lang}: {title:?} shows {phrase:?}"
                );
            }
        }
    }
}

#[test]
fn the_translations_say_the_numbers_and_names() {
    let title = incident_title(
        "dns.resolve",
        "intranet.example.com",
        "site=Warsaw",
        7,
        "{}",
    );
    let cases = [
        (
            Lang::Zh,
            "站点 Warsaw 的 7 台设备无法解析 intranet.example.com",
        ),
        (
            Lang::Pl,
            "Nazwa intranet.example.com nie daje się rozwiązać na 7 urządzeniach w lokalizacji Warsaw",
        ),
        (
            Lang::El,
            "Το intranet.example.com δεν επιλύεται σε 7 συσκευές στην τοποθεσία Warsaw",
        ),
    ];
    for (lang, expected) in cases {
        assert_eq!(title.text(lang), expected);
    }
    let crashes = device_title(
        "crash.new_file",
        "outlook.exe",
        "",
        r#"{"count": 3, "window_secs": 3600}"#,
    );
    assert_eq!(
        crashes.text(Lang::Pl),
        "Program Outlook uległ awarii 3 razy w ciągu ostatniej godziny"
    );
    let skew = device_title("clock.skew_secs", "collector", "", r#"{"skew_ms": 22000}"#);
    assert_eq!(skew.text(Lang::Pl), "Zegar spóźnia się o 22 sekundy");
    assert_eq!(
        device_title("clock.skew_secs", "collector", "", r#"{"skew_ms": 5000}"#).text(Lang::Pl),
        "Zegar spóźnia się o 5 sekund"
    );
}

#[test]
fn raw_text_is_recognised() {
    let raw = [
        "failed to lookup address information: Name or service not known",
        "192.0.2.80:443: Connection refused (os error 111)",
        r"C:\Users\alice\AppData\Local\CrashDumps\outlook.exe.4242.dmp",
        "/home/alice/.config/app.log",
        "~/Library/Logs/x.crash",
        "https://intranet.example.com/wiki/page",
    ];
    for text in raw {
        assert!(looks_raw(text), "{text}");
    }
    let plain = [
        "Disk / is 97% full",
        "intranet.example.com",
        "3 print jobs waiting",
        "Outlook",
    ];
    for text in plain {
        assert!(!looks_raw(text), "{text}");
    }
}
