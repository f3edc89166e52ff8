//! What the import use cases need from storage: the job, its file (kept in
//! chunks beside it, so a job outlives the process that took the upload),
//! its refused rows, and one call that applies a planned batch together
//! with the job's progress.
//!
//! Batches may be written side by side (see
//! [`ImportRepository::batches_at_once`]) but settle in file order: each
//! writes its contacts, then waits for its [`Turn`] (the batch before it
//! has ended) before it moves the job's progress and commits.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::contacts::{Contact, ContactChange};
use crate::exchange::import::{ImportCounts, ImportJob, ImportState, RowError};
use crate::kernel::{DomainError, ImportJobId, TenantId};

/// A planned batch and the job progress it moves to, applied as one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportBatch {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The job.
    pub job_id: ImportJobId,
    /// The worker that holds the job.
    pub worker: Uuid,
    /// The rows the job had settled before this batch (the write fails
    /// when the job moved on without this worker).
    pub rows_before: u64,
    /// What this batch's rows did, added to the job's counts.
    pub counts: ImportCounts,
    /// Contacts to insert.
    pub creates: Vec<Contact>,
    /// Changes to existing contacts.
    pub changes: Vec<ContactChange>,
    /// Rows refused.
    pub errors: Vec<RowError>,
    /// The worker's lease on the job, renewed.
    pub lease_until: OffsetDateTime,
    /// The time of the writes.
    pub now: OffsetDateTime,
}

/// What applying a batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchOutcome {
    /// Written, with the job's progress.
    Applied,
    /// Another writer took an address or changed a contact since the batch
    /// was planned: nothing was written; plan it again.
    Raced,
    /// The job is no longer this worker's (cancelled, or its lease lapsed
    /// and another worker took it): nothing was written; stop.
    Lost,
}

/// When a batch may settle: once the batch before it has ended (applied,
/// lost, failed, or dropped). [`Turn::now`] for a batch with none before it.
#[derive(Debug, Clone, Default)]
pub struct Turn(Option<Arc<Gate>>);

/// The end of a batch that the next one waits for; opens when given or
/// dropped, so a batch that fails never strands the next.
#[derive(Debug)]
pub struct TurnGiver(Arc<Gate>);

#[derive(Debug, Default)]
struct Gate {
    state: Mutex<(bool, Vec<Waker>)>,
}

impl Gate {
    fn state(&self) -> MutexGuard<'_, (bool, Vec<Waker>)> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Turn {
    /// A turn that has come.
    pub fn now() -> Turn {
        Turn(None)
    }

    /// A turn that comes when the returned giver opens it (or drops).
    pub fn after() -> (TurnGiver, Turn) {
        let gate = Arc::new(Gate::default());
        (TurnGiver(gate.clone()), Turn(Some(gate)))
    }

    /// Waits for the turn.
    pub async fn wait(&self) {
        let Some(gate) = &self.0 else {
            return;
        };
        std::future::poll_fn(|context| {
            let mut state = gate.state();
            if state.0 {
                return Poll::Ready(());
            }
            if !state.1.iter().any(|waker| waker.will_wake(context.waker())) {
                state.1.push(context.waker().clone());
            }
            Poll::Pending
        })
        .await;
    }
}

impl TurnGiver {
    /// Lets the next batch settle.
    pub fn give(self) {}
}

impl Drop for TurnGiver {
    fn drop(&mut self) {
        let wakers = {
            let mut state = self.0.state();
            state.0 = true;
            std::mem::take(&mut state.1)
        };
        for waker in wakers {
            waker.wake();
        }
    }
}

/// Storage of import jobs.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait ImportRepository: Send + Sync {
    /// Inserts a job in [`ImportState::Uploading`].
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn create(&self, job: &ImportJob) -> Result<(), DomainError>;

    /// Stores chunk `seq` (from 0) of an uploading job's file.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn put_chunk(
        &self,
        tenant: TenantId,
        job: ImportJobId,
        seq: u32,
        bytes: &[u8],
    ) -> Result<(), DomainError>;

    /// Chunk `seq` of a job's file; `None` past its end.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn chunk(
        &self,
        tenant: TenantId,
        job: ImportJobId,
        seq: u32,
    ) -> Result<Option<Vec<u8>>, DomainError>;

    /// Moves an uploaded job to [`ImportState::Queued`] with what the
    /// upload learnt (header, size, rows) and returns it.
    ///
    /// # Errors
    /// `NotFound`; `Unavailable`; `Internal`.
    async fn submit(&self, job: &ImportJob) -> Result<ImportJob, DomainError>;

    /// Deletes an upload that did not complete, with its chunks.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn discard(&self, tenant: TenantId, job: ImportJobId) -> Result<(), DomainError>;

    /// Reads one job (never one still uploading).
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn get(
        &self,
        tenant: TenantId,
        id: ImportJobId,
    ) -> Result<Option<ImportJob>, DomainError>;

    /// Up to `limit` jobs of the tenant, newest first, before `before`.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn list(
        &self,
        tenant: TenantId,
        before: Option<ImportJobId>,
        limit: u32,
    ) -> Result<Vec<ImportJob>, DomainError>;

    /// Ends a queued or running job as [`ImportState::Cancelled`] and
    /// returns it; a job already over is returned as it is.
    ///
    /// # Errors
    /// `NotFound`; `Unavailable`; `Internal`.
    async fn cancel(
        &self,
        tenant: TenantId,
        id: ImportJobId,
        now: OffsetDateTime,
    ) -> Result<ImportJob, DomainError>;

    /// Gives `worker` the oldest job that may run: queued, or running
    /// under a lease that lapsed (its worker died), of a tenant with no
    /// other job running under a live lease. Sets it running with the lease.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn claim(
        &self,
        worker: Uuid,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Option<ImportJob>, DomainError>;

    /// Applies a planned batch and the job's progress in one transaction:
    /// writes the batch, waits for `turn`, then adds the batch's counts to
    /// the job's, provided the job is still `batch.worker`'s and has settled
    /// exactly `batch.rows_before` rows (otherwise nothing stays:
    /// [`BatchOutcome::Lost`]). A turn that is long in coming undoes the
    /// batch ([`BatchOutcome::Raced`]) rather than hold its locks.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn apply(&self, batch: &ImportBatch, turn: &Turn) -> Result<BatchOutcome, DomainError>;

    /// How many batches of one job may be written side by side: more than
    /// one only where the database writes transactions in parallel.
    fn batches_at_once(&self) -> usize;

    /// Ends `worker`'s running job in `state` (`error` saying why when it
    /// failed); does nothing when the job is no longer the worker's.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn finish(
        &self,
        tenant: TenantId,
        id: ImportJobId,
        worker: Uuid,
        state: ImportState,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<(), DomainError>;

    /// Up to `limit` refused rows of a job, by line, after line `after`.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn errors(
        &self,
        tenant: TenantId,
        id: ImportJobId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<RowError>, DomainError>;

    /// Deletes uploads started before `before` that never completed (their
    /// client went away), with their chunks; returns how many.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn sweep_uploads(&self, before: OffsetDateTime) -> Result<u64, DomainError>;
}

/// Tells this process's import workers that a job was queued, so they
/// claim it at once rather than at their next look.
pub trait ImportBell: Send + Sync {
    /// Rings.
    fn ring(&self);
}
