//! The agent survives its own disk (issue 17, item 3): a damaged outbox file and a full state
//! dir, each done to a real agent process, neither stops it delivering.

use std::path::PathBuf;

use firstline_collector::model::{Severity, StoredFinding};

use crate::support::{
    AgentProcess, TestCollector, Tmpfs, agent_config, crash_watch_section, drop_crash, enroll_with,
    fill_disk, skip, wait_for, write_config,
};

fn evidence(finding: &StoredFinding) -> serde_json::Value {
    serde_json::from_str(&finding.finding.evidence_json).expect("evidence is JSON")
}

async fn count(collector: &TestCollector, device: &str, check: &str, severity: Severity) -> usize {
    collector
        .findings(device)
        .await
        .iter()
        .filter(|f| f.finding.check == check && f.finding.severity == severity)
        .count()
}

/// The pages of `file` holding findings (their JSON names the crash files): b-tree leaves of
/// the findings table, in every version redb still has.
fn pages_with(file: &[u8], needle: &[u8]) -> Vec<std::ops::Range<usize>> {
    file.chunks(4096)
        .enumerate()
        .filter(|(_, page)| page.windows(needle.len()).any(|w| w == needle))
        .map(|(index, page)| index * 4096..index * 4096 + page.len())
        .collect()
}

/// Damage done to a real outbox file, as a disk or a careless hand does it.
fn damaged(file: &[u8], variant: &str) -> Vec<u8> {
    let mut bytes = file.to_vec();
    let leaves = pages_with(file, b"backlog");
    assert!(!leaves.is_empty(), "the outbox holds the backlog");
    match variant {
        "zeroed header" => bytes[..512].fill(0),
        "truncated to half" => bytes.truncate(file.len() / 2),
        "random bytes in the findings' pages" => {
            let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
            for page in &leaves {
                for byte in &mut bytes[page.clone()] {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    *byte = seed as u8;
                }
            }
        }
        "flipped bytes in a b-tree page" => {
            for page in &leaves {
                // A few bytes inside the records themselves, where a finding's JSON is.
                let at = page.start
                    + file[page.clone()]
                        .windows(7)
                        .position(|w| w == b"backlog")
                        .expect("a record");
                // The quote before the name and two letters of it: that record no longer
                // decodes, its neighbours still do.
                for offset in [-1, 3, 5] {
                    bytes[at.wrapping_add_signed(offset)] ^= 0x5a;
                }
            }
        }
        other => panic!("unknown damage {other}"),
    }
    bytes
}

#[tokio::test]
async fn a_damaged_outbox_no_longer_stops_the_agent_and_the_loss_is_reported() {
    let mut collector = TestCollector::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let crashes = dir.path().join("crashes");
    std::fs::create_dir(&crashes).expect("mkdir");
    let state_dir = dir.path().join("agent");
    let identity = enroll_with(&collector, &collector.token().await, &state_dir)
        .await
        .expect("enrolls");
    let device = identity.device_id().to_owned();
    let config = dir.path().join("agent.toml");
    write_config(
        &config,
        &agent_config(&[("[[checks.watch]]", &crash_watch_section(&crashes))]),
    );

    // A real outbox with a backlog in it: written by the agent while the collector is away.
    collector.stop().await;
    let mut agent = AgentProcess::start(&[], &config, &state_dir);
    agent.wait_log(&["agent starting"], 1).await;
    // The watcher is set up right after start; give it a beat before the files appear.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    for index in 0..40 {
        drop_crash(&crashes, &format!("backlog{index}"));
    }
    agent.wait_log(&["crash.new_file", "finding"], 40).await;
    agent.terminate().await;
    let outbox = state_dir.join("outbox.redb");
    let pristine = std::fs::read(&outbox).expect("the agent wrote its outbox");
    collector.restart().await;

    // Each round damages the same file the agent wrote. The first finds the collector as the
    // agent left it (the backlog never sent), so what it salvages must all arrive.
    for (round, variant) in [
        "flipped bytes in a b-tree page",
        "zeroed header",
        "truncated to half",
        "random bytes in the findings' pages",
    ]
    .into_iter()
    .enumerate()
    {
        let reported_before = count(
            &collector,
            &device,
            "agent.outbox_damaged",
            Severity::Warning,
        )
        .await;
        std::fs::write(&outbox, damaged(&pristine, variant)).expect("damage the outbox");
        let mut agent = AgentProcess::start(&[], &config, &state_dir);
        agent.wait_log(&["connected to collector"], 1).await;

        let reported = wait_for(&format!("agent.outbox_damaged after {variant}"), || async {
            collector
                .findings(&device)
                .await
                .into_iter()
                .filter(|f| {
                    f.finding.check == "agent.outbox_damaged"
                        && f.finding.severity == Severity::Warning
                })
                .nth(reported_before)
        })
        .await;
        eprintln!("{variant}: {}", reported.finding.evidence_json);
        let moved_to =
            PathBuf::from(evidence(&reported)["moved_to"].as_str().unwrap_or_else(|| {
                panic!("{variant}: moved_to in {}", reported.finding.evidence_json)
            }));
        assert!(
            moved_to.exists() && moved_to.parent() == Some(state_dir.as_path()),
            "{variant}: the damaged file is kept beside the outbox: {}",
            moved_to.display()
        );
        assert!(
            reported
                .finding
                .summary
                .contains(&moved_to.display().to_string()),
            "{variant}: {}",
            reported.finding.summary
        );
        // What was in the file is accounted for: salvaged, lost, or (unreadable) unknown.
        let accounted = ["records_salvaged", "records_lost", "unknown_bytes"]
            .map(|key| evidence(&reported)[key].as_u64().unwrap_or(0));
        assert!(
            accounted.iter().any(|n| *n > 0),
            "{variant}: {}",
            reported.finding.evidence_json
        );

        if variant == "flipped bytes in a b-tree page" {
            // The records around the damaged ones are still readable: copied to the fresh
            // outbox and delivered (the backlog had never reached the collector).
            let [salvaged, lost, _] = accounted;
            assert!(
                salvaged >= 30 && lost >= 1,
                "{}",
                reported.finding.evidence_json
            );
            wait_for("the salvaged backlog to arrive", || async {
                let delivered: std::collections::HashSet<String> = collector
                    .findings(&device)
                    .await
                    .into_iter()
                    .filter(|f| {
                        f.finding.check == "crash.new_file"
                            && f.finding.resource.starts_with("backlog")
                    })
                    .map(|f| f.finding.resource)
                    .collect();
                (delivered.len() as u64 >= salvaged).then_some(())
            })
            .await;
        }

        // Still running, and what it finds now still reaches the collector (numbered past what
        // the collector already has, though the fresh outbox started from nothing).
        let name = format!("after-damage{round}");
        drop_crash(&crashes, &name);
        collector
            .wait_for_finding(&device, "crash.new_file", &name, |f| {
                f.finding.severity == Severity::Warning
            })
            .await;
        assert!(agent.is_running(), "{variant}: {}", agent.log_text());
        agent.terminate().await;
    }
}

