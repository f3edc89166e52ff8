//! The duplicate indexer: one per process, it takes the contacts every
//! write queued into the standing duplicate index (see
//! `crm_domain::merge::index`), tenant by tenant, and looks again when the
//! queue is empty. Replicas may run it side by side: an examination holds
//! its tenant's index row, so two never examine one tenant at once.

use std::time::Duration;

use crm_domain::merge::MergeService;

/// How often an idle indexer looks for queued contacts.
pub const LOOK_EVERY: Duration = Duration::from_secs(1);

/// Tenants taken per look.
const TENANTS_PER_LOOK: u32 = 100;

/// Queued contacts of one tenant taken in before the indexer moves on to
/// the next tenant, so one tenant's import does not starve the others.
const TURN: usize = 5_000;

/// Indexes until the task is aborted (a batch cut short rolls back and is
/// queued still).
pub async fn work(merges: MergeService) {
    loop {
        let mut examined = 0;
        match merges.tenants_waiting(TENANTS_PER_LOOK).await {
            Ok(waiting) => {
                for tenant in waiting {
                    match merges.index_waiting(tenant, TURN).await {
                        Ok(count) => examined += count,
                        Err(error) => {
                            tracing::warn!(%error, %tenant, "duplicate indexer: storage failed; trying again");
                        }
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "duplicate indexer: storage failed; trying again"),
        }
        if examined == 0 {
            tokio::time::sleep(LOOK_EVERY).await;
        }
    }
}
