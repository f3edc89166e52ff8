//! A blob store that says when it changed: the harness hands the server
//! its real blob store wrapped in [`Observed`], which publishes an
//! [`Activity`] on a `tokio::sync::watch` channel after every call that may
//! change what is stored or staged. A test awaits the exact state it
//! expects, re-checking on each change, instead of polling in sleeps.

use std::sync::Arc;

use async_trait::async_trait;
use crm_domain::DomainError;
use crm_domain::attachments::{BlobKey, BlobReader, BlobStore, StagedBlob};
use tokio::sync::watch;

/// What the server has done to its blob store so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Activity {
    /// Calls that may have changed the store, in all.
    pub changes: u64,
    /// Uploads being staged (neither published, discarded nor dropped).
    pub staging: usize,
    /// Bytes written to the uploads being staged.
    pub staged_bytes: u64,
}

/// The sending side of the [`Activity`] channel.
#[derive(Clone)]
pub struct Watch {
    activity: Arc<watch::Sender<Activity>>,
}

impl Watch {
    pub fn new() -> Self {
        Self {
            activity: Arc::new(watch::Sender::new(Activity::default())),
        }
    }

    /// Records one change and wakes every receiver.
    fn record(&self, change: impl FnOnce(&mut Activity)) {
        self.activity.send_modify(|activity| {
            change(activity);
            activity.changes += 1;
        });
    }

    /// A receiver that sees every change from now on.
    pub fn subscribe(&self) -> watch::Receiver<Activity> {
        self.activity.subscribe()
    }
}

/// Runs `work` in a task of its own, so that it finishes, and reports,
/// even when the server drops the call that awaits it: a handler is
/// dropped when its caller goes away, and an adapter's removal may go on in
/// the background (`spawn_blocking`) after the call that started it ends.
async fn run_to_end<T: Send + 'static>(
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    tokio::spawn(work)
        .await
        .expect("a blob store call panicked")
}

/// The server's blob store, reporting to [`Watch`] once each wrapped call
/// has finished.
pub struct Observed {
    inner: Arc<dyn BlobStore>,
    watch: Watch,
}

impl Observed {
    pub fn new(inner: Arc<dyn BlobStore>, watch: Watch) -> Self {
        Self { inner, watch }
    }
}

#[async_trait]
impl BlobStore for Observed {
    async fn stage(&self) -> Result<Box<dyn StagedBlob>, DomainError> {
        let staged = self.inner.stage().await;
        match staged {
            Ok(inner) => {
                self.watch.record(|activity| activity.staging += 1);
                Ok(Box::new(ObservedStaged {
                    inner: Some(inner),
                    written: 0,
                    counted: true,
                    watch: self.watch.clone(),
                }))
            }
            Err(error) => {
                self.watch.record(|_| {});
                Err(error)
            }
        }
    }

    async fn open(&self, key: &BlobKey) -> Result<Box<dyn BlobReader>, DomainError> {
        self.inner.open(key).await
    }

    async fn remove(&self, key: &BlobKey) -> Result<(), DomainError> {
        let (inner, key, watch) = (self.inner.clone(), *key, self.watch.clone());
        run_to_end(async move {
            let removed = inner.remove(&key).await;
            watch.record(|_| {});
            removed
        })
        .await
    }

    async fn sweep_staging(&self, older_than: std::time::Duration) -> Result<u64, DomainError> {
        let swept = self.inner.sweep_staging(older_than).await;
        self.watch.record(|_| {});
        swept
    }
}

/// An upload being staged. Its end (published, discarded, or dropped: the
/// adapters remove a dropped upload's staged bytes in `Drop`) is reported
/// after the wrapped value has done its part.
struct ObservedStaged {
    inner: Option<Box<dyn StagedBlob>>,
    /// Bytes written so far.
    written: u64,
    /// Whether this upload still counts in [`Activity::staging`].
    counted: bool,
    watch: Watch,
}

impl ObservedStaged {
    fn inner(&mut self) -> &mut Box<dyn StagedBlob> {
        self.inner
            .as_mut()
            .expect("a staged blob is used after it was discarded")
    }

    /// Reports, once, that this upload no longer stages anything.
    fn ended(&mut self) {
        if std::mem::take(&mut self.counted) {
            let written = self.written;
            self.watch.record(|activity| {
                activity.staging -= 1;
                activity.staged_bytes -= written;
            });
        }
    }
}

#[async_trait]
impl StagedBlob for ObservedStaged {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), DomainError> {
        let written = self.inner().write(chunk).await;
        let added = if written.is_ok() {
            chunk.len() as u64
        } else {
            0
        };
        self.written += added;
        self.watch.record(|activity| activity.staged_bytes += added);
        written
    }

    async fn seal(&mut self) -> Result<(), DomainError> {
        let sealed = self.inner().seal().await;
        self.watch.record(|_| {});
        sealed
    }

    async fn publish(&mut self, key: &BlobKey) -> Result<(), DomainError> {
        let published = self.inner().publish(key).await;
        if published.is_ok() {
            // Stored now; the value only waits to be dropped.
            self.ended();
        } else {
            self.watch.record(|_| {});
        }
        published
    }

    async fn discard(mut self: Box<Self>) {
        let Some(inner) = self.inner.take() else {
            return self.ended();
        };
        let (written, watch) = (self.written, self.watch.clone());
        self.counted = false;
        run_to_end(async move {
            inner.discard().await;
            watch.record(|activity| {
                activity.staging -= 1;
                activity.staged_bytes -= written;
            });
        })
        .await;
    }
}

impl Drop for ObservedStaged {
    fn drop(&mut self) {
        // The wrapped upload removes what it staged as it drops; report after.
        drop(self.inner.take());
        self.ended();
    }
}
