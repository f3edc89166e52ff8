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
