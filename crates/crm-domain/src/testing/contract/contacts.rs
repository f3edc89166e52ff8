//! Checks of ContactRepository: creating, reading, listing, updating and deleting contacts, sender resolution's writes, and tenant isolation.

use super::prelude::*;

pub async fn a_created_contact_reads_back_exactly(world: &dyn World) {
    let tenant = fixtures::tenant(world).await;
    let repository = world.contacts();
    let written = created(
        repository.as_ref(),
        &contact(
            &tenant,
            vec![
                identity(IdentityKind::Email, "b@x.com", false),
                identity(IdentityKind::Email, "a@x.com", true),
                identity(IdentityKind::Phone, "+16502530000", true),
                identity(IdentityKind::ExternalId, "crm-1", true),
            ],
        ),
    )
    .await;
    let read = repository
        .get(tenant.id, written.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, written);
    let emails: Vec<_> = read
        .identities_of(IdentityKind::Email)
        .map(|i| i.value.as_str())
        .collect();
    assert_eq!(emails, ["a@x.com", "b@x.com"], "primary first");
    assert_eq!(read.identities[0].raw, "A@X.COM", "raw form kept");
    assert_eq!(read.external_id(), Some("crm-1"));
}

pub async fn an_address_has_one_holder_and_a_refused_create_writes_nothing(world: &dyn World) {
    let tenant = fixtures::tenant(world).await;
    let repository = world.contacts();
    let first = created(
        repository.as_ref(),
        &contact(
            &tenant,
            vec![identity(IdentityKind::Email, "a@x.com", true)],
        ),
    )
    .await;
    let second = contact(
        &tenant,
        vec![
            identity(IdentityKind::Phone, "+16502530000", true),
            identity(IdentityKind::Email, "a@x.com", true),
        ],
    );
    let error = repository.create(&second, None).await.unwrap_err();
    assert_eq!(
        error,
        DomainError::IdentityTaken {
            field: String::new(),
            kind: "email",
            value: "a@x.com".into(),
            holder: first.id,
        }
    );
    assert_eq!(repository.get(tenant.id, second.id).await.unwrap(), None);
    let holders = repository
        .find_by_identities(tenant.id, &[key(IdentityKind::Phone, "+16502530000")])
        .await
        .unwrap();
    assert!(
        holders.is_empty(),
        "the phone of the refused create was not kept"
    );
}

pub async fn a_request_id_replays_the_first_create(world: &dyn World) {
    let tenant = fixtures::tenant(world).await;
    let repository = world.contacts();
    let first = contact(
        &tenant,
        vec![identity(IdentityKind::Email, "a@x.com", true)],
    );
    let retry = contact(
        &tenant,
        vec![identity(IdentityKind::Email, "a@x.com", true)],
    );
    assert!(matches!(
        repository
            .create(&first, Some("req-1".into()))
            .await
            .unwrap(),
        CreateOutcome::Created(_)
    ));
    assert_eq!(
        repository
            .create(&retry, Some("req-1".into()))
            .await
            .unwrap(),
        CreateOutcome::Replayed(first.id)
    );
    assert_eq!(repository.get(tenant.id, retry.id).await.unwrap(), None);
}

pub async fn listing_pages_by_id_within_the_tenant(world: &dyn World) {
    let tenant = fixtures::tenant(world).await;
    let other = fixtures::tenant(world).await;
    let repository = world.contacts();
    let mut ids = Vec::new();
    for index in 0..5 {
        let mut person = contact(
            &tenant,
            vec![
                identity(IdentityKind::Email, &format!("{index}@x.com"), true),
                identity(IdentityKind::Webchat, &format!("v{index}"), true),
                identity(IdentityKind::Email, &format!("{index}.b@x.com"), false),
            ],
        );
        if index % 2 == 0 {
            person.tags = vec!["zeta".into(), "alpha".into()];
        }
        let written = created(repository.as_ref(), &person).await;
        ids.push(written.id);
    }
    created(repository.as_ref(), &contact(&other, vec![])).await;
    let first = repository
        .list(tenant.id, &ContactFilter::default(), None, 3)
        .await
        .unwrap();
    let second = repository
        .list(
            tenant.id,
            &ContactFilter::default(),
            Some(ContactCursor::after(first[2].id)),
            3,
        )
        .await
        .unwrap();
    let listed: Vec<_> = first.iter().chain(&second).map(|c| c.id).collect();
    assert_eq!(listed, ids);
    // A page reads each contact whole, as a read of that one contact does.
    for listed in first.iter().chain(&second) {
        assert_eq!(listed.identities.len(), 3);
        let read = repository.get(tenant.id, listed.id).await.unwrap();
        assert_eq!(read.as_ref(), Some(listed));
    }
    assert_eq!(first[0].tags, ["alpha", "zeta"]);
}

