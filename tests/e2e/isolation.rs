//! Tenant isolation end to end: with its own key, tenant B cannot read,
//! change or even detect tenant A's contacts. A's ids behave exactly like
//! ids that do not exist, and A's addresses are free in B.

use crm_proto::v1 as pb;
use tonic::Code;

use crate::fixtures::{assert_code, email, identity, mask, phone, sender};
use crate::harness::{TestServer, on_both, with_key};

async fn tenant_a_contact(server: &TestServer) -> pb::Contact {
    server
        .create(pb::Contact {
            display_name: "Ana".into(),
            emails: vec![email("ana@example.com")],
            phones: vec![phone("+1 650 253 0000")],
            identities: vec![identity(pb::IdentityKind::Instagram, "@ana")],
            external_id: "crm-42".into(),
            ..Default::default()
        })
        .await
}

/// Every single-contact RPC on `id` with `key`, as (name, status).
async fn touch(
    server: &TestServer,
    id: &str,
    etag: &str,
    key: &str,
) -> Vec<(String, tonic::Status)> {
    let mut client = server.contacts().await;
    let mut outcomes = Vec::new();
    let mut record = |name: &str, outcome: Result<(), tonic::Status>| match outcome {
        Ok(()) => panic!("{name} on another tenant's contact succeeded"),
        Err(status) => outcomes.push((name.to_owned(), status)),
    };
    record(
        "GetContact",
        client
            .get_contact(with_key(pb::GetContactRequest { id: id.into() }, key))
            .await
            .map(drop),
    );
    record(
        "UpdateContact",
        client
            .update_contact(with_key(
                pb::UpdateContactRequest {
                    contact: Some(pb::Contact {
                        id: id.into(),
                        city: "Porto".into(),
                        ..Default::default()
                    }),
                    update_mask: mask(&["city"]),
                    etag: etag.into(),
                },
                key,
            ))
            .await
            .map(drop),
    );
    record(
        "AddIdentity",
        client
            .add_identity(with_key(
                pb::AddIdentityRequest {
                    contact_id: id.into(),
                    identity: Some(identity(pb::IdentityKind::Telegram, "intruder")),
                    primary: false,
                    etag: etag.into(),
                },
                key,
            ))
            .await
            .map(drop),
    );
    record(
        "RemoveIdentity",
        client
            .remove_identity(with_key(
                pb::RemoveIdentityRequest {
                    contact_id: id.into(),
                    identity: Some(identity(pb::IdentityKind::Instagram, "ana")),
                    etag: etag.into(),
                },
                key,
            ))
            .await
            .map(drop),
    );
    record(
        "DeleteContact",
        client
            .delete_contact(with_key(
                pb::DeleteContactRequest {
                    id: id.into(),
                    etag: etag.into(),
                },
                key,
            ))
            .await
            .map(drop),
    );
    outcomes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenant_cannot_read_or_change_a_contact() {
    on_both(|server| async move {
        let contact = tenant_a_contact(&server).await;
        let other = server.new_tenant("US").await;
        // Without an etag, with A's current etag, and with a stale one: an
        // etag check must not reveal that the contact exists.
        for etag in ["", contact.etag.as_str(), "W/\"99\""] {
            for (rpc, status) in touch(&server, &contact.id, etag, &other).await {
                assert_eq!(
                    status.code(),
                    Code::NotFound,
                    "{rpc} etag {etag:?}: {status:?}"
                );
            }
        }
        assert_eq!(server.get(&contact.id).await, contact);
        assert_eq!(server.list_all_with_key(&other).await, []);
    })
    .await;
}

/// An id of A's, seen from B, answers exactly like an id nobody has: same
/// codes, and the same messages once the id itself is blanked out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_ids_look_like_ids_that_do_not_exist() {
    on_both(|server| async move {
        let contact = tenant_a_contact(&server).await;
        let other = server.new_tenant("US").await;
        let missing = uuid::Uuid::now_v7().to_string();
        for etag in ["", "W/\"1\"", "W/\"99\""] {
            let foreign = touch(&server, &contact.id, etag, &other).await;
            let absent = touch(&server, &missing, etag, &other).await;
            for ((rpc, foreign), (_, absent)) in foreign.iter().zip(&absent) {
                assert_eq!(foreign.code(), absent.code(), "{rpc} etag {etag:?}");
                assert_eq!(
                    foreign.message().replace(&contact.id, "ID"),
                    absent.message().replace(&missing, "ID"),
                    "{rpc} etag {etag:?}"
                );
            }
        }
        assert_eq!(server.get(&contact.id).await, contact);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_shows_only_the_callers_contacts() {
    on_both(|server| async move {
        let mine = [
            tenant_a_contact(&server).await,
            server
                .resolve(sender(pb::Channel::Messenger, "psid-1"))
                .await
                .contact
                .unwrap(),
        ];
        let other = server.new_tenant("US").await;
        assert_eq!(server.list_all_with_key(&other).await, []);
        let theirs = server
            .resolve_with_key(sender(pb::Channel::Messenger, "psid-2"), &other)
            .await
            .contact
            .unwrap();
        assert_eq!(server.list_all_with_key(&other).await, [theirs]);
        assert_eq!(server.list_all().await, mine);

        // A page token from A's list does not open A's contacts to B.
        let page = server
            .contacts()
            .await
            .list_contacts(server.req(pb::ListContactsRequest {
                page_size: 1,
                page_token: String::new(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(!page.next_page_token.is_empty());
        let from_b = server
            .contacts()
            .await
            .list_contacts(with_key(
                pb::ListContactsRequest {
                    page_size: 10,
                    page_token: page.next_page_token,
                    ..Default::default()
                },
                &other,
            ))
            .await
            .map(|response| response.into_inner().contacts);
        if let Ok(contacts) = from_b {
            assert!(
                contacts.iter().all(|c| !mine.iter().any(|m| m.id == c.id)),
                "{contacts:?}"
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolving_another_tenants_address_creates_a_contact_of_ones_own() {
    on_both(|server| async move {
        let contact = tenant_a_contact(&server).await;
        let other = server.new_tenant("US").await;
        for (channel, address) in [
            (pb::Channel::Email, "ana@example.com"),
            (pb::Channel::Whatsapp, "16502530000"),
            (pb::Channel::Instagram, "@ana"),
        ] {
            let resolved = server
                .resolve_with_key(
                    pb::ResolveSenderRequest {
                        external_id: "crm-42".into(),
                        ..sender(channel, address)
                    },
                    &other,
                )
                .await;
            assert!(resolved.created, "{channel:?}: {resolved:?}");
            let theirs = resolved.contact.unwrap();
            assert_ne!(theirs.id, contact.id);
            // B now recognises the sender as its own contact.
            let again = server
                .resolve_with_key(sender(channel, address), &other)
                .await;
            assert_eq!(again.contact.unwrap().id, theirs.id);
            // Clear the way for the next channel in B.
            server
                .contacts()
                .await
                .delete_contact(with_key(
                    pb::DeleteContactRequest {
                        id: theirs.id,
                        etag: String::new(),
                    },
                    &other,
                ))
                .await
                .unwrap();
        }
        assert_eq!(server.get(&contact.id).await, contact);
        assert_eq!(server.list_all().await, [contact]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenant_can_create_a_contact_with_the_same_addresses() {
    on_both(|server| async move {
        let contact = tenant_a_contact(&server).await;
        let other = server.new_tenant("US").await;
        let theirs = server
            .create_with_key(
                pb::Contact {
                    emails: vec![email("Ana@Example.com")],
                    phones: vec![phone("(650) 253-0000")],
                    identities: vec![identity(pb::IdentityKind::Instagram, "ANA")],
                    external_id: "crm-42".into(),
                    ..Default::default()
                },
                &other,
            )
            .await;
        assert_ne!(theirs.id, contact.id);
        assert_eq!(theirs.emails[0].normalized_address, "ana@example.com");
        // B adding A's addresses to another of its contacts is refused by
        // B's own holder, never A's.
        let second = server
            .create_with_key(
                pb::Contact {
                    display_name: "Second".into(),
                    ..Default::default()
                },
                &other,
            )
            .await;
        let status = server
            .contacts()
            .await
            .add_identity(with_key(
                pb::AddIdentityRequest {
                    contact_id: second.id,
                    identity: Some(identity(pb::IdentityKind::Email, "ana@example.com")),
                    primary: false,
                    etag: String::new(),
                },
                &other,
            ))
            .await
            .unwrap_err();
        crate::fixtures::assert_claimed_by(&status, &theirs.id);
        assert_eq!(server.get(&contact.id).await, contact);
        assert_code(
            &server
                .contacts()
                .await
                .get_contact(with_key(
                    pb::GetContactRequest {
                        id: theirs.id.clone(),
                    },
                    &server.key,
                ))
                .await
                .unwrap_err(),
            Code::NotFound,
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_id_another_tenant_used_creates_a_contact_of_ones_own() {
    on_both(|server| async move {
        let other = server.new_tenant("US").await;
        let mut client = server.contacts().await;
        let request = |address: &str| pb::CreateContactRequest {
            contact: Some(pb::Contact {
                emails: vec![email(address)],
                ..Default::default()
            }),
            request_id: "shared-request-id".into(),
        };
        let mine = client
            .create_contact(server.req(request("ana@example.com")))
            .await
            .unwrap()
            .into_inner();
        let theirs = client
            .create_contact(with_key(request("bea@example.com"), &other))
            .await
            .unwrap()
            .into_inner();
        assert_ne!(theirs.id, mine.id);
        assert_eq!(theirs.emails[0].normalized_address, "bea@example.com");
        assert_eq!(server.list_all_with_key(&other).await, [theirs]);
        assert_eq!(server.list_all().await, [mine]);
    })
    .await;
}
