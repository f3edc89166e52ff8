//! Checks of ConversationRepository: idempotent recording by source id, and the engagement figures it keeps on the contact.

use super::prelude::*;

pub async fn recording_is_idempotent_and_keeps_engagement_current(world: &dyn World) {
    let tenant = fixtures::tenant(world).await;
    let conversations = world.conversations();
    let contacts = world.contacts();
    let ana = created(
        contacts.as_ref(),
        &contact(
            &tenant,
            vec![identity(IdentityKind::Email, "ana@x.com", true)],
        ),
    )
    .await;
    let (first, created_now) = conversations
        .record(&conversation(
            &tenant,
            ana.id,
            "T-1",
            Channel::Email,
            0,
            Some(4),
        ))
        .await
        .unwrap();
    assert!(created_now);
    let (again, created_now) = conversations
        .record(&conversation(
            &tenant,
            ana.id,
            "T-1",
            Channel::Email,
            0,
            Some(2),
        ))
        .await
        .unwrap();
    assert!(!created_now);
    assert_eq!(
        (again.id, again.version, again.fields.csat),
        (first.id, 2, Some(2))
    );
    let (second, _) = conversations
        .record(&conversation(
            &tenant,
            ana.id,
            "T-2",
            Channel::Whatsapp,
            10,
            None,
        ))
        .await
        .unwrap();
    let engagement = contacts
        .get(tenant.id, ana.id)
        .await
        .unwrap()
        .unwrap()
        .engagement;
    assert_eq!(engagement.conversation_count, 2);
    assert_eq!(engagement.message_count, 8);
    assert_eq!((engagement.csat_sum, engagement.csat_count), (2, 1));
    assert_eq!(engagement.channels, [Channel::Email, Channel::Whatsapp]);
    assert_eq!(engagement.first_contact, Some(again.fields.started_at));
    assert_eq!(engagement.last_contact, Some(second.fields.started_at));
    assert_eq!(
        contacts
            .get(tenant.id, ana.id)
            .await
            .unwrap()
            .unwrap()
            .version,
        1,
        "figures do not move the etag"
    );

    let listed = conversations
        .list_for_contact(tenant.id, ana.id, ConversationFilter::default(), None, 1)
        .await
        .unwrap();
    assert_eq!(listed[0].id, second.id, "newest first");
    let rest = conversations
        .list_for_contact(
            tenant.id,
            ana.id,
            ConversationFilter::default(),
            Some(second.id),
            5,
        )
        .await
        .unwrap();
    assert_eq!(rest.iter().map(|c| c.id).collect::<Vec<_>>(), [first.id]);
    let email_only = ConversationFilter {
        channel: Some(Channel::Email),
        status: None,
    };
    assert_eq!(
        conversations
            .list_for_contact(tenant.id, ana.id, email_only, None, 5)
            .await
            .unwrap()
            .len(),
        1
    );

    conversations
        .delete(tenant.id, second.id, Some(1))
        .await
        .unwrap();
    let engagement = contacts
        .get(tenant.id, ana.id)
        .await
        .unwrap()
        .unwrap()
        .engagement;
    assert_eq!(
        (engagement.conversation_count, engagement.channels.len()),
        (1, 1)
    );
    let missing = conversations
        .record(&conversation(
            &tenant,
            ContactId::from_uuid(Uuid::now_v7()),
            "T-3",
            Channel::Sms,
            0,
            None,
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(missing, DomainError::NotFound { .. }),
        "{missing:?}"
    );
    let mut closed = again.clone();
    closed.fields.status = ConversationStatus::Closed;
    let closed = conversations.update(&closed, 2).await.unwrap();
    assert_eq!(closed.version, 3);
    assert!(matches!(
        conversations.update(&closed, 2).await,
        Err(DomainError::Stale { .. })
    ));
}
