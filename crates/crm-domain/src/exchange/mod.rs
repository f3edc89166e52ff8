//! Exchange: contacts in and out as CSV. Export lays each contact out as
//! one row of text fields (`export.rs`): every standard field, every
//! identity by kind, tags, tier, organization and every custom field, in
//! columns named so an import reads them back without a mapping. Import
//! (`import/`) takes such a file, or any other with a mapping, as a job
//! that runs in the background. CSV writing is the adapter's; reading is
//! here, since the job reads its file back itself.

pub mod export;
pub mod import;
pub mod service;

pub use export::*;
pub use service::*;
