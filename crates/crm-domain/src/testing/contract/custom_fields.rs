//! Checks of CustomFieldRepository: field definitions, their values on records, and the form layout.

use super::prelude::*;

pub async fn field_definitions_are_unique_per_key_and_found_for_writes(world: &dyn World) {
    let tenant = fixtures::tenant(world).await;
    let fields = world.custom_fields();
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
    let notes = fields
        .create_field(&definition(&tenant, "notes", FieldType::MultilineText), 10)
        .await
        .unwrap();
    assert_eq!((plan.position, account.position, notes.position), (0, 1, 2));
    assert_eq!(
        fields.get_field(tenant.id, plan.id).await.unwrap(),
        Some(plan.clone())
    );

    let clash = fields
        .create_field(&definition(&tenant, "plan", FieldType::Text), 10)
        .await
        .unwrap_err();
    assert!(
        matches!(&clash, DomainError::AlreadyExists { holder, .. } if *holder == plan.id.to_string()),
        "{clash:?}"
    );
    let full = fields
        .create_field(&definition(&tenant, "x", FieldType::Text), 3)
        .await
        .unwrap_err();
    assert!(
        matches!(full, DomainError::FailedPrecondition(_)),
        "{full:?}"
    );

    let keys = |found: Vec<FieldDefinition>| {
        let mut keys: Vec<String> = found.into_iter().map(|f| f.key).collect();
        keys.sort();
        keys
    };
    let wanted = |keys: &[&str]| keys.iter().map(|k| (*k).to_owned()).collect::<Vec<_>>();
    let contact = FieldEntity::Contact;
    assert_eq!(
        keys(
            fields
                .definitions_for(tenant.id, contact, DefinitionsFor::Keys(wanted(&["notes"])))
                .await
                .unwrap()
        ),
        ["notes"]
    );
    assert_eq!(
        keys(
            fields
                .definitions_for(
                    tenant.id,
                    contact,
                    DefinitionsFor::KeysAndRequired(wanted(&["notes"]))
                )
                .await
                .unwrap()
        ),
        ["account_id", "notes"]
    );
    assert_eq!(
        keys(
            fields
                .definitions_for(tenant.id, contact, DefinitionsFor::Create(Vec::new()))
                .await
                .unwrap()
        ),
        ["account_id", "plan"]
    );
    assert_eq!(
        keys(
            fields
                .definitions_for(tenant.id, contact, DefinitionsFor::Defaults)
                .await
                .unwrap()
        ),
        ["plan"]
    );
    assert!(
        fields
            .definitions_for(tenant.id, contact, DefinitionsFor::Keys(Vec::new()))
            .await
            .unwrap()
            .is_empty()
    );

    let page = fields
        .list_fields(tenant.id, contact, None, 2)
        .await
        .unwrap();
    let rest = fields
        .list_fields(tenant.id, contact, Some(page[1].id), 10)
        .await
        .unwrap();
    assert_eq!(page.len() + rest.len(), 3);
    let other = fixtures::tenant(world).await;
    assert!(
        fields
            .list_fields(other.id, contact, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn values_block_a_type_change_and_go_with_their_field(world: &dyn World) {
    let tenant = fixtures::tenant(world).await;
    let fields = world.custom_fields();
    let repository = world.contacts();
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
}

pub async fn the_layout_nests_tabs_sections_and_fields_in_order(world: &dyn World) {
    let tenant = fixtures::tenant(world).await;
    let fields = world.custom_fields();
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
}
