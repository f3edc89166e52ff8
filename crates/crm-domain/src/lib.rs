//! The contact ledger's pure domain: entities and value objects, the rules
//! that keep them valid (address normalisation, identity matching), the use
//! cases that drive them, and the ports those use cases need. No I/O crate
//! is a dependency: adapters implement the ports in `ports.rs`.

pub mod attachment;
pub mod contact;
pub mod conversation;
pub mod conversation_service;
pub mod custom_field;
pub mod custom_field_service;
pub mod duplicates;
pub mod error;
pub mod identity;
pub mod ids;
pub mod layout;
pub mod merge;
pub mod merge_service;
pub mod note;
pub mod organization;
pub mod organization_service;
pub mod page;
pub mod ports;
pub mod resolve;
pub mod service;
pub mod tag;
pub mod tenant;
pub mod tier;
pub mod tier_service;

pub use contact::{Contact, ContactFields, ContactIdentity, IdentityKey, LifecycleStage};
pub use error::{DomainError, Entity, FieldViolation};
pub use identity::{Channel, IdentityKind, Region};
pub use ids::{
    AttachmentId, ContactId, ConversationId, FieldId, MergeId, NoteId, OrganizationId, SectionId,
    TabId, TenantId, TierId,
};
