//! The inbound gRPC adapter: tonic services that turn protobuf requests into
//! domain calls and domain results back into protobuf, plus caller
//! authentication and the one mapping from domain errors to gRPC statuses.
//! It depends on the domain and the generated code, never on the store.

mod attachment_service;
pub mod auth;
mod contact_service;
mod conversation_service;
mod convert;
mod custom_field_service;
mod merge_service;
mod note_service;
mod organization_service;
mod page_token;
pub mod status;
mod tenant_service;
mod tier_service;

pub use attachment_service::AttachmentApi;
pub use auth::{Authenticator, generate_api_key, hash_api_key};
pub use contact_service::ContactApi;
pub use conversation_service::ConversationApi;
pub use custom_field_service::CustomFieldApi;
pub use merge_service::MergeApi;
pub use note_service::NoteApi;
pub use organization_service::OrganizationApi;
pub use tenant_service::TenantApi;
pub use tier_service::TierApi;
