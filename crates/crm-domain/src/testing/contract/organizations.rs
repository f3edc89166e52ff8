//! Checks of OrganizationRepository: domains with one owner, and auto-linking contacts at those domains.

use super::prelude::*;

pub async fn organizations_own_domains_and_pick_up_unaffiliated_contacts(world: &dyn World) {
    let tenant = fixtures::tenant(world).await;
    let organizations = world.organizations();
    let repository = world.contacts();
    let email = |address: &str| vec![identity(IdentityKind::Email, address, true)];
    let ana = created(
        repository.as_ref(),
        &contact(&tenant, email("ana@acme.com")),
    )
    .await;
    let mut kept_out = contact(&tenant, email("bo@acme.com"));
    kept_out.fields.affiliation = Affiliation::Detached;
    let kept_out = created(repository.as_ref(), &kept_out).await;
    let elsewhere = created(
        repository.as_ref(),
        &contact(&tenant, email("cy@other.com")),
    )
    .await;

    let acme = organizations
        .create(
            &organization(&tenant, "Acme", &["acme.com"]),
            &["acme.com".to_owned()],
        )
        .await
        .unwrap();
    assert_eq!(acme.member_count, 1);
    assert_eq!(acme.fields.domains, ["acme.com"]);
    let linked = repository.get(tenant.id, ana.id).await.unwrap().unwrap();
    assert_eq!(linked.fields.affiliation, Affiliation::Auto(acme.id));
    assert_eq!(linked.version, 2);
    let untouched = repository
        .get(tenant.id, kept_out.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(untouched.fields.affiliation, Affiliation::Detached);
    assert_eq!(
        organizations
            .find_by_domains(tenant.id, &["acme.com".to_owned()])
            .await
            .unwrap(),
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
    let grown = organizations
        .update(&grown, 1, &["other.com".to_owned()])
        .await
        .unwrap();
    assert_eq!(
        (
            grown.fields.domains.clone(),
            grown.member_count,
            grown.version
        ),
        (vec!["other.com".to_owned()], 2, 2)
    );
    assert_eq!(
        repository
            .get(tenant.id, elsewhere.id)
            .await
            .unwrap()
            .unwrap()
            .fields
            .affiliation,
        Affiliation::Auto(acme.id)
    );
    assert_eq!(
        organizations
            .find_by_domains(tenant.id, &["acme.com".to_owned()])
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        organizations.update(&grown, 1, &[]).await,
        Err(DomainError::Stale { .. })
    ));
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

    organizations
        .delete(tenant.id, acme.id, Some(2), now())
        .await
        .unwrap();
    assert_eq!(
        repository
            .get(tenant.id, ana.id)
            .await
            .unwrap()
            .unwrap()
            .fields
            .affiliation,
        Affiliation::None
    );
    assert_eq!(organizations.get(tenant.id, acme.id).await.unwrap(), None);
    let other = fixtures::tenant(world).await;
    assert!(
        organizations
            .list(other.id, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}
