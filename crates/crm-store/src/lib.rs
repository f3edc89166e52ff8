//! The sea-orm adapter: implements the domain's repository ports on SQLite
//! (the embedded default) and PostgreSQL (production) with one code path.
//!
//! Queries are explicit SQL run through sea-orm's connection pool, value
//! binding and row mapping; writing them out keeps the hot path, sender
//! resolution, at one round trip. The layout:
//!
//! - one module per bounded context of the domain (`contacts`, `tenancy`,
//!   `tiers`, `fields`, `organizations`, `conversations`, `notes`,
//!   `attachments`, `merge`, `duplicates`, `search`, `segments`, `imports`), each
//!   implementing that context's ports;
//! - `rows/`: the row shapes, one file per table, and their mapping to
//!   domain types; no sea-orm type leaves this crate;
//! - `dialect`: every SQLite/PostgreSQL difference;
//! - `write`: the one write path (transactions and one-statement writes);
//! - `sql`, `ordered`, `error`, `pools`, `connect`: statement building,
//!   ordered sets, error mapping, the connections and opening the store.

mod attachments;
mod coalesce;
mod connect;
mod contacts;
mod conversations;
mod creates;
mod dialect;
mod duplicates;
mod error;
mod fields;
mod fill;
mod filters;
mod imports;
mod inline;
mod lookups;
mod merge;
mod notes;
mod ordered;
mod organizations;
mod pools;
mod records;
mod rows;
mod search;
mod segments;
mod sql;
mod tenancy;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod tiers;
mod write;

pub use attachments::SeaAttachmentRepository;
pub use connect::{ConnectError, Store, StoreOptions};
pub use contacts::SeaContactRepository;
pub use conversations::SeaConversationRepository;
pub use dialect::Backend;
pub use duplicates::SeaDuplicateIndex;
pub use error::StoreError;
pub use fields::SeaCustomFieldRepository;
pub use imports::SeaImportRepository;
pub use merge::SeaMergeRepository;
pub use notes::SeaNoteRepository;
pub use organizations::SeaOrganizationRepository;
pub use search::SeaSearchRepository;
pub use segments::SeaSegmentRepository;
pub use tenancy::SeaTenantRepository;
pub use tiers::SeaTierRepository;
