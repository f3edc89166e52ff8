//! The queue both coalescing paths share (`lookups`: address look-ups that
//! share a statement; `creates`: SQLite's new senders that share a write
//! transaction): callers queue their work, at most `slots` batches run at
//! once, and a batch takes whatever is queued when a slot frees.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crm_domain::DomainError;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

/// Work waiting for a batch, and the slots batches run in.
pub(crate) struct Queue<W> {
    waiting: Mutex<Vec<W>>,
    slots: Arc<Semaphore>,
}

impl<W> Queue<W> {
    /// A queue whose batches run at most `slots` at a time (at least one).
    pub(crate) fn new(slots: usize) -> Self {
        Self {
            waiting: Mutex::new(Vec::new()),
            slots: Arc::new(Semaphore::new(slots.max(1))),
        }
    }

    /// The waiting work. A panic while holding the lock leaves a plain Vec
    /// behind: still sound to use.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Vec<W>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A free slot and up to `max` of the waiting work, oldest first, when
    /// there are both; the batch holds the slot until it drops it. A batch
    /// that ends drops its slot and then calls this again, so work queued
    /// while every slot was busy is always taken.
    pub(crate) fn take(&self, max: usize) -> Option<(OwnedSemaphorePermit, Vec<W>)> {
        let slot = self.slots.clone().try_acquire_owned().ok()?;
        let batch: Vec<W> = {
            let mut waiting = self.lock();
            let take = waiting.len().min(max);
            waiting.drain(..take).collect()
        };
        (!batch.is_empty()).then_some((slot, batch))
    }

    /// How many slots are free.
    pub(crate) fn free_slots(&self) -> usize {
        self.slots.available_permits()
    }

    /// Takes a slot as a busy batch would, for tests that queue work
    /// behind it.
    #[cfg(test)]
    pub(crate) fn occupy(&self) -> OwnedSemaphorePermit {
        self.slots.clone().try_acquire_owned().expect("a free slot")
    }
}

/// What a queued caller's batch answered; a batch that ended without
/// answering (it panicked) is an internal error.
pub(crate) async fn answer<T>(
    receiver: oneshot::Receiver<Result<T, DomainError>>,
) -> Result<T, DomainError> {
    receiver.await.unwrap_or_else(|_| {
        Err(DomainError::Internal(
            "a batch ended without an answer".to_owned(),
        ))
    })
}
