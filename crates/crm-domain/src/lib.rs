//! The contact ledger's pure domain: entities and value objects, the rules
//! that keep them valid, the use cases that drive them, and the ports those
//! use cases need. No I/O crate is a dependency: adapters implement the
//! ports each context declares in its `ports.rs`.
//!
//! # Context map
//!
//! One module per bounded context, each with its model, its `ports.rs` and
//! its use cases in `service.rs`. A context may use only the contexts its row
//! names, tests included (checked by `cargo xtask tidy`), so the map has no
//! cycles: each context uses only contexts listed above it.
//!
//! | context         | may use                                                                                                              |
//! |-----------------|----------------------------------------------------------------------------------------------------------------------|
//! | `kernel`        | nothing                                                                                                              |
//! | `identity`      | kernel                                                                                                               |
//! | `tenancy`       | kernel, identity                                                                                                     |
//! | `tiers`         | kernel, identity, tenancy                                                                                            |
//! | `fields`        | kernel, identity, tenancy                                                                                            |
//! | `organizations` | kernel, identity, tenancy, fields                                                                                    |
//! | `contacts`      | kernel, identity, tenancy, tiers, fields, organizations                                                              |
//! | `routing`       | kernel, identity, tenancy, tiers, contacts                                                                           |
//! | `conversations` | kernel, identity, tenancy, fields, contacts                                                                          |
//! | `notes`         | kernel, tenancy                                                                                                      |
//! | `attachments`   | kernel, tenancy                                                                                                      |
//! | `merge`         | kernel, identity, tenancy, tiers, fields, organizations, contacts                                                    |
//! | `search`        | kernel, identity, tenancy, contacts                                                                                  |
//! | `segments`      | kernel, tenancy, tiers, contacts                                                                                     |
//! | `exchange`      | kernel, identity, tenancy, tiers, fields, organizations, contacts                                                    |
//! | `testing`       | kernel, identity, tenancy, tiers, fields, organizations, contacts, routing, conversations, notes, attachments, merge, search, segments, exchange |
//!
//! `testing` is no context: it holds the contract suite of every port and
//! its fixtures (behind the `testing` feature), for any adapter to run.
//!
//! Next contexts take their own folder beside these: `sales`, `orders`,
//! `objects`, `access`, `events` and `reports`.

pub mod kernel;

pub mod identity;
pub mod tenancy;

pub mod contacts;
pub mod fields;
pub mod organizations;
pub mod tiers;

pub mod routing;

pub mod attachments;
pub mod conversations;
pub mod exchange;
pub mod merge;
pub mod notes;
pub mod search;
pub mod segments;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use contacts::{Contact, ContactFields, LifecycleStage};
pub use identity::{Channel, ContactIdentity, IdentityKey, IdentityKind, Region};
pub use kernel::{
    AttachmentId, ContactId, ConversationId, DomainError, Entity, FieldId, FieldViolation, MergeId,
    NoteId, OrganizationId, Precondition, SectionId, TabId, TenantId, TierId,
};
