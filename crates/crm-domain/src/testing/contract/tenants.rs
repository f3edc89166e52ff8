//! Checks of TenantRepository: look-up by API key hash, and version-guarded updates.

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
