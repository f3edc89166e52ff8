//! Health as a load balancer asks for it (`grpc.health.v1`): the server
//! (`""`) and each `crm.v1` service are SERVING while the database answers,
//! and NOT_SERVING from the first failed check until one succeeds again.
//! Without a database no call can succeed, so a load balancer should send
//! them elsewhere.

use std::time::Duration;

use crm_store::Store;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// Checks the database every `every` (the first check at once) and reports
/// the outcome for the server and for each of `services`.
pub(crate) async fn follow_the_database(
    store: Store,
    health: HealthReporter,
    services: Vec<&'static str>,
    every: Duration,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut serving = true;
    loop {
        ticks.tick().await;
        let checked = store.ping().await;
        if checked.is_ok() == serving {
            continue;
        }
        serving = checked.is_ok();
        let status = match checked {
            Ok(()) => {
                tracing::info!("the database answers again: health is SERVING");
                ServingStatus::Serving
            }
            Err(error) => {
                tracing::warn!(%error, "the database check failed: health is NOT_SERVING");
                ServingStatus::NotServing
            }
        };
        for service in std::iter::once("").chain(services.iter().copied()) {
            health.set_service_status(service, status).await;
        }
    }
}
