//! Collectors on PostgreSQL: the same enrollment and ingest as on SQLite, and two collectors
//! sharing one database (and one CA) seeing one device and storing each finding once.
//! Needs FIRSTLINE_TEST_POSTGRES_URL (CI sets it; there an unreachable server fails the test).

use firstline_proto::v1 as pb;
use pb::agent_message::Body as AgentBody;
use pb::collector_message::Body as CollectorBody;

use crate::support::{RawStream, TestCollector, channel, enroll_with, finding, hello};

/// A schema of its own inside the test database, dropped afterwards; the URL points at it.
struct Schema {
    admin_url: String,
    name: String,
}

impl Schema {
    async fn create() -> Option<(Self, String)> {
        let Ok(url) = std::env::var("FIRSTLINE_TEST_POSTGRES_URL") else {
            eprintln!(
                "FIRSTLINE_TEST_POSTGRES_URL is not set: skipping the PostgreSQL end-to-end test"
            );
            return None;
        };
        let name = format!("fl_e2e_{}", std::process::id());
        let admin = sqlx_admin(&url).await;
        run(&admin, &format!("DROP SCHEMA IF EXISTS {name} CASCADE")).await;
        run(&admin, &format!("CREATE SCHEMA {name}")).await;
        let separator = if url.contains('?') { '&' } else { '?' };
        let scoped = format!("{url}{separator}options=-c%20search_path%3D{name}");
        Some((
            Schema {
                admin_url: url,
                name,
            },
            scoped,
        ))
    }
}

async fn sqlx_admin(url: &str) -> sqlx::PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL (FIRSTLINE_TEST_POSTGRES_URL) is unreachable: {e}"))
}

async fn run(pool: &sqlx::PgPool, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                runtime.block_on(async move {
                    let admin = sqlx_admin(&url).await;
                    let _ = sqlx::query("SET lock_timeout = '5s'").execute(&admin).await;
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP SCHEMA IF EXISTS {name} CASCADE"
                    )))
                    .execute(&admin)
                    .await;
                });
            }
        })
        .join()
        .ok();
    }
}

#[tokio::test]
async fn two_collectors_on_one_postgresql_see_one_device_and_store_each_finding_once() {
    let Some((_schema, url)) = Schema::create().await else {
        return;
    };
    let first = TestCollector::start_postgres(&url, None).await;
    let second = TestCollector::start_postgres(&url, Some(&first.settings.data_dir)).await;
    let dir = tempfile::tempdir().expect("temp dir");
    // Enrolled through the first collector…
    let identity = enroll_with(&first, &first.token().await, &dir.path().join("agent"))
        .await
        .expect("enrolls");
    let device = identity.device_id().to_owned();

    // …it streams to the second, as a load balancer may send it.
    let connect = |collector: &TestCollector| {
        let url = collector.url();
        let identity = identity.clone();
        async move {
            let channel = channel(
                &url,
                &identity.ca_pem,
                Some((&identity.certificate_pem, &identity.key_pem)),
            )
            .await
            .expect("channel");
            let mut stream = RawStream::open(channel, vec![hello()])
                .await
                .expect("stream");
            let CollectorBody::Welcome(welcome) = stream.next().await.expect("welcome") else {
                panic!("expected a Welcome")
            };
            (stream, welcome)
        }
    };
    let (mut stream, welcome) = connect(&second).await;
    assert_eq!(welcome.device_id, device);
    stream
        .send(AgentBody::Findings(pb::FindingBatch {
            findings: vec![finding(1, "one"), finding(2, "two")],
        }))
        .await;
    let CollectorBody::Ack(ack) = stream.next().await.expect("ack") else {
        panic!("expected an Ack")
    };
    assert_eq!(ack.sequence, 2);
    drop(stream);

    // Back on the first collector: it knows what the second committed, and redelivery of the
    // same sequences stores nothing twice.
    let (mut stream, welcome) = connect(&first).await;
    assert_eq!(
        welcome.committed_sequence, 2,
        "committed state lives in the shared database"
    );
    stream
        .send(AgentBody::Findings(pb::FindingBatch {
            findings: vec![finding(2, "two again"), finding(3, "three")],
        }))
        .await;
    let CollectorBody::Ack(ack) = stream.next().await.expect("ack") else {
        panic!("expected an Ack")
    };
    assert_eq!(ack.sequence, 3);

    for collector in [&first, &second] {
        let summaries: Vec<String> = collector
            .findings(&device)
            .await
            .into_iter()
            .map(|f| f.finding.summary)
            .collect();
        assert_eq!(summaries, ["one", "two", "three"]);
        assert_eq!(
            collector
                .running()
                .store
                .devices()
                .await
                .expect("devices")
                .len(),
            1
        );
    }
}
