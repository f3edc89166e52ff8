//! The import worker: one per process, it claims the next job that may
//! run, runs it to its end, and looks again; between jobs it waits for the
//! bell an upload rings, or its next look. Jobs other replicas queued, and
//! jobs whose worker died (their lease lapsed), are found by the look.

use std::sync::Arc;
use std::time::Duration;

use crm_domain::exchange::import::{ImportBell, ImportService};
use tokio::sync::Notify;

/// How often an idle worker looks for jobs it was not told about.
pub const LOOK_EVERY: Duration = Duration::from_secs(2);

/// The bell: a [`Notify`] the worker waits on.
#[derive(Debug, Default)]
pub struct Bell(Notify);

impl ImportBell for Bell {
    fn ring(&self) {
        self.0.notify_one();
    }
}

/// Runs jobs until the task is aborted (a batch cut short rolls back, and
/// its job resumes once the lease lapses).
pub async fn work(imports: ImportService, bell: Arc<Bell>) {
    let worker = uuid::Uuid::now_v7();
    loop {
        match imports.run_next(worker).await {
            Ok(Some(job)) => {
                tracing::info!(
                    job = %job.id,
                    state = job.state.as_str(),
                    rows = job.counts.rows,
                    created = job.counts.created,
                    updated = job.counts.updated,
                    unchanged = job.counts.unchanged,
                    duplicates = job.counts.duplicates,
                    invalid = job.counts.invalid,
                    error = %job.error,
                    "import ended"
                );
                continue;
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "import worker: storage failed; trying again"),
        }
        tokio::select! {
            () = bell.0.notified() => {}
            () = tokio::time::sleep(LOOK_EVERY) => {}
        }
    }
}
