//! AddIdentity and RemoveIdentity end to end: added addresses resolve to
//! the contact, removed ones stop resolving, claimed ones name their holder,
//! primaries move as asked, and etags guard both.

use crm_proto::v1 as pb;
use tonic::Code;

use crate::fixtures::{
    assert_claimed_by, assert_code, assert_invalid, contact_with_email, email, identity, sender,
};
use crate::harness::on_both;

fn add(contact_id: &str, identity: pb::Identity, primary: bool) -> pb::AddIdentityRequest {
    pb::AddIdentityRequest {
        contact_id: contact_id.into(),
        identity: Some(identity),
        primary,
        etag: String::new(),
    }
}

fn remove(contact_id: &str, identity: pb::Identity) -> pb::RemoveIdentityRequest {
    pb::RemoveIdentityRequest {
        contact_id: contact_id.into(),
        identity: Some(identity),
        etag: String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_added_handle_resolves_to_the_contact() {
    on_both(|server| async move {
        let contact = contact_with_email(&server, "ana@example.com").await;
        let updated = server
            .contacts()
            .await
            .add_identity(server.req(add(
                &contact.id,
                identity(pb::IdentityKind::Instagram, "@Ana_S"),
                false,
            )))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            updated.identities,
            [pb::Identity {
                kind: pb::IdentityKind::Instagram as i32,
                value: "@Ana_S".into(),
                normalized_value: "ana_s".into(),
            }]
        );
        assert_eq!(updated.emails, contact.emails);
        assert_ne!(updated.etag, contact.etag);
        assert_eq!(server.get(&contact.id).await, updated);

        let resolved = server
            .resolve(sender(pb::Channel::Instagram, "ana_s"))
            .await;
        assert!(!resolved.created, "{resolved:?}");
        assert_eq!(resolved.matched_by, pb::MatchedBy::Address as i32);
        assert_eq!(resolved.contact.unwrap().id, contact.id);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn added_emails_and_phones_land_in_their_lists() {
    on_both(|server| async move {
        let contact = contact_with_email(&server, "ana@example.com").await;
        let mut client = server.contacts().await;
        let with_phone = client
            .add_identity(server.req(add(
                &contact.id,
                identity(pb::IdentityKind::Phone, "(650) 253-0000"),
                false,
            )))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            with_phone.phones,
            [pb::PhoneNumber {
                number: "(650) 253-0000".into(),
                e164: "+16502530000".into(),
                primary: true,
            }]
        );
        assert_eq!(with_phone.identities, []);
        let with_email = client
            .add_identity(server.req(add(
                &contact.id,
                identity(pb::IdentityKind::Email, "Ana.Work@Example.com"),
                false,
            )))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            primaries(&with_email),
            [("ana.work@example.com", false), ("ana@example.com", true)]
        );
        let by_sms = server
            .resolve(sender(pb::Channel::Sms, "+1 650 253 0000"))
            .await;
        assert_eq!(by_sms.contact.unwrap().id, contact.id);

        // A phone is removed by any way of writing it.
        let without_phone = client
            .remove_identity(server.req(remove(
                &contact.id,
                identity(pb::IdentityKind::Phone, "+1 650-253-0000"),
            )))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(without_phone.phones, []);

        // Adding an address the contact already holds changes nothing.
        let again = client
            .add_identity(server.req(add(
                &contact.id,
                identity(pb::IdentityKind::Email, "ANA.WORK@example.com"),
                false,
            )))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(again.emails, with_email.emails);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_an_address_another_contact_holds_is_already_exists() {
    on_both(|server| async move {
        let holder = server
            .create(pb::Contact {
                emails: vec![email("ana@example.com")],
                identities: vec![identity(pb::IdentityKind::Telegram, "@ana")],
                ..Default::default()
            })
            .await;
        let other = contact_with_email(&server, "bea@example.com").await;
        let mut client = server.contacts().await;
        for claimed in [
            identity(pb::IdentityKind::Email, "ANA@example.com"),
            identity(pb::IdentityKind::Telegram, "Ana"),
        ] {
            let status = client
                .add_identity(server.req(add(&other.id, claimed.clone(), true)))
                .await
                .unwrap_err();
            assert_claimed_by(&status, &holder.id);
        }
        assert_eq!(server.get(&other.id).await, other);
        assert_eq!(server.get(&holder.id).await, holder);
    })
    .await;
}

/// A contact's emails with their primary flags, by address (list order is
/// checked in `contacts`).
fn primaries(contact: &pb::Contact) -> Vec<(&str, bool)> {
    let mut emails: Vec<(&str, bool)> = contact
        .emails
        .iter()
        .map(|e| (e.normalized_address.as_str(), e.primary))
        .collect();
    emails.sort_unstable();
    emails
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_email_added_takes_over_from_the_old_primary() {
    on_both(|server| async move {
        let contact = contact_with_email(&server, "old@example.com").await;
        assert!(contact.emails[0].primary);
        let updated = server
            .contacts()
            .await
            .add_identity(server.req(add(
                &contact.id,
                identity(pb::IdentityKind::Email, "new@example.com"),
                true,
            )))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            primaries(&updated),
            [("new@example.com", true), ("old@example.com", false)]
        );
        assert_eq!(server.get(&contact.id).await.emails, updated.emails);

        // Marking an address the contact holds as primary moves the flag back.
        let back = server
            .contacts()
            .await
            .add_identity(server.req(add(
                &contact.id,
                identity(pb::IdentityKind::Email, "old@example.com"),
                true,
            )))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            primaries(&back),
            [("new@example.com", false), ("old@example.com", true)]
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_address_resolves_to_a_new_contact() {
    on_both(|server| async move {
        let contact = server
            .create(pb::Contact {
                display_name: "Ana".into(),
                emails: vec![email("ana@example.com"), email("ana.work@example.com")],
                identities: vec![identity(pb::IdentityKind::Instagram, "@Ana")],
                ..Default::default()
            })
            .await;
        let mut client = server.contacts().await;
        // The value is normalised before it is looked up.
        let updated = client
            .remove_identity(server.req(remove(
                &contact.id,
                identity(pb::IdentityKind::Instagram, "ANA"),
            )))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(updated.identities, []);
        assert_ne!(updated.etag, contact.etag);

        // Removing the primary email makes the next one primary.
        let updated = client
            .remove_identity(server.req(remove(
                &contact.id,
                identity(pb::IdentityKind::Email, "Ana@Example.com"),
            )))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(primaries(&updated), [("ana.work@example.com", true)]);
        assert_eq!(server.get(&contact.id).await, updated);

        for removed in [
            sender(pb::Channel::Instagram, "@ana"),
            sender(pb::Channel::Email, "ana@example.com"),
        ] {
            let resolved = server.resolve(removed).await;
            assert!(resolved.created, "{resolved:?}");
            assert_ne!(resolved.contact.unwrap().id, contact.id);
        }
        let kept = server
            .resolve(sender(pb::Channel::Email, "ana.work@example.com"))
            .await;
        assert_eq!(kept.contact.unwrap().id, contact.id);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_an_address_the_contact_does_not_hold_is_not_found() {
    on_both(|server| async move {
        let contact = contact_with_email(&server, "ana@example.com").await;
        let other = contact_with_email(&server, "bea@example.com").await;
        let mut client = server.contacts().await;
        for absent in [
            identity(pb::IdentityKind::Email, "nobody@example.com"),
            // Held, but by another contact.
            identity(pb::IdentityKind::Email, "bea@example.com"),
            identity(pb::IdentityKind::Instagram, "ana"),
        ] {
            let status = client
                .remove_identity(server.req(remove(&contact.id, absent)))
                .await
                .unwrap_err();
            assert_code(&status, Code::NotFound);
        }
        let status = client
            .remove_identity(server.req(remove(
                &uuid::Uuid::now_v7().to_string(),
                identity(pb::IdentityKind::Email, "ana@example.com"),
            )))
            .await
            .unwrap_err();
        assert_code(&status, Code::NotFound);
        assert_eq!(server.get(&contact.id).await, contact);
        assert_eq!(server.get(&other.id).await, other);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_changes_with_a_stale_etag_are_aborted() {
    on_both(|server| async move {
        let contact = server
            .create(pb::Contact {
                emails: vec![email("ana@example.com")],
                identities: vec![identity(pb::IdentityKind::Telegram, "ana")],
                ..Default::default()
            })
            .await;
        let mut client = server.contacts().await;
        let changed = client
            .add_identity(server.req(pb::AddIdentityRequest {
                etag: contact.etag.clone(),
                ..add(
                    &contact.id,
                    identity(pb::IdentityKind::Instagram, "ana"),
                    false,
                )
            }))
            .await
            .unwrap()
            .into_inner();
        assert_ne!(changed.etag, contact.etag);

        let status = client
            .add_identity(server.req(pb::AddIdentityRequest {
                etag: contact.etag.clone(),
                ..add(
                    &contact.id,
                    identity(pb::IdentityKind::Messenger, "psid-1"),
                    false,
                )
            }))
            .await
            .unwrap_err();
        assert_code(&status, Code::Aborted);
        let status = client
            .remove_identity(server.req(pb::RemoveIdentityRequest {
                etag: contact.etag.clone(),
                ..remove(&contact.id, identity(pb::IdentityKind::Telegram, "ana"))
            }))
            .await
            .unwrap_err();
        assert_code(&status, Code::Aborted);
        assert_eq!(server.get(&contact.id).await, changed);

        let removed = client
            .remove_identity(server.req(pb::RemoveIdentityRequest {
                etag: changed.etag.clone(),
                ..remove(&contact.id, identity(pb::IdentityKind::Telegram, "ana"))
            }))
            .await
            .unwrap()
            .into_inner();
        assert_ne!(removed.etag, changed.etag);
        assert_eq!(removed.identities.len(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_identity_requests_name_the_field() {
    on_both(|server| async move {
        let contact = contact_with_email(&server, "ana@example.com").await;
        let mut client = server.contacts().await;
        let status = client
            .add_identity(server.req(add(
                &contact.id,
                identity(pb::IdentityKind::Unspecified, "ana"),
                false,
            )))
            .await
            .unwrap_err();
        assert_invalid(&status, &["identity.kind"]);
        let status = client
            .remove_identity(server.req(remove(
                &contact.id,
                identity(pb::IdentityKind::Unspecified, "ana"),
            )))
            .await
            .unwrap_err();
        assert_invalid(&status, &["identity.kind"]);
        let status = client
            .add_identity(server.req(add(
                &contact.id,
                identity(pb::IdentityKind::Email, "not-an-email"),
                false,
            )))
            .await
            .unwrap_err();
        assert_invalid(&status, &["identity.value"]);
        let status = client
            .add_identity(server.req(pb::AddIdentityRequest {
                identity: None,
                ..add(&contact.id, identity(pb::IdentityKind::Email, "x"), false)
            }))
            .await
            .unwrap_err();
        assert_invalid(&status, &["identity"]);
        let status = client
            .add_identity(server.req(add(
                "not-a-uuid",
                identity(pb::IdentityKind::Instagram, "ana"),
                false,
            )))
            .await
            .unwrap_err();
        assert_invalid(&status, &["contact_id"]);
        let status = client
            .add_identity(server.req(add(
                &uuid::Uuid::now_v7().to_string(),
                identity(pb::IdentityKind::Instagram, "ana"),
                false,
            )))
            .await
            .unwrap_err();
        assert_code(&status, Code::NotFound);
        assert_eq!(server.get(&contact.id).await, contact);
        // None of the refused handles was created anywhere.
        let resolved = server.resolve(sender(pb::Channel::Instagram, "ana")).await;
        assert!(resolved.created);
    })
    .await;
}
