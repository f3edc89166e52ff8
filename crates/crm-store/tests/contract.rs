//! The contract suite of the repository ports, run against the sea-orm
//! adapter on SQLite and on PostgreSQL: every check passes on both.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::sync::Arc;

use crm_domain::contacts::ContactService;
use crm_domain::contacts::{Contact, ContactFields, LifecycleStage};
use crm_domain::contacts::{
    ContactChange, ContactFilter, ContactRepository, CreateOutcome, ResolvedCreate,
};
use crm_domain::conversations::ConversationRepository;
use crm_domain::conversations::{
    Conversation, ConversationFields, ConversationFilter, ConversationStatus,
};
use crm_domain::fields::layout::{Section, Tab};
use crm_domain::fields::{CustomFieldRepository, DefinitionsFor};
use crm_domain::fields::{
    FieldDefinition, FieldEntity, FieldSpec, FieldType, FieldValue, SelectOption, Validation,
};
use crm_domain::identity::ContactIdentity;
use crm_domain::identity::SenderInput;
use crm_domain::kernel::RecordRef;
use crm_domain::kernel::{SystemClock, UuidV7Ids};
use crm_domain::notes::NoteRepository;
use crm_domain::notes::{Note, NoteCursor, NoteFields, NoteFormat};
use crm_domain::organizations::OrganizationRepository;
use crm_domain::organizations::{Affiliation, Organization, OrganizationFields};
use crm_domain::tenancy::Tenant;
use crm_domain::tenancy::TenantRepository;
use crm_domain::tiers::{SlaPolicy, Tier, TierFields};
use crm_domain::tiers::{TierContacts, TierRepository};
use crm_domain::{
    Channel, ContactId, ConversationId, DomainError, FieldId, IdentityKey, IdentityKind, NoteId,
    OrganizationId, Region, SectionId, TabId, TenantId, TierId,
};
use crm_store::testing::{BOTH, TestDatabase};
use crm_store::{Store, StoreOptions};
use time::OffsetDateTime;
use uuid::Uuid;

/// Runs `check` once per backend on a fresh database, dropping it afterwards
/// even when the check panics.
async fn on_both<F, Fut>(check: F)
where
    F: Fn(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    for backend in BOTH {
        let database = TestDatabase::create(backend).await;
        let store = Store::connect(&database.url, &StoreOptions::default())
            .await
            .unwrap_or_else(|error| panic!("{backend:?}: {error}"));
        let outcome = tokio::spawn(check(store.clone())).await;
        let _ = store.close().await;
        database.drop_database().await;
        if let Err(error) = outcome {
            panic!("{backend:?}: {error}");
        }
    }
}

fn now() -> OffsetDateTime {
    use crm_domain::kernel::Clock;
    SystemClock.now()
}

async fn tenant(store: &Store) -> Tenant {
    let tenant = Tenant {
        id: TenantId::from_uuid(Uuid::now_v7()),
        name: "Acme".into(),
        default_region: Region::parse("US").unwrap(),
        free_mail_domains: Vec::new(),
        shared_addresses: Vec::new(),
        version: 1,
        create_time: now(),
        update_time: now(),
    };
    store
        .tenants()
        .create(&tenant, &format!("hash-{}", tenant.id))
        .await
        .unwrap();
    tenant
}

fn identity(kind: IdentityKind, value: &str, primary: bool) -> ContactIdentity {
    ContactIdentity {
        kind,
        value: value.into(),
        raw: value.to_uppercase(),
        primary,
    }
}

fn contact(tenant: &Tenant, identities: Vec<ContactIdentity>) -> Contact {
    let now = now();
    Contact {
        id: ContactId::from_uuid(Uuid::now_v7()),
        tenant_id: tenant.id,
        fields: ContactFields {
            display_name: "Ana Souza".into(),
            city: "São Paulo".into(),
            country: "BR".into(),
            language: "pt-BR".into(),
            avatar_url: "https://cdn.example.com/ana.png".into(),
            blocked: false,
            lifecycle_stage: LifecycleStage::Customer,
            tier_id: None,
            affiliation: Affiliation::None,
        },
        identities,
        tags: Vec::new(),
        tier: None,
        custom_fields: Default::default(),
        engagement: Default::default(),
        version: 1,
        create_time: now,
        update_time: now,
    }
}

fn key(kind: IdentityKind, value: &str) -> IdentityKey {
    IdentityKey {
        kind,
        value: value.into(),
    }
}