pub async fn updates_are_version_guarded_and_atomic(world: &dyn World) {
    let tenant = fixtures::tenant(world).await;
    let repository = world.contacts();
    let ana = created(
        repository.as_ref(),
        &contact(
            &tenant,
            vec![
                identity(IdentityKind::Email, "a@x.com", true),
                identity(IdentityKind::Email, "b@x.com", false),
            ],
        ),
    )
    .await;
    let bob = created(
        repository.as_ref(),
        &contact(
            &tenant,
            vec![identity(IdentityKind::Email, "bob@x.com", true)],
        ),
    )
    .await;
    let change = ContactChange {
        tenant_id: tenant.id,
        id: ana.id,
        expected_version: 1,
        fields: ContactFields {
            city: "Rio".into(),
            ..ana.fields.clone()
        },
        add: vec![identity(IdentityKind::Instagram, "ana", true)],
        remove: vec![key(IdentityKind::Email, "a@x.com")],
        restate: vec![identity(IdentityKind::Email, "b@x.com", true)],
        tags_add: Vec::new(),
        tags_remove: Vec::new(),
        custom_fields: Default::default(),
        now: now(),
    };
    let updated = repository.update(&change).await.unwrap();
    assert_eq!(updated.version, 2);
    assert_eq!(updated.fields.city, "Rio");
    let held: Vec<_> = updated
        .identities
        .iter()
        .map(|i| (i.value.as_str(), i.primary))
        .collect();
    assert_eq!(
        held,
        [("b@x.com", true), ("ana", true)],
        "primary first, then oldest first"
    );

    // The same change again is stale: its version moved.
    assert!(matches!(
        repository.update(&change).await,
        Err(DomainError::Stale { .. })
    ));

    // Adding Bob's address fails whole: the city change is not kept either.
    let grab = ContactChange {
        expected_version: 2,
        fields: ContactFields {
            city: "Recife".into(),
            ..updated.fields.clone()
        },
        add: vec![identity(IdentityKind::Email, "bob@x.com", false)],
        remove: vec![],
        restate: vec![],
        ..change.clone()
    };
    let error = repository.update(&grab).await.unwrap_err();
    assert!(matches!(error, DomainError::IdentityTaken { holder, .. } if holder == bob.id));
    assert_eq!(
        repository.get(tenant.id, ana.id).await.unwrap().unwrap(),
        updated
    );

    let missing = ContactChange {
        id: ContactId::from_uuid(Uuid::now_v7()),
        ..change
    };
    assert!(matches!(
        repository.update(&missing).await,
        Err(DomainError::NotFound { .. })
    ));
}

pub async fn deleting_frees_the_addresses(world: &dyn World) {
    let tenant = fixtures::tenant(world).await;
    let repository = world.contacts();
    let ana = created(
        repository.as_ref(),
        &contact(
            &tenant,
            vec![identity(IdentityKind::Email, "a@x.com", true)],
        ),
    )
    .await;
    assert!(matches!(
        repository.delete(tenant.id, ana.id, Some(7)).await,
        Err(DomainError::Stale { .. })
    ));
    repository.delete(tenant.id, ana.id, Some(1)).await.unwrap();
    assert!(matches!(
        repository.delete(tenant.id, ana.id, None).await,
        Err(DomainError::NotFound { .. })
    ));
    created(
        repository.as_ref(),
        &contact(
            &tenant,
            vec![identity(IdentityKind::Email, "a@x.com", true)],
        ),
    )
    .await;
}