#[tokio::test]
async fn a_full_state_dir_keeps_the_agent_running_and_it_catches_up_when_space_returns() {
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0");
    if !root {
        skip("mounting a tmpfs for the agent's state dir needs root");
        return;
    }
    let collector = TestCollector::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let crashes = dir.path().join("crashes");
    std::fs::create_dir(&crashes).expect("mkdir");
    let state_dir = dir.path().join("agent");
    let Some(_tmpfs) = Tmpfs::mount(&state_dir, "8m") else {
        skip("mount -t tmpfs failed (no CAP_SYS_ADMIN in this container?)");
        return;
    };
    let identity = enroll_with(&collector, &collector.token().await, &state_dir)
        .await
        .expect("enrolls");
    let device = identity.device_id().to_owned();
    let config = dir.path().join("agent.toml");
    write_config(
        &config,
        &agent_config(&[("[[checks.watch]]", &crash_watch_section(&crashes))]),
    );
    let mut agent = AgentProcess::start(&[], &config, &state_dir);
    agent.wait_log(&["connected to collector"], 1).await;
    // The watcher is set up right after start; give it a beat before the files appear.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    drop_crash(&crashes, "before");
    let warning = |f: &StoredFinding| f.finding.severity == Severity::Warning;
    collector
        .wait_for_finding(&device, "crash.new_file", "before", warning)
        .await;

    let filler = state_dir.join("filler");
    let filled = fill_disk(&filler);
    eprintln!("filled the 8 MiB state dir with {filled} bytes");
    for index in 0..5 {
        drop_crash(&crashes, &format!("while-full{index}"));
    }
    // Held in memory, sent and acknowledged from there.
    for index in 0..5 {
        collector
            .wait_for_finding(
                &device,
                "crash.new_file",
                &format!("while-full{index}"),
                warning,
            )
            .await;
    }
    let resource = state_dir.display().to_string();
    let full = collector
        .wait_for_finding(&device, "agent.state_dir_full", &resource, warning)
        .await;
    assert!(
        full.finding.summary.contains("is full"),
        "{}",
        full.finding.summary
    );
    assert_eq!(
        evidence(&full)["full"],
        true,
        "{}",
        full.finding.evidence_json
    );
    assert!(agent.is_running(), "{}", agent.log_text());
    assert_eq!(
        agent.count(&["the outbox cannot be written"]),
        1,
        "said once, not with every write: {}",
        agent.log_text()
    );
    // Acknowledgements it could not write did not break its stream either.
    assert_eq!(agent.count(&["uplink down"]), 0, "{}", agent.log_text());

    // Restarted while the disk is still full (systemd restarts it, or the machine reboots):
    // it starts, and delivers, under sequences the collector has not seen.
    agent.terminate().await;
    let mut agent = AgentProcess::start(&[], &config, &state_dir);
    agent.wait_log(&["connected to collector"], 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    drop_crash(&crashes, "restarted-while-full");
    collector
        .wait_for_finding(&device, "crash.new_file", "restarted-while-full", warning)
        .await;
    assert!(agent.is_running(), "{}", agent.log_text());
    assert_eq!(agent.count(&["uplink down"]), 0, "{}", agent.log_text());

    std::fs::remove_file(&filler).expect("remove filler");
    collector
        .wait_for_finding(&device, "agent.state_dir_full", &resource, |f| {
            f.finding.severity == Severity::Ok
        })
        .await;
    agent.wait_log(&["the outbox is writable again"], 1).await;
    // Caught up: what it finds now is written and sent as before, under a new sequence.
    drop_crash(&crashes, "after");
    collector
        .wait_for_finding(&device, "crash.new_file", "after", warning)
        .await;
    assert!(agent.is_running(), "{}", agent.log_text());
    agent.terminate().await;
}
