//! The connections every repository holds: the read pool, the [`Writer`]
//! (the one write path) and the backend, whose dialect the repository asks
//! for what differs. One value, cloned into each repository by the store.

use sea_orm::DatabaseConnection;

use crate::dialect::Backend;
use crate::write::Writer;

/// A repository's connections.
#[derive(Debug, Clone)]
pub(crate) struct Pools {
    /// Reads outside a write run here.
    pub(crate) db: DatabaseConnection,
    /// Every write runs here.
    pub(crate) writer: Writer,
    /// Which database both talk to.
    pub(crate) backend: Backend,
    /// The hot path's coalescing reader over `db`, shared by every clone.
    pub(crate) lookups: std::sync::Arc<crate::lookups::Lookups>,
}
