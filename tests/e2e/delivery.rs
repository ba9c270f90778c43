//! Nothing is lost: findings raised while the collector is away, or while the agent is killed
//! mid-backlog, all arrive, each exactly once in effect.

use std::time::Duration;

use crate::support::{
    AgentProcess, TestAgent, TestCollector, agent_config, crash_counts, crash_watch_section,
    enroll_with, wait_for, write_config,
};

fn drop_crashes(dir: &std::path::Path, range: std::ops::Range<usize>) {
    for index in range {
        std::fs::write(
            dir.join(format!("app{index}.1000.crash")),
            "ProblemType: Crash\n",
        )
        .expect("write crash");
    }
}

#[tokio::test]
async fn findings_raised_while_the_collector_is_down_arrive_exactly_once() {
    let mut collector = TestCollector::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let crashes = dir.path().join("crashes");
    std::fs::create_dir(&crashes).expect("mkdir");
    let identity = enroll_with(
        &collector,
        &collector.token().await,
        &dir.path().join("agent"),
    )
    .await
    .expect("enrolls");
    let device = identity.device_id().to_owned();
    let config = dir.path().join("agent.toml");
    write_config(
        &config,
        &agent_config(&[("[[checks.watch]]", &crash_watch_section(&crashes))]),
    );
    let mut agent = TestAgent::start_full(identity, &config);
    agent.wait_connected().await;
    drop_crashes(&crashes, 0..5);
    wait_for("the first crashes to arrive", || async {
        (crash_counts(&collector, &device).await.len() == 5).then_some(())
    })
    .await;

    collector.stop().await;
    agent
        .state
        .wait_for(|s| matches!(s, firstline_agent::uplink::UplinkState::Disconnected { .. }))
        .await
        .expect("agent notices");
    drop_crashes(&crashes, 5..25);
    // The outage itself: the collector stays away while the agent queues.
    tokio::time::sleep(Duration::from_secs(1)).await;
    collector.restart().await;

    let counts = wait_for("every crash to arrive", || async {
        let counts = crash_counts(&collector, &device).await;
        (counts.len() == 25).then_some(counts)
    })
    .await;
    assert!(
        counts.values().all(|count| *count == 1),
        "each finding exactly once: {counts:?}"
    );
    agent.stop().await;
}

#[tokio::test]
async fn an_agent_killed_mid_backlog_delivers_the_rest_exactly_once_after_restart() {
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
    // A slow replay, so that the kill lands in the middle of the backlog.
    write_config(
        &config,
        &agent_config(&[
            ("[[checks.watch]]", &crash_watch_section(&crashes)),
            ("outbox", "replay_per_second = 20"),
        ]),
    );

    collector.stop().await;
    let mut agent = AgentProcess::start(&[], &config, &state_dir);
    agent.wait_log(&["agent starting"], 1).await;
    // The watcher is set up right after start; give it a beat before the files appear.
    tokio::time::sleep(Duration::from_millis(500)).await;
    const TOTAL: usize = 100;
    drop_crashes(&crashes, 0..TOTAL);
    agent.wait_log(&["crash.new_file", "finding"], TOTAL).await;

    collector.restart().await;
    let delivered = wait_for("part of the backlog to arrive", || async {
        let count = crash_counts(&collector, &device).await.len();
        (count >= 10).then_some(count)
    })
    .await;
    agent.kill();
    let at_kill = crash_counts(&collector, &device).await.len();
    assert!(
        at_kill < TOTAL,
        "the kill must land mid-backlog ({delivered} then {at_kill} of {TOTAL})"
    );

    let agent = AgentProcess::start(&[], &config, &state_dir);
    let counts = wait_for("the rest of the backlog", || async {
        let counts = crash_counts(&collector, &device).await;
        (counts.len() == TOTAL).then_some(counts)
    })
    .await;
    assert!(
        counts.values().all(|count| *count == 1),
        "each finding exactly once: {counts:?}"
    );
    // The restarted agent remembered its open conditions: nothing was raised a second time.
    assert_eq!(
        agent.count(&["crash.new_file", "finding"]),
        0,
        "{}",
        agent.log_text()
    );
}
