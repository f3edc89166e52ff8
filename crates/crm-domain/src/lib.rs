//! The contact ledger's pure domain: entities and value objects, the rules
//! that keep them valid, the use cases that drive them, and the ports those
//! use cases need. No I/O crate is a dependency: adapters implement the
//! ports each context declares in its `ports.rs`.
//!
//! # Context map
//!
//! One module per bounded context, each with its model, its `ports.rs` and
//! its use cases in `service.rs`. A context may use `kernel` and the
//! contexts listed after it; nothing else (checked by `cargo xtask tidy`).
//!
//! | context         | may use                                                   |
//! |-----------------|-----------------------------------------------------------|
//! | `kernel`        | nothing                                                   |
//! | `identity`      | kernel                                                    |
//! | `tenancy`       | identity                                                  |
//! | `tiers`         | tenancy, identity, contacts (tags, routing)               |
//! | `fields`        | tenancy, identity                                         |
//! | `organizations` | tenancy, fields                                           |
//! | `contacts`      | tenancy, identity, tiers, fields, organizations           |
//! | `conversations` | tenancy, identity, fields, contacts                       |
//! | `notes`         | tenancy                                                   |
//! | `attachments`   | tenancy                                                   |
//! | `merge`         | tenancy, identity, fields, organizations, conversations, contacts |
//!
//! Next contexts take their own folder beside these: `search`, `exchange`
//! (CSV import and export), `sales`, `orders`, `objects`, `access`, `events`
//! and `reports`.

pub mod kernel;

pub mod identity;
pub mod tenancy;

pub mod contacts;
pub mod fields;
pub mod organizations;
pub mod tiers;

pub mod attachments;
pub mod conversations;
pub mod merge;
pub mod notes;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use contacts::{Contact, ContactFields, LifecycleStage};
pub use identity::{Channel, ContactIdentity, IdentityKey, IdentityKind, Region};
pub use kernel::{
    AttachmentId, ContactId, ConversationId, DomainError, Entity, FieldId, FieldViolation, MergeId,
    NoteId, OrganizationId, SectionId, TabId, TenantId, TierId,
};
