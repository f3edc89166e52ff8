//! Exchange: contacts in and out as CSV. Export lays each contact out as
//! one row of text fields (`export.rs`): every standard field, every
//! identity by kind, tags, tier, organization and every custom field, in
//! columns named so an import reads them back without a mapping. CSV
//! encoding itself is the adapter's; import comes next.

pub mod export;
pub mod service;

pub use export::*;
pub use service::*;
