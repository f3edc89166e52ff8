//! The server while its database is away: PostgreSQL reached through a
//! proxy the test cuts (the database went away) or stalls (it stopped
//! answering), then repairs. Health says what a caller would find, and the
//! calls fail in a way a caller can retry, then work again. SQLite is an
//! open file that cannot go away like this, so these run on PostgreSQL.

use std::time::Duration;

use crm_server::{ServeOptions, StoreOptions};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

use crate::harness::proxy::Link;
use crate::harness::spawn_behind_proxy;

/// How long a test waits for what it expects before it fails.
const FAILURE_BOUND: Duration = Duration::from_secs(30);

/// Serving options with a database check every 50 ms, so health follows
/// the database quickly.
fn checked_often() -> ServeOptions {
    ServeOptions {
        health_check_every: Duration::from_millis(50),
        ..ServeOptions::default()
    }
}

/// Waits for the next status on a health watch.
async fn next_status(watch: &mut tonic::Streaming<HealthCheckResponse>) -> ServingStatus {
    let message = tokio::time::timeout(FAILURE_BOUND, watch.message())
        .await
        .expect("health did not change")
        .unwrap()
        .expect("the health watch ended");
    ServingStatus::try_from(message.status).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_not_serving_while_the_database_is_away_and_serving_once_it_is_back() {
    let (server, proxy) = spawn_behind_proxy(&StoreOptions::default(), checked_often()).await;
    let mut health = HealthClient::new(server.channel().await);
    let mut watch = health
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(next_status(&mut watch).await, ServingStatus::Serving);

    proxy.set(Link::Cut);
    assert_eq!(next_status(&mut watch).await, ServingStatus::NotServing);
    let contacts = health
        .check(HealthCheckRequest {
            service: "crm.v1.ContactService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(contacts.status, ServingStatus::NotServing as i32);

    proxy.set(Link::Up);
    assert_eq!(next_status(&mut watch).await, ServingStatus::Serving);
    let contacts = health
        .check(HealthCheckRequest {
            service: "crm.v1.ContactService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(contacts.status, ServingStatus::Serving as i32);
    drop(watch);
    server.stop().await;
}

/// Reads the tenant's settings: a call that reaches the database every
/// time (authentication is cached, settings are not).
async fn read_settings(server: &crate::harness::TestServer) -> Result<(), tonic::Status> {
    server
        .tenants()
        .await
        .get_tenant_settings(server.req(crm_proto::v1::GetTenantSettingsRequest {}))
        .await
        .map(drop)
}

/// Calls until one succeeds; every failure on the way must be UNAVAILABLE.
async fn until_calls_succeed(server: &crate::harness::TestServer) {
    tokio::time::timeout(FAILURE_BOUND, async {
        loop {
            match read_settings(server).await {
                Ok(()) => return,
                Err(status) => assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}"),
            }
        }
    })
    .await
    .expect("calls still fail after the database came back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_while_the_database_is_away_are_unavailable_and_work_once_it_is_back() {
    let (server, proxy) =
        spawn_behind_proxy(&StoreOptions::default(), ServeOptions::default()).await;
    read_settings(&server).await.unwrap();

    // The pool's open connections break: the first calls meet them.
    proxy.set(Link::Cut);
    for _ in 0..3 {
        let status = tokio::time::timeout(FAILURE_BOUND, read_settings(&server))
            .await
            .expect("a call hung while the database was away")
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    }

    proxy.set(Link::Up);
    until_calls_succeed(&server).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_to_a_stalled_database_ends_unavailable_after_the_statement_timeout() {
    let store = StoreOptions {
        statement_timeout: Duration::from_millis(200),
        ..StoreOptions::default()
    };
    let (server, proxy) = spawn_behind_proxy(&store, ServeOptions::default()).await;
    read_settings(&server).await.unwrap();

    // The database stops answering: connections stay open, no byte passes,
    // so only the server's own bound can end the call.
    proxy.set(Link::Stalled);
    let status = tokio::time::timeout(FAILURE_BOUND, read_settings(&server))
        .await
        .expect("the call waited on the stalled database")
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");

    proxy.set(Link::Up);
    until_calls_succeed(&server).await;
    server.stop().await;
}