async fn created(repository: &dyn ContactRepository, contact: &Contact) -> Contact {
    match repository.create(contact, None).await.unwrap() {
        CreateOutcome::Created(contact) => *contact,
        other => panic!("expected a create, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_created_contact_reads_back_exactly() {
    on_both(|store| async move {
        let tenant = tenant(&store).await;
        let repository = store.contacts();
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
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_has_one_holder_and_a_refused_create_writes_nothing() {
    on_both(|store| async move {
        let tenant = tenant(&store).await;
        let repository = store.contacts();
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
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_id_replays_the_first_create() {
    on_both(|store| async move {
        let tenant = tenant(&store).await;
        let repository = store.contacts();
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
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_pages_by_id_within_the_tenant() {
    on_both(|store| async move {
        let tenant = tenant(&store).await;
        let other = self::tenant(&store).await;
        let repository = store.contacts();
        let mut ids = Vec::new();
        for index in 0..5 {
            let written = created(
                repository.as_ref(),
                &contact(
                    &tenant,
                    vec![
                        identity(IdentityKind::Email, &format!("{index}@x.com"), true),
                        identity(IdentityKind::Webchat, &format!("v{index}"), true),
                    ],
                ),
            )
            .await;
            ids.push(written.id);
        }
        created(repository.as_ref(), &contact(&other, vec![])).await;
        let first = repository
            .list(tenant.id, &ContactFilter::default(), None, 3)
            .await
            .unwrap();
        let second = repository
            .list(tenant.id, &ContactFilter::default(), Some(first[2].id), 3)
            .await
            .unwrap();
        let listed: Vec<_> = first.iter().chain(&second).map(|c| c.id).collect();
        assert_eq!(listed, ids);
        assert!(first.iter().all(|c| c.identities.len() == 2));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_are_version_guarded_and_atomic() {
    on_both(|store| async move {
        let tenant = tenant(&store).await;
        let repository = store.contacts();
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
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_frees_the_addresses() {
    on_both(|store| async move {
        let tenant = tenant(&store).await;
        let repository = store.contacts();
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
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holders_are_found_with_all_their_identities() {
    on_both(|store| async move {
        let tenant = tenant(&store).await;
        let repository = store.contacts();
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
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolved_create_is_all_or_nothing() {
    on_both(|store| async move {
        let tenant = tenant(&store).await;
        let repository = store.contacts();
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
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attaching_skips_held_addresses_and_bumps_the_version_only_on_change() {
    on_both(|store| async move {
        let tenant = tenant(&store).await;
        let repository = store.contacts();
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
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_resolution_of_one_new_sender_creates_one_contact() {
    on_both(|store| async move {
        let tenant = tenant(&store).await;
        let service = ContactService::new(
            store.contacts(),
            store.tiers(),
            store.custom_fields(),
            store.organizations(),
            Arc::new(SystemClock),
            Arc::new(UuidV7Ids),
        );
        let mut calls = Vec::new();
        for _ in 0..32 {
            let service = service.clone();
            let tenant = tenant.clone();
            calls.push(tokio::spawn(async move {
                service
                    .resolve_sender(
                        &tenant,
                        SenderInput {
                            channel: Channel::Whatsapp,
                            address: "5511987654321".into(),
                            display_name: "Ana".into(),
                            email: "ana@example.com".into(),
                            phone: String::new(),
                            external_id: String::new(),
                        },
                    )
                    .await
                    .unwrap()
            }));
        }
        let mut ids = Vec::new();
        let mut creations = 0;
        for call in calls {
            let resolution = call.await.unwrap();
            creations += usize::from(resolution.created);
            ids.push(resolution.contact.id);
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "every call returns the same contact");
        assert_eq!(creations, 1, "exactly one call created it");
        let listed = store
            .contacts()
            .list(tenant.id, &ContactFilter::default(), None, 100)
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].identities.len(), 2);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenant_cannot_see_or_touch_a_contact() {
    on_both(|store| async move {
        let owner = tenant(&store).await;
        let intruder = tenant(&store).await;
        let repository = store.contacts();
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
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_are_found_by_key_hash_and_updated_under_a_version() {
    on_both(|store| async move {
        let tenant = tenant(&store).await;
        let repository = store.tenants();
        let found = repository
            .find_by_api_key_hash(&format!("hash-{}", tenant.id))
            .await
            .unwrap();
        assert_eq!(found, Some(tenant.clone()));
        assert_eq!(repository.find_by_api_key_hash("nope").await.unwrap(), None);
        let changed = Tenant {
            default_region: Region::parse("BR").unwrap(),
            ..tenant.clone()
        };
        let updated = repository.update(&changed, 1).await.unwrap();
        assert_eq!(updated.version, 2);
        assert_eq!(repository.get(tenant.id).await.unwrap(), Some(updated));
        assert!(matches!(
            repository.update(&changed, 1).await,
            Err(DomainError::Stale { .. })
        ));
    })
    .await;
}

fn tier(tenant: &Tenant, name: &str, auto_tags: &[&str]) -> Tier {
    let now = now();
    Tier {
        id: TierId::from_uuid(Uuid::now_v7()),
        tenant_id: tenant.id,
        fields: TierFields {
            name: name.into(),
            color: "#FFD700".into(),
            sla: SlaPolicy {
                first_response: Some(time::Duration::minutes(5)),
                resolution: None,
            },
            auto_tags: auto_tags.iter().map(|tag| (*tag).to_owned()).collect(),
        },
        rank: 0,
        version: 1,
        create_time: now,
        update_time: now,
    }
}

#[tokio::test]
async fn tiers_rank_in_creation_order_with_unique_names_and_a_limit() {
    on_both(|store| async move {
        let tenant = tenant(&store).await;
        let tiers = store.tiers();
        let gold = tiers.create(&tier(&tenant, "Gold", &["vip"]), 3).await.unwrap();
        let silver = tiers.create(&tier(&tenant, "Silver", &[]), 3).await.unwrap();
        assert_eq!((gold.rank, silver.rank), (1, 2));
        assert_eq!(tiers.get(tenant.id, gold.id).await.unwrap(), Some(gold.clone()));
        let clash = tiers.create(&tier(&tenant, "GOLD", &[]), 3).await.unwrap_err();
        assert!(
            matches!(&clash, DomainError::AlreadyExists { holder, .. } if *holder == gold.id.to_string()),
            "{clash:?}"
        );
        tiers.create(&tier(&tenant, "Bronze", &[]), 3).await.unwrap();
        let full = tiers.create(&tier(&tenant, "Tin", &[]), 3).await.unwrap_err();
        assert!(matches!(full, DomainError::FailedPrecondition(_)), "{full:?}");

        // Renaming onto another tier's name is refused; a stale version too.
        let mut renamed = silver.clone();
        renamed.fields.name = "gold".into();
        let clash = tiers.update(&renamed, 1).await.unwrap_err();
        assert!(matches!(clash, DomainError::AlreadyExists { .. }), "{clash:?}");
        renamed.fields.name = "Platinum".into();
        let updated = tiers.update(&renamed, 1).await.unwrap();
        assert_eq!((updated.fields.name.as_str(), updated.version), ("Platinum", 2));
        assert!(matches!(tiers.update(&renamed, 1).await, Err(DomainError::Stale { .. })));

        // Another tenant sees none of them.
        let other = self::tenant(&store).await;
        assert!(tiers.list(other.id).await.unwrap().is_empty());
        assert_eq!(tiers.get(other.id, gold.id).await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn reordering_rewrites_ranks_and_refuses_a_stale_set() {
    on_both(|store| async move {
        let tenant = tenant(&store).await;
        let tiers = store.tiers();
        let a = tiers.create(&tier(&tenant, "A", &[]), 10).await.unwrap();
        let b = tiers.create(&tier(&tenant, "B", &[]), 10).await.unwrap();
        let c = tiers.create(&tier(&tenant, "C", &[]), 10).await.unwrap();
        let ordered = tiers
            .reorder(tenant.id, &[(c.id, 1), (a.id, 2), (b.id, 3)], now())
            .await
            .unwrap();
        let ranks: Vec<(TierId, u32)> = ordered.iter().map(|t| (t.id, t.rank)).collect();
        assert_eq!(ranks, [(c.id, 1), (a.id, 2), (b.id, 3)]);
        assert_eq!(ordered[0].version, 2);
        let stale = tiers
            .reorder(tenant.id, &[(c.id, 1), (a.id, 2)], now())
            .await
            .unwrap_err();
        assert!(matches!(stale, DomainError::Stale { .. }), "{stale:?}");
    })
    .await;
}

#[tokio::test]
async fn contacts_carry_tags_and_their_tier_and_list_by_tag() {
    on_both(|store| async move {
        let tenant = tenant(&store).await;
        let repository = store.contacts();
        let gold = store
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
            .list(tenant.id, &vip, Some(ana.id), 5)
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
    })
    .await;
}

#[tokio::test]
async fn deleting_a_tier_refuses_moves_or_clears_its_contacts() {
    on_both(|store| async move {
        let tenant = tenant(&store).await;
        let tiers = store.tiers();
        let repository = store.contacts();
        let gold = tiers.create(&tier(&tenant, "Gold", &[]), 10).await.unwrap();
        let silver = tiers
            .create(&tier(&tenant, "Silver", &["upsell"]), 10)
            .await
            .unwrap();
        let bronze = tiers
            .create(&tier(&tenant, "Bronze", &[]), 10)
            .await
            .unwrap();
        let mut ana = contact(
            &tenant,
            vec![identity(IdentityKind::Email, "ana@x.com", true)],
        );
        ana.fields.tier_id = Some(gold.id);
        let ana = created(repository.as_ref(), &ana).await;

        let refused = tiers
            .delete(tenant.id, gold.id, None, TierContacts::Refuse, now())
            .await
            .unwrap_err();
        assert!(
            matches!(refused, DomainError::FailedPrecondition(_)),
            "{refused:?}"
        );
        assert!(tiers.get(tenant.id, gold.id).await.unwrap().is_some());

        let move_to_silver = TierContacts::MoveTo {
            tier: silver.id,
            auto_tags: silver.fields.auto_tags.clone(),
        };
        tiers
            .delete(tenant.id, gold.id, Some(1), move_to_silver, now())
            .await
            .unwrap();
        let moved = repository.get(tenant.id, ana.id).await.unwrap().unwrap();
        assert_eq!(moved.fields.tier_id, Some(silver.id));
        assert_eq!(moved.tags, ["upsell"]);
        assert_eq!(moved.version, 2);
        // The gap closes: silver is now rank 1, bronze rank 2.
        let ranks: Vec<(TierId, u32)> = tiers
            .list(tenant.id)
            .await
            .unwrap()
            .iter()
            .map(|t| (t.id, t.rank))
            .collect();
        assert_eq!(ranks, [(silver.id, 1), (bronze.id, 2)]);
        assert_eq!(moved.tier.map(|t| t.rank), Some(1));

        tiers
            .delete(tenant.id, silver.id, None, TierContacts::Clear, now())
            .await
            .unwrap();
        let cleared = repository.get(tenant.id, ana.id).await.unwrap().unwrap();
        assert_eq!((cleared.fields.tier_id, cleared.tier), (None, None));
        let gone = tiers
            .delete(tenant.id, silver.id, None, TierContacts::Clear, now())
            .await
            .unwrap_err();
        assert!(matches!(gone, DomainError::NotFound { .. }), "{gone:?}");
    })
    .await;
}

fn definition(tenant: &Tenant, key: &str, field_type: FieldType) -> FieldDefinition {
    let now = now();
    FieldDefinition {
        id: FieldId::from_uuid(Uuid::now_v7()),
        tenant_id: tenant.id,
        entity: FieldEntity::Contact,
        key: key.into(),
        spec: FieldSpec {
            display_name: key.into(),
            description: String::new(),
            field_type,
            required: false,
            default: None,
            validation: Validation::default(),
            options: Vec::new(),
        },
        section_id: None,
        position: 0,
        version: 1,
        create_time: now,
        update_time: now,
    }
}

fn layout_tab(tenant: &Tenant, name: &str) -> Tab {
    let now = now();
    Tab {
        id: TabId::from_uuid(Uuid::now_v7()),
        tenant_id: tenant.id,
        entity: FieldEntity::Contact,
        name: name.into(),
        position: 0,
        version: 1,
        create_time: now,
        update_time: now,
    }
}

fn layout_section(tab: &Tab, name: &str) -> Section {
    Section {
        id: SectionId::from_uuid(Uuid::now_v7()),
        tenant_id: tab.tenant_id,
        tab_id: tab.id,
        name: name.into(),
        position: 0,
        version: 1,
        create_time: tab.create_time,
        update_time: tab.update_time,
    }
}

#[tokio::test]
async fn field_definitions_are_unique_per_key_and_found_for_writes() {
    on_both(|store| async move {
        let tenant = tenant(&store).await;
        let fields = store.custom_fields();
        let mut plan = definition(&tenant, "plan", FieldType::SingleSelect);
        plan.spec.options = vec![SelectOption {
            key: "free".into(),
            label: "Free".into(),
            archived: false,
        }];
        plan.spec.default = Some(FieldValue::Select("free".into()));
        let plan = fields.create_field(&plan, 10).await.unwrap();
        let mut account = definition(&tenant, "account_id", FieldType::Text);
        account.spec.required = true;
        let account = fields.create_field(&account, 10).await.unwrap();
        let notes = fields.create_field(&definition(&tenant, "notes", FieldType::MultilineText), 10).await.unwrap();
        assert_eq!((plan.position, account.position, notes.position), (0, 1, 2));
        assert_eq!(fields.get_field(tenant.id, plan.id).await.unwrap(), Some(plan.clone()));

        let clash = fields.create_field(&definition(&tenant, "plan", FieldType::Text), 10).await.unwrap_err();
        assert!(
            matches!(&clash, DomainError::AlreadyExists { holder, .. } if *holder == plan.id.to_string()),
            "{clash:?}"
        );
        let full = fields.create_field(&definition(&tenant, "x", FieldType::Text), 3).await.unwrap_err();
        assert!(matches!(full, DomainError::FailedPrecondition(_)), "{full:?}");

        let keys = |found: Vec<FieldDefinition>| {
            let mut keys: Vec<String> = found.into_iter().map(|f| f.key).collect();
            keys.sort();
            keys
        };
        let wanted = |keys: &[&str]| keys.iter().map(|k| (*k).to_owned()).collect::<Vec<_>>();
        let contact = FieldEntity::Contact;
        assert_eq!(keys(fields.definitions_for(tenant.id, contact, DefinitionsFor::Keys(wanted(&["notes"]))).await.unwrap()), ["notes"]);
        assert_eq!(
            keys(fields.definitions_for(tenant.id, contact, DefinitionsFor::KeysAndRequired(wanted(&["notes"]))).await.unwrap()),
            ["account_id", "notes"]
        );
        assert_eq!(
            keys(fields.definitions_for(tenant.id, contact, DefinitionsFor::Create(Vec::new())).await.unwrap()),
            ["account_id", "plan"]
        );
        assert_eq!(keys(fields.definitions_for(tenant.id, contact, DefinitionsFor::Defaults).await.unwrap()), ["plan"]);
        assert!(fields.definitions_for(tenant.id, contact, DefinitionsFor::Keys(Vec::new())).await.unwrap().is_empty());

        let page = fields.list_fields(tenant.id, contact, None, 2).await.unwrap();
        let rest = fields.list_fields(tenant.id, contact, Some(page[1].id), 10).await.unwrap();
        assert_eq!(page.len() + rest.len(), 3);
        let other = self::tenant(&store).await;
        assert!(fields.list_fields(other.id, contact, None, 10).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn values_block_a_type_change_and_go_with_their_field() {
    on_both(|store| async move {
        let tenant = tenant(&store).await;
        let fields = store.custom_fields();
        let repository = store.contacts();
        let score = fields
            .create_field(&definition(&tenant, "score", FieldType::Number), 10)
            .await
            .unwrap();
        let unused = fields
            .create_field(&definition(&tenant, "unused", FieldType::Number), 10)
            .await
            .unwrap();
        let mut ana = contact(
            &tenant,
            vec![identity(IdentityKind::Email, "ana@x.com", true)],
        );
        ana.custom_fields
            .insert("score".into(), FieldValue::Number(7.into()));
        ana.custom_fields
            .insert("other".into(), FieldValue::Checkbox(true));
        let ana = created(repository.as_ref(), &ana).await;
        let read = repository.get(tenant.id, ana.id).await.unwrap().unwrap();
        assert_eq!(read.custom_fields, ana.custom_fields);

        let mut retyped = score.clone();
        retyped.spec.field_type = FieldType::Text;
        let refused = fields.update_field(&retyped, 1, true).await.unwrap_err();
        assert!(
            matches!(refused, DomainError::FailedPrecondition(_)),
            "{refused:?}"
        );
        let mut retyped = unused.clone();
        retyped.spec.field_type = FieldType::Text;
        let changed = fields.update_field(&retyped, 1, true).await.unwrap();
        assert_eq!(
            (changed.spec.field_type, changed.version),
            (FieldType::Text, 2)
        );
        assert!(matches!(
            fields.update_field(&retyped, 1, true).await,
            Err(DomainError::Stale { .. })
        ));

        fields
            .delete_field(tenant.id, score.id, Some(1))
            .await
            .unwrap();
        let read = repository.get(tenant.id, ana.id).await.unwrap().unwrap();
        assert_eq!(read.custom_fields.keys().collect::<Vec<_>>(), ["other"]);
        assert_eq!(fields.get_field(tenant.id, score.id).await.unwrap(), None);
        // The gap closes.
        assert_eq!(
            fields
                .get_field(tenant.id, unused.id)
                .await
                .unwrap()
                .unwrap()
                .position,
            0
        );
    })
    .await;
}

#[tokio::test]
async fn the_layout_nests_tabs_sections_and_fields_in_order() {
    on_both(|store| async move {
        let tenant = tenant(&store).await;
        let fields = store.custom_fields();
        let overview = fields
            .create_tab(&layout_tab(&tenant, "Overview"), 10)
            .await
            .unwrap();
        let billing = fields
            .create_tab(&layout_tab(&tenant, "Billing"), 10)
            .await
            .unwrap();
        assert_eq!((overview.position, billing.position), (0, 1));
        let details = fields
            .create_section(&layout_section(&overview, "Details"), 10)
            .await
            .unwrap();
        let prefs = fields
            .create_section(&layout_section(&overview, "Preferences"), 10)
            .await
            .unwrap();
        let a = fields
            .create_field(&definition(&tenant, "a", FieldType::Text), 10)
            .await
            .unwrap();
        let b = fields
            .create_field(&definition(&tenant, "b", FieldType::Text), 10)
            .await
            .unwrap();
        let mut c = definition(&tenant, "c", FieldType::Text);
        c.section_id = Some(details.id);
        let c = fields.create_field(&c, 10).await.unwrap();
        assert_eq!(c.position, 0);

        // b moves in front of c; a follows at the end; the unplaced list closes up.
        let moved = fields
            .move_field(tenant.id, b.id, Some(details.id), 0, now())
            .await
            .unwrap();
        assert_eq!((moved.section_id, moved.position), (Some(details.id), 0));
        fields
            .move_field(tenant.id, a.id, Some(details.id), 99, now())
            .await
            .unwrap();
        let parts = fields
            .layout(tenant.id, FieldEntity::Contact)
            .await
            .unwrap();
        assert_eq!(parts.tabs.len(), 2);
        assert_eq!(parts.sections.len(), 2);
        let mut order: Vec<(String, u32)> = parts
            .fields
            .iter()
            .map(|f| (f.key.clone(), f.position))
            .collect();
        order.sort_by_key(|(_, position)| *position);
        assert_eq!(order, [("b".into(), 0), ("c".into(), 1), ("a".into(), 2)]);
        let unknown = fields
            .move_field(
                tenant.id,
                a.id,
                Some(SectionId::from_uuid(Uuid::now_v7())),
                0,
                now(),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(unknown, DomainError::InvalidArgument(_)),
            "{unknown:?}"
        );

        let busy = fields
            .delete_section(tenant.id, details.id)
            .await
            .unwrap_err();
        assert!(
            matches!(busy, DomainError::FailedPrecondition(_)),
            "{busy:?}"
        );
        let busy = fields.delete_tab(tenant.id, overview.id).await.unwrap_err();
        assert!(
            matches!(busy, DomainError::FailedPrecondition(_)),
            "{busy:?}"
        );
        let reordered = fields
            .reorder_sections(tenant.id, overview.id, &[prefs.id, details.id], now())
            .await
            .unwrap();
        assert_eq!(
            reordered.iter().map(|s| s.id).collect::<Vec<_>>(),
            [prefs.id, details.id]
        );
        let stale = fields
            .reorder_sections(tenant.id, overview.id, &[prefs.id], now())
            .await
            .unwrap_err();
        assert!(matches!(stale, DomainError::Stale { .. }), "{stale:?}");
        assert_eq!(
            fields.sections_of(tenant.id, overview.id).await.unwrap(),
            Some(vec![prefs.id, details.id])
        );
        fields.delete_section(tenant.id, prefs.id).await.unwrap();
        assert_eq!(
            fields.sections_of(tenant.id, overview.id).await.unwrap(),
            Some(vec![details.id])
        );
        let renamed = fields
            .rename_tab(tenant.id, billing.id, "Money", Some(1), now())
            .await
            .unwrap();
        assert_eq!((renamed.name.as_str(), renamed.version), ("Money", 2));
        let tabs = fields
            .reorder_tabs(
                tenant.id,
                FieldEntity::Contact,
                &[billing.id, overview.id],
                now(),
            )
            .await
            .unwrap();
        assert_eq!(
            tabs.iter().map(|t| (t.id, t.position)).collect::<Vec<_>>(),
            [(billing.id, 0), (overview.id, 1)]
        );
        fields.delete_tab(tenant.id, billing.id).await.unwrap();
        assert_eq!(
            fields.sections_of(tenant.id, billing.id).await.unwrap(),
            None
        );
        let renamed = fields
            .rename_section(tenant.id, details.id, "Account", None, now())
            .await
            .unwrap();
        assert_eq!(renamed.name, "Account");
    })
    .await;
}

fn organization(tenant: &Tenant, name: &str, domains: &[&str]) -> Organization {
    let now = now();
    Organization {
        id: OrganizationId::from_uuid(Uuid::now_v7()),
        tenant_id: tenant.id,
        fields: OrganizationFields {
            name: name.into(),
            domains: domains.iter().map(|d| (*d).to_owned()).collect(),
            description: String::new(),
        },
        custom_fields: Default::default(),
        member_count: 0,
        version: 1,
        create_time: now,
        update_time: now,
    }
}

#[tokio::test]
async fn organizations_own_domains_and_pick_up_unaffiliated_contacts() {
    on_both(|store| async move {
        let tenant = tenant(&store).await;
        let organizations = store.organizations();
        let repository = store.contacts();
        let email = |address: &str| vec![identity(IdentityKind::Email, address, true)];
        let ana = created(repository.as_ref(), &contact(&tenant, email("ana@acme.com"))).await;
        let mut kept_out = contact(&tenant, email("bo@acme.com"));
        kept_out.fields.affiliation = Affiliation::Detached;
        let kept_out = created(repository.as_ref(), &kept_out).await;
        let elsewhere = created(repository.as_ref(), &contact(&tenant, email("cy@other.com"))).await;

        let acme = organizations
            .create(&organization(&tenant, "Acme", &["acme.com"]), &["acme.com".to_owned()])
            .await
            .unwrap();
        assert_eq!(acme.member_count, 1);
        assert_eq!(acme.fields.domains, ["acme.com"]);
        let linked = repository.get(tenant.id, ana.id).await.unwrap().unwrap();
        assert_eq!(linked.fields.affiliation, Affiliation::Auto(acme.id));
        assert_eq!(linked.version, 2);
        let untouched = repository.get(tenant.id, kept_out.id).await.unwrap().unwrap();
        assert_eq!(untouched.fields.affiliation, Affiliation::Detached);
        assert_eq!(
            organizations.find_by_domains(tenant.id, &["acme.com".to_owned()]).await.unwrap(),
            Some(acme.id)
        );

        let clash = organizations
            .create(&organization(&tenant, "Copycat", &["acme.com"]), &[])
            .await
            .unwrap_err();
        assert!(
            matches!(&clash, DomainError::AlreadyExists { holder, .. } if *holder == acme.id.to_string()),
            "{clash:?}"
        );

        // Gaining a domain picks up the contacts there; dropping one frees it.
        let mut grown = acme.clone();
        grown.fields.domains = vec!["other.com".to_owned()];
        let grown = organizations.update(&grown, 1, &["other.com".to_owned()]).await.unwrap();
        assert_eq!((grown.fields.domains.clone(), grown.member_count, grown.version), (vec!["other.com".to_owned()], 2, 2));
        assert_eq!(
            repository.get(tenant.id, elsewhere.id).await.unwrap().unwrap().fields.affiliation,
            Affiliation::Auto(acme.id)
        );
        assert_eq!(organizations.find_by_domains(tenant.id, &["acme.com".to_owned()]).await.unwrap(), None);
        assert!(matches!(organizations.update(&grown, 1, &[]).await, Err(DomainError::Stale { .. })));
        let members = repository
            .list(
                tenant.id,
                &ContactFilter {
                    organization: Some(acme.id),
                    ..ContactFilter::default()
                },
                None,
                10,
            )
            .await
            .unwrap();
        assert_eq!(members.len(), 2);
        let page = organizations.list(tenant.id, None, 10).await.unwrap();
        assert_eq!(page.iter().map(|o| o.id).collect::<Vec<_>>(), [acme.id]);

        organizations.delete(tenant.id, acme.id, Some(2), now()).await.unwrap();
        assert_eq!(
            repository.get(tenant.id, ana.id).await.unwrap().unwrap().fields.affiliation,
            Affiliation::None
        );
        assert_eq!(organizations.get(tenant.id, acme.id).await.unwrap(), None);
        let other = self::tenant(&store).await;
        assert!(organizations.list(other.id, None, 10).await.unwrap().is_empty());
    })
    .await;
}

fn note(tenant: &Tenant, owner: RecordRef, body: &str, pinned: bool) -> Note {
    let now = now();
    Note {
        id: NoteId::from_uuid(Uuid::now_v7()),
        tenant_id: tenant.id,
        owner,
        fields: NoteFields {
            author: "agent-7".into(),
            body: body.into(),
            format: NoteFormat::Markdown,
            pinned,
        },
        version: 1,
        create_time: now,
        update_time: now,
    }
}

#[tokio::test]
async fn notes_list_pinned_first_then_newest_and_go_with_their_record() {
    on_both(|store| async move {
        let tenant = tenant(&store).await;
        let notes = store.notes();
        let ana = created(
            store.contacts().as_ref(),
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
        store
            .contacts()
            .delete(tenant.id, ana.id, None)
            .await
            .unwrap();
        assert_eq!(
            notes.get(tenant.id, pinned.id).await.unwrap(),
            None,
            "notes go with the contact"
        );
        let other = self::tenant(&store).await;
        assert_eq!(notes.get(other.id, old.id).await.unwrap(), None);
    })
    .await;
}

fn conversation(
    tenant: &Tenant,
    contact: ContactId,
    source_id: &str,
    channel: Channel,
    started_minutes: i64,
    csat: Option<u8>,
) -> Conversation {
    let now = now();
    Conversation {
        id: ConversationId::from_uuid(Uuid::now_v7()),
        tenant_id: tenant.id,
        contact_id: contact,
        source: "helpdesk".into(),
        source_id: source_id.into(),
        fields: ConversationFields {
            channel,
            started_at: now + time::Duration::minutes(started_minutes),
            ended_at: None,
            status: ConversationStatus::Open,
            agent_id: String::new(),
            agent_name: String::new(),
            team: String::new(),
            subject: String::new(),
            outcome: String::new(),
            message_count: 4,
            csat,
        },
        custom_fields: Default::default(),
        version: 1,
        create_time: now,
        update_time: now,
    }
}

#[tokio::test]
async fn recording_is_idempotent_and_keeps_engagement_current() {
    on_both(|store| async move {
        let tenant = tenant(&store).await;
        let conversations = store.conversations();
        let contacts = store.contacts();
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
    })
    .await;
}

/// The merge moves every kind of record in `ContactChild::ALL`; a table
/// that references contacts but is missing from that list fails here, so a
/// new kind of child record cannot be forgotten by the merge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_merge_knows_every_table_that_hangs_off_a_contact() {
    on_both(|store| async move {
        let mut listed: Vec<String> = crm_domain::merge::ContactChild::ALL
            .iter()
            .map(|child| child.table().to_owned())
            .collect();
        listed.sort();
        assert_eq!(store.tables_referencing_contacts().await.unwrap(), listed);
    })
    .await;
}

/// A merge moves every child record, tombstones the duplicates, keeps
/// chains one hop long and refuses a plan whose versions moved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_moves_everything_and_leaves_tombstones() {
    on_both(|store| async move {
        use crm_domain::merge::ContactChild;
        use crm_domain::merge::MergeRepository;
        use crm_domain::merge::{MergePrecondition, MergeService};
        let tenant = tenant(&store).await;
        let contacts = store.contacts();
        let merges = store.merges();
        let service = MergeService::new(
            contacts.clone(),
            merges.clone(),
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
        let notes = store.notes();
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
        let conversations = store.conversations();
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
            .preview(tenant.id, survivor.id, &[duplicate.id])
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
        let record = crm_domain::merge::MergeRecord {
            id: crm_domain::MergeId::from_uuid(Uuid::now_v7()),
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
                tenant.id,
                survivor.id,
                &[duplicate.id],
                &MergePrecondition::Token(preview.token.clone()),
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
        let precondition = MergePrecondition::Etags {
            survivor: third.etag(),
            duplicates: vec![merged.etag()],
        };
        service
            .merge(tenant.id, third.id, &[survivor.id], &precondition, "ops")
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
    })
    .await;
}

/// A property over random ledgers: whatever hangs off the contacts, a merge
/// moves all of it (the survivor's counts after equal the sum before,
/// nothing is left on a duplicate), and merging again is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merging_never_loses_a_child_record_and_cannot_be_repeated() {
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::{Config, TestRunner};
    // Per contact: (addresses, tags, notes, conversations); 2 to 4 contacts.
    let shapes = proptest::collection::vec((1usize..4, 0usize..4, 0usize..4, 0usize..4), 2..5);
    let mut runner = TestRunner::new(Config::with_cases(4));
    let cases: Vec<Vec<(usize, usize, usize, usize)>> = (0..4)
        .map(|_| shapes.new_tree(&mut runner).unwrap().current())
        .collect();
    on_both(move |store| {
        let cases = cases.clone();
        async move {
            use crm_domain::merge::MergeRepository;
            use crm_domain::merge::{MergePrecondition, MergeService};
            let tenant = tenant(&store).await;
            let contacts = store.contacts();
            let merges = store.merges();
            let service = MergeService::new(
                contacts.clone(),
                merges.clone(),
                Arc::new(SystemClock),
                Arc::new(UuidV7Ids),
            );
            for (case, shape) in cases.iter().enumerate() {
                let mut ids = Vec::new();
                for (index, (addresses, tags, notes, conversations)) in shape.iter().enumerate() {
                    let mut draft = contact(
                        &tenant,
                        (0..*addresses)
                            .map(|n| {
                                identity(
                                    IdentityKind::Email,
                                    &format!("c{case}-{index}-{n}@x.com"),
                                    n == 0,
                                )
                            })
                            .collect(),
                    );
                    // Overlapping tags: the union counts each once.
                    draft.tags = (0..*tags).map(|n| format!("tag{n}")).collect();
                    let created = created(contacts.as_ref(), &draft).await;
                    for n in 0..*notes {
                        store
                            .notes()
                            .create(&note(
                                &tenant,
                                RecordRef::Contact(created.id),
                                &format!("{n}"),
                                false,
                            ))
                            .await
                            .unwrap();
                    }
                    for n in 0..*conversations {
                        store
                            .conversations()
                            .record(&conversation(
                                &tenant,
                                created.id,
                                &format!("c{case}-{index}-{n}"),
                                Channel::Email,
                                0,
                                None,
                            ))
                            .await
                            .unwrap();
                    }
                    ids.push(created.id);
                }
                let before = merges.count_children(tenant.id, &ids).await.unwrap();
                let distinct_tags = shape.iter().map(|s| s.1).max().unwrap_or(0) as u64;
                let (survivor, duplicates) = (ids[0], &ids[1..]);
                let preview = service
                    .preview(tenant.id, survivor, duplicates)
                    .await
                    .unwrap();
                let token = MergePrecondition::Token(preview.token);
                service
                    .merge(tenant.id, survivor, duplicates, &token, "prop")
                    .await
                    .unwrap();
                let after = merges.count_children(tenant.id, &[survivor]).await.unwrap();
                for ((child, was), (_, now)) in before.iter().zip(&after) {
                    let expected = if *child == crm_domain::merge::ContactChild::Tags {
                        distinct_tags
                    } else {
                        *was
                    };
                    assert_eq!(*now, expected, "{child:?} in case {shape:?}");
                }
                let left = merges.count_children(tenant.id, duplicates).await.unwrap();
                assert!(left.iter().all(|(_, n)| *n == 0), "{left:?}");
                assert!(matches!(
                    service.preview(tenant.id, survivor, duplicates).await,
                    Err(DomainError::FailedPrecondition(_))
                ));
                assert!(matches!(
                    service
                        .merge(tenant.id, survivor, duplicates, &token, "prop")
                        .await,
                    Err(DomainError::Stale { .. })
                ));
            }
        }
    })
    .await;
}
