//! Authentication end to end: every RPC of every service refuses a call
//! without a valid bearer key, with UNAUTHENTICATED, even when the request
//! itself would be valid for the tenant.

use crm_proto::v1 as pb;
use tonic::Code;

use crate::fixtures::{assert_code, email, identity, mask, sender, tenant_settings};
use crate::harness::{TestServer, on_both};

/// A request carrying `authorization` verbatim, or no such metadata at all.
fn request<T>(message: T, authorization: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(value) = authorization {
        request
            .metadata_mut()
            .insert("authorization", value.parse().unwrap());
    }
    request
}

/// Calls every RPC with `authorization`, each with a body that would succeed
/// with the tenant's key, and returns how each ended.
async fn every_rpc(
    server: &TestServer,
    contact: &pb::Contact,
    authorization: Option<&str>,
) -> Vec<(&'static str, Result<(), tonic::Status>)> {
    let mut contacts = server.contacts().await;
    let mut tenants = server.tenants().await;
    let auth = authorization;
    let id = contact.id.clone();
    vec![
        (
            "CreateContact",
            contacts
                .create_contact(request(
                    pb::CreateContactRequest {
                        contact: Some(pb::Contact {
                            emails: vec![email("new@example.com")],
                            ..Default::default()
                        }),
                        request_id: String::new(),
                    },
                    auth,
                ))
                .await
                .map(drop),
        ),
        (
            "GetContact",
            contacts
                .get_contact(request(pb::GetContactRequest { id: id.clone() }, auth))
                .await
                .map(drop),
        ),
        (
            "ListContacts",
            contacts
                .list_contacts(request(pb::ListContactsRequest::default(), auth))
                .await
                .map(drop),
        ),
        (
            "UpdateContact",
            contacts
                .update_contact(request(
                    pb::UpdateContactRequest {
                        contact: Some(pb::Contact {
                            id: id.clone(),
                            city: "Porto".into(),
                            ..Default::default()
                        }),
                        update_mask: mask(&["city"]),
                        etag: String::new(),
                    },
                    auth,
                ))
                .await
                .map(drop),
        ),
        (
            "ResolveSender",
            contacts
                .resolve_sender(request(
                    sender(pb::Channel::Email, "someone@example.com"),
                    auth,
                ))
                .await
                .map(drop),
        ),
        (
            "AddIdentity",
            contacts
                .add_identity(request(
                    pb::AddIdentityRequest {
                        contact_id: id.clone(),
                        identity: Some(identity(pb::IdentityKind::Instagram, "ana")),
                        primary: false,
                        etag: String::new(),
                    },
                    auth,
                ))
                .await
                .map(drop),
        ),
        (
            "RemoveIdentity",
            contacts
                .remove_identity(request(
                    pb::RemoveIdentityRequest {
                        contact_id: id.clone(),
                        identity: Some(identity(pb::IdentityKind::Telegram, "ana")),
                        etag: String::new(),
                    },
                    auth,
                ))
                .await
                .map(drop),
        ),
        (
            "DeleteContact",
            contacts
                .delete_contact(request(
                    pb::DeleteContactRequest {
                        id,
                        etag: String::new(),
                    },
                    auth,
                ))
                .await
                .map(drop),
        ),
        (
            "GetTenantSettings",
            tenants
                .get_tenant_settings(request(pb::GetTenantSettingsRequest {}, auth))
                .await
                .map(drop),
        ),
        (
            "UpdateTenantSettings",
            tenants
                .update_tenant_settings(request(
                    pb::UpdateTenantSettingsRequest {
                        settings: Some(pb::TenantSettings {
                            default_region: "GB".into(),
                            ..Default::default()
                        }),
                        update_mask: mask(&["default_region"]),
                        etag: String::new(),
                    },
                    auth,
                ))
                .await
                .map(drop),
        ),
    ]
}

async fn target(server: &TestServer) -> pb::Contact {
    server
        .create(pb::Contact {
            emails: vec![email("ana@example.com")],
            identities: vec![identity(pb::IdentityKind::Telegram, "ana")],
            ..Default::default()
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_refuses_a_call_without_a_valid_key() {
    on_both(|server| async move {
        let contact = target(&server).await;
        let wrong_key = format!("Bearer crm_{}", "0".repeat(64));
        let typo = format!("Bearer {}x", server.key);
        let basic = format!("Basic {}", server.key);
        for authorization in [
            None,
            Some(wrong_key.as_str()),
            Some(typo.as_str()),
            Some("Basic x"),
            Some(basic.as_str()),
            Some("Bearer"),
            Some("Bearer "),
            Some(server.key.as_str()),
        ] {
            let outcomes = every_rpc(&server, &contact, authorization).await;
            assert_eq!(outcomes.len(), 10);
            for (rpc, outcome) in outcomes {
                let status = outcome
                    .err()
                    .unwrap_or_else(|| panic!("{rpc} accepted {authorization:?}"));
                assert_code(&status, Code::Unauthenticated);
            }
        }
        // Nothing the refused calls asked for happened.
        assert_eq!(server.get(&contact.id).await, contact);
        assert_eq!(server.list_all().await, [contact]);
        let settings = tenant_settings(&server).await;
        assert_eq!(settings.default_region, "US");
    })
    .await;
}

/// The check above must not pass merely because the bodies are bad: with
/// the real key, the same calls all succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_accepts_the_tenants_bearer_key() {
    on_both(|server| async move {
        let contact = target(&server).await;
        let authorization = format!("Bearer {}", server.key);
        for (rpc, outcome) in every_rpc(&server, &contact, Some(&authorization)).await {
            if let Err(status) = outcome {
                panic!("{rpc}: {status:?}");
            }
        }
    })
    .await;
}