pub async fn holders_are_found_with_all_their_identities(world: &dyn World) {
    let tenant = fixtures::tenant(world).await;
    let repository = world.contacts();
    let ana = created(
        repository.as_ref(),
        &contact(
            &tenant,
            vec![
                identity(IdentityKind::Email, "a@x.com", true),
                identity(IdentityKind::Phone, "+16502530000", true),
                identity(IdentityKind::Messenger, "psid-1", true),
            ],
        ),
    )
    .await;
    let found = repository
        .find_by_identities(
            tenant.id,
            &[
                key(IdentityKind::Email, "a@x.com"),
                key(IdentityKind::Phone, "+16502530000"),
                key(IdentityKind::Email, "nobody@x.com"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(found, [ana], "one contact, every identity once");

    // Several senders at once: one answer per key set, in order, each what
    // a lone look-up gives (an empty set finds nobody).
    let bob = created(
        repository.as_ref(),
        &contact(
            &tenant,
            vec![identity(IdentityKind::Email, "b@x.com", true)],
        ),
    )
    .await;
    let each = repository
        .find_by_identities_each(
            tenant.id,
            &[
                vec![key(IdentityKind::Email, "b@x.com")],
                vec![key(IdentityKind::Email, "nobody@x.com")],
                Vec::new(),
                vec![
                    key(IdentityKind::Messenger, "psid-1"),
                    key(IdentityKind::Email, "b@x.com"),
                ],
            ],
        )
        .await
        .unwrap();
    assert_eq!(each.len(), 4);
    assert_eq!(each[0], std::slice::from_ref(&bob));
    assert!(each[1].is_empty() && each[2].is_empty(), "{each:?}");
    let mut both: Vec<ContactId> = each[3].iter().map(|contact| contact.id).collect();
    both.sort();
    let mut expected = vec![found[0].id, bob.id];
    expected.sort();
    assert_eq!(both, expected);
}

pub async fn a_resolved_create_is_all_or_nothing(world: &dyn World) {
    let tenant = fixtures::tenant(world).await;
    let repository = world.contacts();
    let first = contact(&tenant, vec![identity(IdentityKind::Webchat, "v1", true)]);
    assert!(matches!(
        repository.create_resolved(&first).await.unwrap(),
        ResolvedCreate::Created(_)
    ));
    let racer = contact(
        &tenant,
        vec![
            identity(IdentityKind::Email, "new@x.com", true),
            identity(IdentityKind::Webchat, "v1", true),
        ],
    );
    assert_eq!(
        repository.create_resolved(&racer).await.unwrap(),
        ResolvedCreate::Raced
    );
    assert_eq!(repository.get(tenant.id, racer.id).await.unwrap(), None);
    assert!(
        repository
            .find_by_identities(tenant.id, &[key(IdentityKind::Email, "new@x.com")])
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn attaching_skips_held_addresses_and_bumps_the_version_only_on_change(
    world: &dyn World,
) {
    let tenant = fixtures::tenant(world).await;
    let repository = world.contacts();
    let ana = created(
        repository.as_ref(),
        &contact(&tenant, vec![identity(IdentityKind::Webchat, "v1", true)]),
    )
    .await;
    let bob = created(
        repository.as_ref(),
        &contact(
            &tenant,
            vec![identity(IdentityKind::Email, "bob@x.com", true)],
        ),
    )
    .await;
    let attached = repository
        .attach_identities(
            tenant.id,
            ana.id,
            &[
                identity(IdentityKind::Email, "bob@x.com", true),
                identity(IdentityKind::Email, "ana@x.com", true),
            ],
            None,
            now(),
        )
        .await
        .unwrap();
    assert_eq!(attached.version, 2);
    let emails: Vec<_> = attached
        .identities_of(IdentityKind::Email)
        .map(|i| i.value.as_str())
        .collect();
    assert_eq!(emails, ["ana@x.com"]);
    let again = repository
        .attach_identities(
            tenant.id,
            ana.id,
            &[identity(IdentityKind::Email, "bob@x.com", false)],
            None,
            now(),
        )
        .await
        .unwrap();
    assert_eq!(again.version, 2, "nothing attached, nothing bumped");
    assert!(bob.holds(&key(IdentityKind::Email, "bob@x.com")));
    assert!(matches!(
        repository
            .attach_identities(
                tenant.id,
                ContactId::from_uuid(Uuid::now_v7()),
                &[identity(IdentityKind::Email, "z@x.com", true)],
                None,
                now()
            )
            .await,
        Err(DomainError::NotFound { .. })
    ));
}

pub async fn another_tenant_cannot_see_or_touch_a_contact(world: &dyn World) {
    let owner = fixtures::tenant(world).await;
    let intruder = fixtures::tenant(world).await;
    let repository = world.contacts();
    let ana = created(
        repository.as_ref(),
        &contact(&owner, vec![identity(IdentityKind::Email, "a@x.com", true)]),
    )
    .await;
    assert_eq!(repository.get(intruder.id, ana.id).await.unwrap(), None);
    assert!(
        repository
            .list(intruder.id, &ContactFilter::default(), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        repository
            .find_by_identities(intruder.id, &[key(IdentityKind::Email, "a@x.com")])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        repository.delete(intruder.id, ana.id, None).await,
        Err(DomainError::NotFound { .. })
    ));
    // The same address is free in the other tenant: nothing leaks through uniqueness.
    created(
        repository.as_ref(),
        &contact(
            &intruder,
            vec![identity(IdentityKind::Email, "a@x.com", true)],
        ),
    )
    .await;
    assert_eq!(
        repository.get(owner.id, ana.id).await.unwrap().unwrap(),
        ana
    );
}

pub async fn contacts_carry_tags_and_their_tier_and_list_by_tag(world: &dyn World) {
    let tenant = fixtures::tenant(world).await;
    let repository = world.contacts();
    let gold = world
        .tiers()
        .create(&tier(&tenant, "Gold", &[]), 10)
        .await
        .unwrap();
    let mut ana = contact(
        &tenant,
        vec![identity(IdentityKind::Email, "ana@x.com", true)],
    );
    ana.fields.tier_id = Some(gold.id);
    ana.tags = vec!["key account".into(), "vip".into()];
    let ana = created(repository.as_ref(), &ana).await;
    let read = repository.get(tenant.id, ana.id).await.unwrap().unwrap();
    assert_eq!(read.tags, ["key account", "vip"]);
    assert_eq!(read.tier, Some(gold.badge()));
    let found = repository
        .find_by_identities(tenant.id, &[key(IdentityKind::Email, "ana@x.com")])
        .await
        .unwrap();
    assert_eq!(found[0].tier.as_ref().map(|t| t.rank), Some(1));
    assert_eq!(found[0].tags, read.tags);

    let bob = created(
        repository.as_ref(),
        &contact(
            &tenant,
            vec![identity(IdentityKind::Email, "bob@x.com", true)],
        ),
    )
    .await;
    let change = ContactChange {
        tenant_id: tenant.id,
        id: bob.id,
        expected_version: 1,
        fields: bob.fields.clone(),
        add: Vec::new(),
        remove: Vec::new(),
        restate: Vec::new(),
        tags_add: vec!["vip".into()],
        tags_remove: Vec::new(),
        custom_fields: Default::default(),
        now: now(),
    };
    let bob = repository.update(&change).await.unwrap();
    assert_eq!(bob.tags, ["vip"]);
    let vip = ContactFilter {
        tag: Some("vip".into()),
        ..ContactFilter::default()
    };
    let first = repository.list(tenant.id, &vip, None, 1).await.unwrap();
    assert_eq!(first.iter().map(|c| c.id).collect::<Vec<_>>(), [ana.id]);
    let next = repository
        .list(tenant.id, &vip, Some(ContactCursor::after(ana.id)), 5)
        .await
        .unwrap();
    assert_eq!(next.iter().map(|c| c.id).collect::<Vec<_>>(), [bob.id]);
    let change = ContactChange {
        expected_version: 2,
        tags_add: Vec::new(),
        tags_remove: vec!["vip".into()],
        ..change
    };
    assert!(repository.update(&change).await.unwrap().tags.is_empty());
    let key_accounts = ContactFilter {
        tag: Some("key account".into()),
        ..ContactFilter::default()
    };
    assert_eq!(
        repository
            .list(tenant.id, &key_accounts, None, 5)
            .await
            .unwrap()
            .len(),
        1
    );

    let tiers = repository
        .tiers_of(tenant.id, &[ana.id, bob.id])
        .await
        .unwrap();
    assert!(tiers.contains(&(ana.id, Some(gold.badge()))));
    assert!(tiers.contains(&(bob.id, None)));
}

/// Statements built from caller-sized lists take them at their documented
/// maximum on every backend: a routing read of [`MAX_KEYS_PER_READ`] keys,
/// the tiers of [`MAX_ROUTING_SUBJECTS`] contact ids, and an update that
/// removes 1,100 addresses at once (a contact merged from 11 full ones).
/// A chain of `OR`s, one per key, broke SQLite's expression depth of 1000.
pub async fn lists_at_their_documented_maximum_fit_every_backend(world: &dyn World) {
    let tenant = fixtures::tenant(world).await;
    let repository = world.contacts();
    let addresses: Vec<ContactIdentity> = (0..1100)
        .map(|n| identity(IdentityKind::Email, &format!("a{n}@x.com"), n == 0))
        .collect();
    let wide = created(repository.as_ref(), &contact(&tenant, addresses)).await;
    assert_eq!(wide.identities.len(), 1100);

    let keys: Vec<IdentityKey> = (0..MAX_KEYS_PER_READ)
        .map(|n| key(IdentityKind::Email, &format!("a{n}@x.com")))
        .collect();
    let found = repository
        .find_many_by_identities(tenant.id, &keys)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, wide.id);
    assert_eq!(found[0].identities.len(), 1100);

    let mut ids: Vec<ContactId> = (1..MAX_ROUTING_SUBJECTS)
        .map(|_| ContactId::from_uuid(Uuid::now_v7()))
        .collect();
    ids.push(wide.id);
    let tiers = repository.tiers_of(tenant.id, &ids).await.unwrap();
    assert_eq!(tiers, [(wide.id, None)]);

    let remove: Vec<IdentityKey> = wide.identities[1..]
        .iter()
        .map(ContactIdentity::key)
        .collect();
    let change = ContactChange {
        tenant_id: tenant.id,
        id: wide.id,
        expected_version: wide.version,
        fields: wide.fields.clone(),
        add: Vec::new(),
        remove,
        restate: Vec::new(),
        tags_add: Vec::new(),
        tags_remove: Vec::new(),
        custom_fields: Default::default(),
        now: now(),
    };
    let updated = repository.update(&change).await.unwrap();
    assert_eq!(updated.identities.len(), 1);
    assert_eq!(updated.identities[0].value, "a0@x.com");
}
