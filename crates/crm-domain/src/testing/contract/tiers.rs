//! Checks of TierRepository: ranks without gaps, unique names, a limit, reordering and deletion.

use super::prelude::*;

pub async fn tiers_rank_in_creation_order_with_unique_names_and_a_limit(world: &dyn World) {
    let tenant = fixtures::tenant(world).await;
    let tiers = world.tiers();
    let gold = tiers
        .create(&tier(&tenant, "Gold", &["vip"]), 3)
        .await
        .unwrap();
    let silver = tiers
        .create(&tier(&tenant, "Silver", &[]), 3)
        .await
        .unwrap();
    assert_eq!((gold.rank, silver.rank), (1, 2));
    assert_eq!(
        tiers.get(tenant.id, gold.id).await.unwrap(),
        Some(gold.clone())
    );
    let clash = tiers
        .create(&tier(&tenant, "GOLD", &[]), 3)
        .await
        .unwrap_err();
    assert!(
        matches!(&clash, DomainError::AlreadyExists { holder, .. } if *holder == gold.id.to_string()),
        "{clash:?}"
    );
    tiers
        .create(&tier(&tenant, "Bronze", &[]), 3)
        .await
        .unwrap();
    let full = tiers
        .create(&tier(&tenant, "Tin", &[]), 3)
        .await
        .unwrap_err();
    assert!(
        matches!(full, DomainError::FailedPrecondition(_)),
        "{full:?}"
    );

    // Renaming onto another tier's name is refused; a stale version too.
    let mut renamed = silver.clone();
    renamed.fields.name = "gold".into();
    let clash = tiers.update(&renamed, 1).await.unwrap_err();
    assert!(
        matches!(clash, DomainError::AlreadyExists { .. }),
        "{clash:?}"
    );
    renamed.fields.name = "Platinum".into();
    let updated = tiers.update(&renamed, 1).await.unwrap();
    assert_eq!(
        (updated.fields.name.as_str(), updated.version),
        ("Platinum", 2)
    );
    assert!(matches!(
        tiers.update(&renamed, 1).await,
        Err(DomainError::Stale { .. })
    ));

    // Another tenant sees none of them.
    let other = fixtures::tenant(world).await;
    assert!(tiers.list(other.id).await.unwrap().is_empty());
    assert_eq!(tiers.get(other.id, gold.id).await.unwrap(), None);
}

pub async fn reordering_rewrites_ranks_and_refuses_a_stale_set(world: &dyn World) {
    let tenant = fixtures::tenant(world).await;
    let tiers = world.tiers();
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
}

pub async fn deleting_a_tier_refuses_moves_or_clears_its_contacts(world: &dyn World) {
    let tenant = fixtures::tenant(world).await;
    let tiers = world.tiers();
    let repository = world.contacts();
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
}
