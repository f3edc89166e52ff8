//! The sea-orm adapter: implements the domain's repository ports on SQLite
//! (the embedded default) and PostgreSQL (production) with one code path.
//!
//! Queries are explicit SQL run through sea-orm's connection pool, value
//! binding and row mapping. The text is portable between the two backends
//! (`$N` placeholders, `ON CONFLICT ... DO NOTHING RETURNING`), and writing
//! it out keeps the hot path, sender resolution, at one round trip. Rows are
//! mapped to domain types in `entity/`; no sea-orm type leaves this crate.

mod attachments;
mod connect;
mod contacts;
mod conversations;
mod custom_fields;
mod entity;
mod error;
mod merges;
mod notes;
mod ordered;
mod organizations;
mod sql;
mod tenants;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod tiers;

pub use attachments::SeaAttachmentRepository;
pub use connect::{Backend, ConnectError, Store, StoreOptions};
pub use contacts::SeaContactRepository;
pub use conversations::SeaConversationRepository;
pub use custom_fields::SeaCustomFieldRepository;
pub use merges::SeaMergeRepository;
pub use notes::SeaNoteRepository;
pub use organizations::SeaOrganizationRepository;
pub use tenants::SeaTenantRepository;
pub use tiers::SeaTierRepository;
