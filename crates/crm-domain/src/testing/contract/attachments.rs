//! Checks of AttachmentRepository: records on a contact or an organization,
//! their paging and tenant isolation, and the claims that keep the blob
//! store's bytes in step with the records (published with the first record,
//! removed with the last, released and swept when no record holds them).

use super::prelude::*;

pub async fn attachments_list_newest_first_and_stay_in_their_tenant(world: &dyn World) {
    let tenant = fixtures::tenant(world).await;
    let attachments = world.attachments();
    let ana = contact_with_email(world, &tenant, "ana@x.com").await;
    let owner = RecordRef::Contact(ana.id);
    assert_eq!(
        attachments.locate(tenant.id, owner).await.unwrap(),
        Presence::Present
    );
    let missing = RecordRef::Contact(ContactId::from_uuid(Uuid::now_v7()));
    assert_eq!(
        attachments.locate(tenant.id, missing).await.unwrap(),
        Presence::Missing
    );
    let first = attached(world, &tenant, owner, b"one").await;
    let second = attached(world, &tenant, owner, b"two").await;
    let third = attached(world, &tenant, owner, b"three").await;
    assert_eq!(
        attachments.get(tenant.id, second.id).await.unwrap(),
        Some(second.clone())
    );
    assert!(
        holds_bytes(world, &second.blob_key()).await,
        "bytes published"
    );
    let page = attachments.list(tenant.id, owner, None, 2).await.unwrap();
    assert_eq!(page, [third.clone(), second.clone()], "newest first");
    let rest = attachments
        .list(tenant.id, owner, Some(second.id), 2)
        .await
        .unwrap();
    assert_eq!(rest, std::slice::from_ref(&first));

    let other = fixtures::tenant(world).await;
    assert_eq!(
        attachments.locate(other.id, owner).await.unwrap(),
        Presence::Missing
    );
    assert_eq!(attachments.get(other.id, first.id).await.unwrap(), None);
    assert!(
        attachments
            .list(other.id, owner, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        attachments
            .delete(other.id, first.id, world.blobs().as_ref())
            .await,
        Err(DomainError::NotFound { .. })
    ));
    assert!(
        attachments
            .get(tenant.id, first.id)
            .await
            .unwrap()
            .is_some()
    );
}

pub async fn an_attachment_on_a_missing_owner_is_refused_and_publishes_nothing(world: &dyn World) {
    let tenant = fixtures::tenant(world).await;
    let owner = RecordRef::Contact(ContactId::from_uuid(Uuid::now_v7()));
    let orphan = attachment(&tenant, owner, b"orphan");
    let mut bytes = staged(world, b"orphan").await;
    let refused = world
        .attachments()
        .create(&orphan, bytes.as_mut())
        .await
        .unwrap_err();
    assert!(
        matches!(refused, DomainError::NotFound { .. }),
        "{refused:?}"
    );
    assert_eq!(
        world.attachments().get(tenant.id, orphan.id).await.unwrap(),
        None
    );
    assert!(!holds_bytes(world, &orphan.blob_key()).await);
}

pub async fn bytes_go_with_the_last_record_that_holds_them(world: &dyn World) {
    let tenant = fixtures::tenant(world).await;
    let attachments = world.attachments();
    let blobs = world.blobs();
    let ana = contact_with_email(world, &tenant, "ana@x.com").await;
    let acme = world
        .organizations()
        .create(&organization(&tenant, "Acme", &[]), &[])
        .await
        .unwrap();
    let on_contact = attached(world, &tenant, RecordRef::Contact(ana.id), b"same").await;
    let on_organization = attached(world, &tenant, RecordRef::Organization(acme.id), b"same").await;
    assert_eq!(on_contact.blob_key(), on_organization.blob_key());
    let key = on_contact.blob_key();

    attachments
        .delete(tenant.id, on_contact.id, blobs.as_ref())
        .await
        .unwrap();
    assert!(holds_bytes(world, &key).await, "another record holds them");
    assert!(
        !attachments
            .release_blob(&key, blobs.as_ref())
            .await
            .unwrap()
    );
    attachments
        .delete(tenant.id, on_organization.id, blobs.as_ref())
        .await
        .unwrap();
    assert!(!holds_bytes(world, &key).await, "gone with the last record");
    assert!(matches!(
        attachments
            .delete(tenant.id, on_organization.id, blobs.as_ref())
            .await,
        Err(DomainError::NotFound { .. })
    ));
}

pub async fn claims_without_records_are_released_and_swept(world: &dyn World) {
    let tenant = fixtures::tenant(world).await;
    let attachments = world.attachments();
    let blobs = world.blobs();

    // An upload that published its bytes and died before its record.
    let cut_short = attachment(
        &tenant,
        RecordRef::Contact(ContactId::from_uuid(Uuid::now_v7())),
        b"cut",
    );
    let key = cut_short.blob_key();
    attachments.claim_blob(&key, now()).await.unwrap();
    staged(world, b"cut").await.publish(&key).await.unwrap();
    assert!(holds_bytes(world, &key).await);
    assert!(
        attachments
            .release_blob(&key, blobs.as_ref())
            .await
            .unwrap()
    );
    assert!(!holds_bytes(world, &key).await);
    assert!(
        !attachments
            .release_blob(&key, blobs.as_ref())
            .await
            .unwrap(),
        "released once"
    );

    // Records that went with their contact leave their claim to the sweep.
    let contacts = world.contacts();
    let ana = contact_with_email(world, &tenant, "ana@x.com").await;
    let kept = attached(world, &tenant, RecordRef::Contact(ana.id), b"kept").await;
    let bob = contact_with_email(world, &tenant, "bob@x.com").await;
    let orphaned = attached(world, &tenant, RecordRef::Contact(bob.id), b"orphaned").await;
    contacts.delete(tenant.id, bob.id, None).await.unwrap();
    assert_eq!(attachments.get(tenant.id, orphaned.id).await.unwrap(), None);
    assert_eq!(attachments.sweep(blobs.as_ref()).await.unwrap(), 1);
    assert!(!holds_bytes(world, &orphaned.blob_key()).await);
    assert!(
        holds_bytes(world, &kept.blob_key()).await,
        "a held blob stays"
    );
    assert_eq!(attachments.sweep(blobs.as_ref()).await.unwrap(), 0);
}
