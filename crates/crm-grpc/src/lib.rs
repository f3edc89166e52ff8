//! The inbound gRPC adapter: tonic services that turn protobuf requests into
//! domain calls and domain results back into protobuf, plus caller
//! authentication and the one mapping from domain errors to gRPC statuses.
//! It depends on the domain and the generated code, never on the store.

/// Implements a tonic service trait from a table of its RPCs. Every RPC
/// `name(Request) -> Response` is served the same way: authenticate the
/// caller, hand the caller and the request message to the inherent method
/// `name` of the API type, and turn its `Result<_, DomainError>` into a
/// response or a status in [`status::respond`], the one place errors are
/// mapped. Associated items the trait needs besides (a stream type) follow
/// the table.
macro_rules! serve {
    (impl $trait:ident for $api:ident {
        $($rpc:ident($request:ty) -> $response:ty;)*
    } $($extra:tt)*) => {
        #[tonic::async_trait]
        impl $trait for $api {
            $($extra)*
            $(
                async fn $rpc(
                    &self,
                    request: tonic::Request<$request>,
                ) -> Result<tonic::Response<$response>, tonic::Status> {
                    let caller = self.auth.authenticate(&request).await?;
                    $crate::status::respond($api::$rpc(self, caller, request.into_inner()).await)
                }
            )*
        }
    };
}
pub(crate) use serve;

mod attachment_service;
pub mod auth;
mod contact_service;
mod conversation_service;
mod convert;
mod custom_field_service;
mod export_service;
mod import_service;
mod merge_service;
mod note_service;
mod organization_service;
mod segment_service;
mod sender_stream;
pub mod status;
mod tenant_service;
mod tier_service;
mod token;

pub use attachment_service::AttachmentApi;
pub use auth::{Authenticator, generate_api_key, hash_api_key};
pub use contact_service::ContactApi;
pub use conversation_service::ConversationApi;
pub use custom_field_service::CustomFieldApi;
pub use export_service::ExportApi;
pub use import_service::ImportApi;
pub use merge_service::MergeApi;
pub use note_service::NoteApi;
pub use organization_service::OrganizationApi;
pub use segment_service::SegmentApi;
pub use tenant_service::TenantApi;
pub use tier_service::TierApi;

#[cfg(test)]
mod descriptor_tests {
    //! The hand-written lists of updatable paths and resource types must name
    //! what the compiled proto declares, so a renamed field breaks a test
    //! rather than a client.
    #![allow(clippy::unwrap_used)]
    use std::collections::HashMap;

    use crm_domain::Entity;
    use prost::Message;
    use prost_types::field_descriptor_proto::{Label, Type};
    use prost_types::{DescriptorProto, FileDescriptorSet};

    use super::*;

    /// Every message of the set by its full name (`crm.v1.Contact`).
    fn messages() -> HashMap<String, DescriptorProto> {
        fn walk(
            prefix: &str,
            found: &[DescriptorProto],
            into: &mut HashMap<String, DescriptorProto>,
        ) {
            for message in found {
                let name = format!("{prefix}.{}", message.name());
                walk(&name, &message.nested_type, into);
                into.insert(name, message.clone());
            }
        }
        let set = FileDescriptorSet::decode(crm_proto::FILE_DESCRIPTOR_SET).unwrap();
        let mut into = HashMap::new();
        for file in &set.file {
            walk(file.package(), &file.message_type, &mut into);
        }
        into
    }

    /// Whether `path` (dotted, as in a field mask) names a field of
    /// `message`, following message-typed fields; a map field ends the walk
    /// (what follows it is a key).
    fn has_path(messages: &HashMap<String, DescriptorProto>, message: &str, path: &str) -> bool {
        let mut current = &messages[message];
        let mut segments = path.split('.').peekable();
        while let Some(segment) = segments.next() {
            let Some(field) = current.field.iter().find(|field| field.name() == segment) else {
                return false;
            };
            if segments.peek().is_none() {
                return true;
            }
            if field.r#type() != Type::Message {
                return false;
            }
            let next = &messages[field.type_name().trim_start_matches('.')];
            let is_map = field.label() == Label::Repeated
                && next
                    .options
                    .as_ref()
                    .is_some_and(|options| options.map_entry());
            if is_map {
                return true;
            }
            current = next;
        }
        false
    }

    #[test]
    fn update_masks_name_fields_of_their_resource() {
        let messages = messages();
        let masks: [(&str, &[&str]); 9] = [
            ("crm.v1.Contact", &convert::contact::UPDATABLE),
            ("crm.v1.Tier", &convert::tier::UPDATABLE),
            ("crm.v1.Organization", &convert::organization::UPDATABLE),
            ("crm.v1.CustomField", &convert::custom_field::UPDATABLE),
            ("crm.v1.Conversation", &convert::conversation::UPDATABLE),
            ("crm.v1.Note", &convert::note::UPDATABLE),
            ("crm.v1.TenantSettings", &convert::tenancy::UPDATABLE),
            ("crm.v1.Tab", &convert::custom_field::RENAMABLE),
            ("crm.v1.Section", &convert::custom_field::RENAMABLE),
        ];
        for (resource, paths) in masks {
            assert!(messages.contains_key(resource), "{resource}");
            for path in paths {
                assert!(has_path(&messages, resource, path), "{resource}: {path}");
            }
        }
        assert!(has_path(&messages, "crm.v1.Contact", "custom_fields.plan"));
        assert!(!has_path(&messages, "crm.v1.Contact", "no_such_field"));
    }

    #[test]
    fn resource_types_are_messages() {
        let messages = messages();
        let all = [
            Entity::Contact,
            Entity::Tenant,
            Entity::Identity,
            Entity::Tier,
            Entity::CustomField,
            Entity::Tab,
            Entity::Section,
            Entity::Organization,
            Entity::Note,
            Entity::Conversation,
            Entity::Attachment,
            Entity::Segment,
            Entity::ImportJob,
        ];
        for entity in all {
            // No `_` arm: a new entity fails to compile until listed above.
            match entity {
                Entity::Contact
                | Entity::Tenant
                | Entity::Identity
                | Entity::Tier
                | Entity::CustomField
                | Entity::Tab
                | Entity::Section
                | Entity::Organization
                | Entity::Note
                | Entity::Conversation
                | Entity::Attachment
                | Entity::Segment
                | Entity::ImportJob => {}
            }
            let name = status::resource_type(entity);
            assert!(messages.contains_key(name), "{entity:?}: {name}");
        }
    }
}
