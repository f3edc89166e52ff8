//! Checks of MergeRepository: applying a merge plan, tombstones, merge history, and the conservation property.

use super::prelude::*;
use crate::tenancy::Caller;

/// A merge moves every child record, tombstones the duplicates, keeps
/// chains one hop long and refuses a plan whose versions moved.
pub async fn a_merge_moves_everything_and_leaves_tombstones(world: &dyn World) {
    use crate::merge::ContactChild;
    use crate::merge::MergeService;
    let tenant = fixtures::tenant(world).await;
    let contacts = world.contacts();
    let merges = world.merges();
    let service = MergeService::new(
        contacts.clone(),
        merges.clone(),
        world.duplicates(),
        Arc::new(SystemClock),
        Arc::new(UuidV7Ids),
    );
    let mut survivor = contact(
        &tenant,
        vec![identity(IdentityKind::Email, "ana@x.com", true)],
    );
    survivor.tags = vec!["vip".into()];
    let survivor = created(contacts.as_ref(), &survivor).await;
    let mut duplicate = contact(
        &tenant,
        vec![
            identity(IdentityKind::Email, "ana@work.com", true),
            identity(IdentityKind::Phone, "+5511987654321", true),
        ],
    );
    duplicate.tags = vec!["lead".into(), "vip".into()];
    let duplicate = created(contacts.as_ref(), &duplicate).await;
    let notes = world.notes();
    for body in ["one", "two"] {
        notes
            .create(&note(
                &tenant,
                RecordRef::Contact(duplicate.id),
                body,
                false,
            ))
            .await
            .unwrap();
    }
    let conversations = world.conversations();
    for (source_id, csat) in [("T-1", Some(5)), ("T-2", None)] {
        conversations
            .record(&conversation(
                &tenant,
                duplicate.id,
                source_id,
                Channel::Sms,
                0,
                csat,
            ))
            .await
            .unwrap();
    }
    let duplicate = contacts
        .get(tenant.id, duplicate.id)
        .await
        .unwrap()
        .unwrap();

    let preview = service
        .preview(
            &Caller::tenant_key(tenant.clone()),
            survivor.id,
            &[duplicate.id],
        )
        .await
        .unwrap();
    let expected = [
        (ContactChild::Identities, 2),
        (ContactChild::Tags, 2),
        (ContactChild::Conversations, 2),
        (ContactChild::Notes, 2),
        (ContactChild::Attachments, 0),
    ];
    assert_eq!(preview.moved, expected);

    // A plan computed from old versions changes nothing.
    let mut stale = preview.plan.clone();
    stale.versions[1].1 -= 1;
    let record = crate::merge::MergeRecord {
        id: crate::MergeId::from_uuid(Uuid::now_v7()),
        tenant_id: tenant.id,
        survivor_id: survivor.id,
        duplicate_ids: vec![duplicate.id],
        merged_by: "test".into(),
        winners: Vec::new(),
        moved: Vec::new(),
        create_time: now(),
    };
    assert!(matches!(
        merges.apply(&stale, &record).await,
        Err(DomainError::Stale { .. })
    ));
    assert_eq!(
        merges
            .count_children(tenant.id, &[duplicate.id])
            .await
            .unwrap(),
        expected
    );

    let (record, merged) = service
        .merge(
            &Caller::tenant_key(tenant.clone()),
            survivor.id,
            &[duplicate.id],
            &preview.versions(),
            "ops",
        )
        .await
        .unwrap();
    assert_eq!(record.moved, expected);
    assert_eq!(merged.version, survivor.version + 1);
    assert_eq!(merged.tags, ["lead", "vip"]);
    assert_eq!(merged.identities.len(), 3);
    assert_eq!(merged.engagement.conversation_count, 2);
    assert_eq!(merged.engagement.csat_count, 1);
    assert_eq!(
        merges
            .count_children(tenant.id, &[duplicate.id])
            .await
            .unwrap()
            .iter()
            .map(|(_, n)| n)
            .sum::<u64>(),
        0,
        "nothing is left on the duplicate"
    );
    assert_eq!(
        merges
            .count_children(tenant.id, &[survivor.id])
            .await
            .unwrap(),
        [
            (ContactChild::Identities, 3),
            (ContactChild::Tags, 2),
            (ContactChild::Conversations, 2),
            (ContactChild::Notes, 2),
            (ContactChild::Attachments, 0),
        ]
    );
    assert!(
        contacts
            .get(tenant.id, duplicate.id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        merges.merged_into(tenant.id, duplicate.id).await.unwrap(),
        Some(survivor.id)
    );
    // Every port that names records tells a merged-away contact apart.
    assert_eq!(
        contacts.merged_into(tenant.id, duplicate.id).await.unwrap(),
        Some(survivor.id)
    );
    assert_eq!(
        contacts.merged_into(tenant.id, survivor.id).await.unwrap(),
        None
    );
    for located in [
        world
            .notes()
            .locate(tenant.id, RecordRef::Contact(duplicate.id))
            .await
            .unwrap(),
        world
            .attachments()
            .locate(tenant.id, RecordRef::Contact(duplicate.id))
            .await
            .unwrap(),
    ] {
        assert_eq!(located, Presence::MergedInto(survivor.id));
    }
    assert_eq!(
        world
            .notes()
            .locate(tenant.id, RecordRef::Contact(survivor.id))
            .await
            .unwrap(),
        Presence::Present
    );
    let holders = contacts
        .find_by_identities(tenant.id, &[key(IdentityKind::Phone, "+5511987654321")])
        .await
        .unwrap();
    assert_eq!(holders.len(), 1);
    assert_eq!(holders[0].id, survivor.id);

    // A chain: the survivor merges on into a third contact; the first
    // duplicate's tombstone follows in one hop.
    let third = created(
        contacts.as_ref(),
        &contact(
            &tenant,
            vec![identity(IdentityKind::Email, "ana@home.com", true)],
        ),
    )
    .await;
    let precondition = [third.version, merged.version];
    service
        .merge(
            &Caller::tenant_key(tenant.clone()),
            third.id,
            &[survivor.id],
            &precondition,
            "ops",
        )
        .await
        .unwrap();
    assert_eq!(
        merges.merged_into(tenant.id, duplicate.id).await.unwrap(),
        Some(third.id)
    );
    let history = merges.list(tenant.id, third.id, None, 10).await.unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[1].id, record.id);
    assert_eq!(history[1].merged_by, "ops");
    assert_eq!(history[1].moved, expected);
    assert_eq!(
        merges
            .list(tenant.id, duplicate.id, None, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// What hangs off one contact of a generated ledger: how many addresses,
/// tags, notes, conversations and attachments.
#[derive(Debug, Clone, Copy)]
pub struct ContactShape {
    /// Email addresses (the first primary), at least one.
    pub addresses: usize,
    /// Tags `tag0..`: contacts share the first ones, so the union counts each once.
    pub tags: usize,
    /// Notes.
    pub notes: usize,
    /// Conversations.
    pub conversations: usize,
    /// Attachments, each of its own bytes.
    pub attachments: usize,
}

/// Ledgers of 2 to 4 contacts, each with 1 to 3 addresses and up to 3 tags,
/// notes, conversations and attachments.
pub fn ledgers() -> impl proptest::strategy::Strategy<Value = Vec<ContactShape>> {
    use proptest::strategy::Strategy;
    proptest::collection::vec(
        (1usize..4, 0usize..4, 0usize..4, 0usize..4, 0usize..4).prop_map(
            |(addresses, tags, notes, conversations, attachments)| ContactShape {
                addresses,
                tags,
                notes,
                conversations,
                attachments,
            },
        ),
        2..5,
    )
}

/// One case's checks, for the caller's runtime to run to completion.
pub type Case<'a> = std::pin::Pin<Box<dyn Future<Output = ()> + 'a>>;

/// Cases per run: each writes a small ledger, on every backend.
pub const MERGE_CASES: u32 = 16;

/// A property over random ledgers: whatever hangs off the contacts, a merge
/// moves all of it (the survivor's counts after equal the sum before,
/// nothing is left on a duplicate), and merging again is refused.
///
/// Synchronous, so proptest can run and shrink it: `block_on` runs each
/// case's checks on the caller's runtime. Each case writes to a fresh
/// tenant of `world`.
///
/// # Errors
/// proptest's report of the smallest failing ledger.
pub fn merging_never_loses_a_child_record_and_cannot_be_repeated(
    world: &dyn World,
    block_on: &dyn Fn(Case<'_>),
) -> Result<(), String> {
    use proptest::test_runner::{Config, TestRunner};
    let mut runner = TestRunner::new(Config {
        cases: MERGE_CASES,
        max_shrink_iters: 64,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&ledgers(), |shape| {
            block_on(Box::pin(merge_conserves_children(world, shape)));
            Ok(())
        })
        .map_err(|failure| failure.to_string())
}

async fn merge_conserves_children(world: &dyn World, shape: Vec<ContactShape>) {
    use crate::merge::{ContactChild, MergeService};
    let tenant = fixtures::tenant(world).await;
    let contacts = world.contacts();
    let merges = world.merges();
    let service = MergeService::new(
        contacts.clone(),
        merges.clone(),
        world.duplicates(),
        Arc::new(SystemClock),
        Arc::new(UuidV7Ids),
    );
    let mut ids = Vec::new();
    for (index, contact_shape) in shape.iter().enumerate() {
        let mut draft = contact(
            &tenant,
            (0..contact_shape.addresses)
                .map(|n| identity(IdentityKind::Email, &format!("{index}-{n}@x.com"), n == 0))
                .collect(),
        );
        draft.tags = (0..contact_shape.tags).map(|n| format!("tag{n}")).collect();
        let created = created(contacts.as_ref(), &draft).await;
        let owner = RecordRef::Contact(created.id);
        for n in 0..contact_shape.notes {
            world
                .notes()
                .create(&note(&tenant, owner, &format!("{n}"), false))
                .await
                .unwrap();
        }
        for n in 0..contact_shape.conversations {
            world
                .conversations()
                .record(&conversation(
                    &tenant,
                    created.id,
                    &format!("{index}-{n}"),
                    Channel::Email,
                    0,
                    None,
                ))
                .await
                .unwrap();
        }
        for n in 0..contact_shape.attachments {
            attached(world, &tenant, owner, format!("{index}-{n}").as_bytes()).await;
        }
        ids.push(created.id);
    }
    let before = merges.count_children(tenant.id, &ids).await.unwrap();
    let distinct_tags = shape.iter().map(|s| s.tags).max().unwrap_or(0) as u64;
    let (survivor, duplicates) = (ids[0], &ids[1..]);
    let preview = service
        .preview(&Caller::tenant_key(tenant.clone()), survivor, duplicates)
        .await
        .unwrap();
    let token = preview.versions();
    service
        .merge(
            &Caller::tenant_key(tenant.clone()),
            survivor,
            duplicates,
            &token,
            "prop",
        )
        .await
        .unwrap();
    let after = merges.count_children(tenant.id, &[survivor]).await.unwrap();
    for ((child, was), (_, now)) in before.iter().zip(&after) {
        let expected = if *child == ContactChild::Tags {
            distinct_tags
        } else {
            *was
        };
        assert_eq!(*now, expected, "{child:?} in case {shape:?}");
    }
    let left = merges.count_children(tenant.id, duplicates).await.unwrap();
    assert!(left.iter().all(|(_, n)| *n == 0), "{left:?}");
    assert!(matches!(
        service
            .preview(&Caller::tenant_key(tenant.clone()), survivor, duplicates)
            .await,
        Err(DomainError::MergedAway { into, .. }) if into == survivor
    ));
    assert!(matches!(
        service
            .merge(
                &Caller::tenant_key(tenant.clone()),
                survivor,
                duplicates,
                &token,
                "prop"
            )
            .await,
        Err(DomainError::Stale { .. })
    ));
}

/// The standing duplicate index follows creates, updates (a name, an
/// address held as data, an identity gained by another contact), deletes
/// and tenant settings, and a block of equal names of any size is one
/// group; a finding call takes in what waits before it answers.
pub async fn the_duplicate_index_follows_every_write(world: &dyn World) {
    use crate::merge::MergeService;
    use crate::merge::duplicates::DuplicateReason;
    let tenant = fixtures::tenant(world).await;
    let contacts = world.contacts();
    let service = MergeService::new(
        contacts.clone(),
        world.merges(),
        world.duplicates(),
        Arc::new(SystemClock),
        Arc::new(UuidV7Ids),
    );
    let person = |name: &str, city: &str, email: &str| {
        let mut person = contact(&tenant, vec![identity(IdentityKind::Email, email, true)]);
        person.fields.display_name = name.into();
        person.fields.city = city.into();
        person
    };
    let find = |tenant: Tenant| {
        let service = service.clone();
        async move {
            let caller = crate::tenancy::Caller::tenant_key(tenant);
            let (page, waiting) = service.find_duplicates(&caller, None, 100).await.unwrap();
            assert_eq!(waiting, 0, "a finding call takes in what waits");
            page.items
                .into_iter()
                .map(|group| {
                    let reasons: Vec<DuplicateReason> =
                        group.evidence.iter().map(|e| e.reason).collect();
                    (group.contacts, reasons)
                })
                .collect::<Vec<_>>()
        }
    };
    let ana = created(
        contacts.as_ref(),
        &person("Ana Souza", "", "ana@acme.example"),
    )
    .await;
    let ana_again = created(
        contacts.as_ref(),
        &person("SOUZA, Ána", "", "asouza@acme.example"),
    )
    .await;
    let eva = created(
        contacts.as_ref(),
        &person("Eva Mendes", "Porto", "eva@a.example"),
    )
    .await;
    let eva_again = created(
        contacts.as_ref(),
        &person("Eva Mendez", "porto", "em@b.example"),
    )
    .await;
    created(
        contacts.as_ref(),
        &person("Carla Dias", "", "carla@gmail.com"),
    )
    .await;
    created(
        contacts.as_ref(),
        &person("Carla Dias", "", "cdias@gmail.com"),
    )
    .await;
    let pair = |a: &Contact, b: &Contact| {
        let mut ids = vec![a.id, b.id];
        ids.sort();
        ids
    };
    assert_eq!(
        find(tenant.clone()).await,
        [
            (
                pair(&ana, &ana_again),
                vec![DuplicateReason::SameNameSameEmailDomain]
            ),
            (
                pair(&eva, &eva_again),
                vec![DuplicateReason::SimilarNameSameCity]
            ),
        ],
        "free mail is no evidence"
    );

    // A renamed contact leaves its group; one that takes the name joins.
    let renamed = contacts
        .update(&ContactChange {
            tenant_id: tenant.id,
            id: eva_again.id,
            expected_version: eva_again.version,
            fields: ContactFields {
                display_name: "Zed Quill".into(),
                ..eva_again.fields.clone()
            },
            add: vec![identity(IdentityKind::Email, "dan.home@c.example", false)],
            remove: Vec::new(),
            restate: Vec::new(),
            tags_add: Vec::new(),
            tags_remove: Vec::new(),
            custom_fields: eva_again.custom_fields.clone(),
            now: now(),
        })
        .await
        .unwrap();
    assert_eq!(
        find(tenant.clone()).await,
        [(
            pair(&ana, &ana_again),
            vec![DuplicateReason::SameNameSameEmailDomain]
        )]
    );

    // An address held as data links to whoever holds it, including one who
    // gains it later.
    let mut dan = person("Dan Reis", "", "dan@work.example");
    dan.custom_fields.insert(
        "backup".into(),
        FieldValue::Email("dan.home@c.example".into()),
    );
    dan.custom_fields
        .insert("second".into(), FieldValue::Email("later@d.example".into()));
    let dan = created(contacts.as_ref(), &dan).await;
    let groups = find(tenant.clone()).await;
    assert_eq!(
        groups[0],
        (pair(&dan, &renamed), vec![DuplicateReason::AddressInField])
    );
    let later = created(contacts.as_ref(), &person("", "", "later@d.example")).await;
    let groups = find(tenant.clone()).await;
    assert_eq!(groups.len(), 2);
    let mut three = vec![dan.id, renamed.id, later.id];
    three.sort();
    assert_eq!(groups[0].0, three, "the holder found the newcomer");

    // Deleting the newcomer and the renamed contact unlinks them.
    contacts.delete(tenant.id, later.id, None).await.unwrap();
    contacts.delete(tenant.id, renamed.id, None).await.unwrap();
    assert_eq!(
        find(tenant.clone()).await,
        [(
            pair(&ana, &ana_again),
            vec![DuplicateReason::SameNameSameEmailDomain]
        )]
    );

    // A block of equal names is one group, and survives losing its anchor.
    let mut block = Vec::new();
    for n in 0..30 {
        block.push(
            created(
                contacts.as_ref(),
                &person("Lia Rocha", "", &format!("lia{n}@acme.example")),
            )
            .await
            .id,
        );
    }
    contacts.delete(tenant.id, block[0], None).await.unwrap();
    let groups = find(tenant.clone()).await;
    let lias: Vec<&(Vec<ContactId>, Vec<DuplicateReason>)> = groups
        .iter()
        .filter(|(ids, _)| ids.contains(&block[1]))
        .collect();
    assert_eq!(lias.len(), 1);
    assert_eq!(lias[0].0, block[1..].to_vec());

    // A domain the tenant declares free mail stops counting.
    let mut settled = tenant.clone();
    settled.free_mail_domains = vec!["acme.example".into()];
    let settled = world
        .tenants()
        .update(&settled, tenant.version)
        .await
        .unwrap();
    assert_eq!(find(settled.clone()).await, []);

    // Declaring it no more sweeps the tenant again; a sweep restarted by a
    // newer change does not move past what the older one gave out.
    let index = world.duplicates();
    let mut cleared = settled.clone();
    cleared.free_mail_domains = Vec::new();
    let cleared = world
        .tenants()
        .update(&cleared, settled.version)
        .await
        .unwrap();
    let everyone = index.pending_count(tenant.id).await.unwrap();
    let given = index.pending(tenant.id, 2).await.unwrap();
    assert_eq!(given.len(), 2);
    assert!(given.iter().all(|entry| entry.sweep.is_some()), "{given:?}");
    let mut restarted = cleared.clone();
    restarted.free_mail_domains = vec!["elsewhere.example".into()];
    let restarted = world
        .tenants()
        .update(&restarted, cleared.version)
        .await
        .unwrap();
    let stale: Vec<crate::merge::index::Examined> = given
        .iter()
        .map(|entry| crate::merge::index::Examined {
            pending: *entry,
            keys: Vec::new(),
            identities: Vec::new(),
        })
        .collect();
    index.examine(tenant.id, &stale).await.unwrap();
    assert_eq!(
        index.pending_count(tenant.id).await.unwrap(),
        everyone,
        "the restarted sweep starts from the first contact"
    );
    let groups = find(restarted).await;
    assert!(
        groups.contains(&(
            pair(&ana, &ana_again),
            vec![DuplicateReason::SameNameSameEmailDomain]
        )),
        "{groups:?}"
    );
    assert_eq!(index.pending_count(tenant.id).await.unwrap(), 0);

    // Another tenant's contacts never join. A settings change on a tenant
    // without contacts starts no sweep: its first contact is examined once,
    // as queued.
    let other = fixtures::tenant(world).await;
    let mut declared = other.clone();
    declared.free_mail_domains = vec!["acme.example".into()];
    let other = world
        .tenants()
        .update(&declared, other.version)
        .await
        .unwrap();
    let mut stranger = contact(
        &other,
        vec![identity(IdentityKind::Email, "x@acme.example", true)],
    );
    stranger.fields.display_name = "Ana Souza".into();
    created(contacts.as_ref(), &stranger).await;
    let waiting = index.pending(other.id, 10).await.unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].sweep, None, "{waiting:?}");
    assert_eq!(find(other).await, []);
}
