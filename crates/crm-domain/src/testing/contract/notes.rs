//! Checks of NoteRepository: notes on a record, their order and paging, versions, and cascade with the record.

use super::prelude::*;

pub async fn notes_list_pinned_first_then_newest_and_go_with_their_record(world: &dyn World) {
    let tenant = fixtures::tenant(world).await;
    let notes = world.notes();
    let ana = created(
        world.contacts().as_ref(),
        &contact(
            &tenant,
            vec![identity(IdentityKind::Email, "ana@x.com", true)],
        ),
    )
    .await;
    let owner = RecordRef::Contact(ana.id);
    let old = notes
        .create(&note(&tenant, owner, "old", false))
        .await
        .unwrap();
    let pinned = notes
        .create(&note(&tenant, owner, "pinned", true))
        .await
        .unwrap();
    let new = notes
        .create(&note(&tenant, owner, "new", false))
        .await
        .unwrap();
    let first = notes.list(tenant.id, owner, None, 2).await.unwrap();
    assert_eq!(
        first.iter().map(|n| n.id).collect::<Vec<_>>(),
        [pinned.id, new.id]
    );
    let cursor = NoteCursor {
        pinned: false,
        id: new.id,
    };
    let rest = notes.list(tenant.id, owner, Some(cursor), 2).await.unwrap();
    assert_eq!(rest.iter().map(|n| n.id).collect::<Vec<_>>(), [old.id]);
    let after_pinned = NoteCursor {
        pinned: true,
        id: pinned.id,
    };
    let rest = notes
        .list(tenant.id, owner, Some(after_pinned), 5)
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|n| n.id).collect::<Vec<_>>(),
        [new.id, old.id]
    );

    let missing = notes
        .create(&note(
            &tenant,
            RecordRef::Contact(ContactId::from_uuid(Uuid::now_v7())),
            "x",
            false,
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(missing, DomainError::NotFound { .. }),
        "{missing:?}"
    );

    let mut edited = old.clone();
    edited.fields.pinned = true;
    let edited = notes.update(&edited, 1).await.unwrap();
    assert_eq!(edited.version, 2);
    assert!(matches!(
        notes.update(&edited, 1).await,
        Err(DomainError::Stale { .. })
    ));
    assert!(
        notes
            .get(tenant.id, old.id)
            .await
            .unwrap()
            .unwrap()
            .fields
            .pinned
    );
    notes.delete(tenant.id, new.id, Some(1)).await.unwrap();
    assert!(matches!(
        notes.delete(tenant.id, new.id, None).await,
        Err(DomainError::NotFound { .. })
    ));
    world
        .contacts()
        .delete(tenant.id, ana.id, None)
        .await
        .unwrap();
    assert_eq!(
        notes.get(tenant.id, pinned.id).await.unwrap(),
        None,
        "notes go with the contact"
    );
    let other = fixtures::tenant(world).await;
    assert_eq!(notes.get(other.id, old.id).await.unwrap(), None);
}
