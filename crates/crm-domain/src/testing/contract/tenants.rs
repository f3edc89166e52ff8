//! Checks of TenantRepository: look-up by API key hash, version-guarded
//! updates, the list of tenants and replaced keys.

use super::prelude::*;

pub async fn tenants_are_found_by_key_hash_and_updated_under_a_version(world: &dyn World) {
    let tenant = fixtures::tenant(world).await;
    let repository = world.tenants();
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
}

pub async fn tenants_are_listed_oldest_first_and_a_replaced_key_stops_matching(world: &dyn World) {
    let first = fixtures::tenant(world).await;
    let second = fixtures::tenant(world).await;
    let repository = world.tenants();
    let listed: Vec<TenantId> = repository
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|tenant| tenant.id)
        .collect();
    assert_eq!(listed, vec![first.id, second.id]);

    repository
        .replace_api_key_hash(first.id, "new-hash")
        .await
        .unwrap();
    assert_eq!(
        repository
            .find_by_api_key_hash(&format!("hash-{}", first.id))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        repository.find_by_api_key_hash("new-hash").await.unwrap(),
        Some(first.clone()),
        "the key changes, the tenant and its version do not"
    );
    assert_eq!(
        repository
            .find_by_api_key_hash(&format!("hash-{}", second.id))
            .await
            .unwrap(),
        Some(second)
    );
    let unknown = TenantId::from_uuid(Uuid::now_v7());
    assert!(matches!(
        repository.replace_api_key_hash(unknown, "other-hash").await,
        Err(DomainError::NotFound { .. })
    ));
}
