//! What the segment use cases need from storage.

use async_trait::async_trait;

use crate::kernel::{DomainError, SegmentId, TenantId};
use crate::segments::Segment;

/// Storage of segments.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait SegmentRepository: Send + Sync {
    /// Inserts a segment unless its owner already keeps `limit` of them.
    ///
    /// # Errors
    /// `LimitReached`; `Unavailable`; `Internal`.
    async fn create(&self, segment: &Segment, limit: usize) -> Result<Segment, DomainError>;

    /// Reads one segment.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn get(&self, tenant: TenantId, id: SegmentId) -> Result<Option<Segment>, DomainError>;

    /// Up to `limit` segments `viewer` may see (its own and the shared
    /// ones), by id, after `after`.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn list(
        &self,
        tenant: TenantId,
        viewer: &str,
        after: Option<SegmentId>,
        limit: u32,
    ) -> Result<Vec<Segment>, DomainError>;

    /// Writes a segment's fields at `expected_version`.
    ///
    /// # Errors
    /// `NotFound`; `Stale`; `Unavailable`; `Internal`.
    async fn update(
        &self,
        segment: &Segment,
        expected_version: i64,
    ) -> Result<Segment, DomainError>;

    /// Deletes a segment at `expected_version`.
    ///
    /// # Errors
    /// `NotFound`; `Stale`; `Unavailable`; `Internal`.
    async fn delete(
        &self,
        tenant: TenantId,
        id: SegmentId,
        expected_version: i64,
    ) -> Result<(), DomainError>;
}
