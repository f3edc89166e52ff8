//! Shared and blocked addresses end to end: a tenant lists addresses that
//! identify nobody (a team inbox, a switchboard number, a test address);
//! ResolveSender then neither matches, attaches nor claims them.

use crm_proto::v1 as pb;

use crate::fixtures::{assert_invalid, contact_with_email, mask, sender, tenant_settings};
use crate::harness::{TestServer, on_both};

fn shared(kind: pb::IdentityKind, value: &str, usage: pb::AddressUse) -> pb::SharedAddress {
    pb::SharedAddress {
        kind: kind as i32,
        value: value.into(),
        address_use: usage as i32,
    }
}

async fn set_shared(
    server: &TestServer,
    addresses: Vec<pb::SharedAddress>,
) -> Result<pb::TenantSettings, tonic::Status> {
    server
        .tenants()
        .await
        .update_tenant_settings(server.req(pb::UpdateTenantSettingsRequest {
            settings: Some(pb::TenantSettings {
                shared_addresses: addresses,
                ..Default::default()
            }),
            update_mask: mask(&["shared_addresses"]),
            etag: String::new(),
        }))
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_addresses_identify_nobody() {
    on_both(|server| async move {
        let holder = contact_with_email(&server, "team@acme.com").await;
        let settings = set_shared(
            &server,
            vec![
                shared(
                    pb::IdentityKind::Phone,
                    "(650) 253-0000",
                    pb::AddressUse::Shared,
                ),
                shared(
                    pb::IdentityKind::Email,
                    " Team@Acme.com",
                    pb::AddressUse::Unspecified,
                ),
                shared(
                    pb::IdentityKind::Email,
                    "test@test.com",
                    pb::AddressUse::Blocked,
                ),
            ],
        )
        .await
        .unwrap();
        let listed: Vec<(String, i32)> = settings
            .shared_addresses
            .iter()
            .map(|s| (s.value.clone(), s.address_use))
            .collect();
        assert_eq!(
            listed,
            [
                ("team@acme.com".to_owned(), pb::AddressUse::Shared as i32),
                ("test@test.com".to_owned(), pb::AddressUse::Blocked as i32),
                ("+16502530000".to_owned(), pb::AddressUse::Shared as i32),
            ]
        );

        // The team inbox no longer finds the contact that holds it: the
        // sender is recognised by its other address, or created without it.
        let mut request = sender(pb::Channel::Email, "team@acme.com");
        request.phone = "+5511987654321".into();
        let first = server.resolve(request.clone()).await;
        assert!(first.created);
        let created = first.contact.unwrap();
        assert_ne!(created.id, holder.id);
        assert!(created.emails.is_empty(), "{created:?}");
        assert_eq!(created.phones[0].number, "+5511987654321");
        let again = server.resolve(request).await;
        assert!(!again.created);
        assert_eq!(again.contact.unwrap().id, created.id);
        assert_eq!(
            again.matched_by,
            pb::MatchedBy::Phone as i32,
            "found by the phone hint, not the shared email"
        );
        assert_eq!(
            server.get(&holder.id).await.emails[0].address,
            "team@acme.com"
        );

        // A known contact is never given a shared address either.
        let mut hinted = sender(pb::Channel::Whatsapp, "+5511987654321");
        hinted.email = "test@test.com".into();
        let known = server.resolve(hinted).await;
        assert!(known.contact.unwrap().emails.is_empty());

        // Only shared addresses: a new contact each time, holding none of them.
        let switchboard = sender(pb::Channel::Voice, "6502530000");
        let one = server.resolve(switchboard.clone()).await;
        let two = server.resolve(switchboard).await;
        assert!(one.created && two.created);
        let (one, two) = (one.contact.unwrap(), two.contact.unwrap());
        assert_ne!(one.id, two.id);
        assert!(one.phones.is_empty() && two.phones.is_empty());

        // Bad entries are named; nothing changes.
        let fine = shared(
            pb::IdentityKind::Email,
            "fine@acme.com",
            pb::AddressUse::Shared,
        );
        let no_kind = set_shared(
            &server,
            vec![
                fine.clone(),
                shared(pb::IdentityKind::Unspecified, "x", pb::AddressUse::Shared),
            ],
        )
        .await
        .unwrap_err();
        assert_invalid(&no_kind, &["settings.shared_addresses[1].kind"]);
        let bad_values = set_shared(
            &server,
            vec![
                shared(
                    pb::IdentityKind::Email,
                    "not an email",
                    pb::AddressUse::Shared,
                ),
                fine,
                shared(pb::IdentityKind::Phone, "12", pb::AddressUse::Blocked),
            ],
        )
        .await
        .unwrap_err();
        assert_invalid(
            &bad_values,
            &[
                "settings.shared_addresses[0].value",
                "settings.shared_addresses[2].value",
            ],
        );
        let current = tenant_settings(&server).await;
        assert_eq!(current.shared_addresses, settings.shared_addresses);
    })
    .await;
}
