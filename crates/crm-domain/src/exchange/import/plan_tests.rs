#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use super::*;
use crate::exchange::import::fixtures::tier;
use crate::exchange::import::{CsvReader, DedupKey, Encoding, RowContext, place_columns, read_row};
use crate::identity::Region;
use crate::kernel::{SystemClock, TenantId};
use crate::tenancy::Tenant;

struct Ids;

impl IdGenerator for Ids {
    fn new_id(&self) -> uuid::Uuid {
        uuid::Uuid::now_v7()
    }
}

fn tenant() -> Tenant {
    let now = time::OffsetDateTime::UNIX_EPOCH;
    Tenant {
        id: TenantId::from_uuid(uuid::Uuid::now_v7()),
        name: "Acme".to_owned(),
        default_region: Region::parse("US").unwrap(),
        free_mail_domains: Vec::new(),
        shared_addresses: Vec::new(),
        version: 1,
        create_time: now,
        update_time: now,
    }
}

/// Plans `file`'s rows in `mode` against `holders`.
fn plan(file: &str, options: ImportOptions, holders: Vec<Contact>, tenant: &Tenant) -> BatchPlan {
    let mut reader = CsvReader::new(b',', Encoding::Utf8);
    reader.push(file.as_bytes());
    reader.end();
    let header = reader.next_record().unwrap().unwrap().lossy();
    let columns = place_columns(header, &options, &[]).unwrap();
    let tiers = [tier("Gold")];
    let mut rows = Vec::new();
    while let Some(record) = reader.next_record().unwrap() {
        let context = RowContext {
            columns: &columns,
            definitions: &[],
            tiers: &tiers,
            region: tenant.default_region,
            default_tags: &[],
        };
        rows.push(read_row(&record, context).unwrap());
    }
    let organizations = HashMap::from([(
        "acme.example".to_owned(),
        Some(OrganizationId::from_uuid(uuid::Uuid::now_v7())),
    )]);
    let context = PlanContext {
        tenant,
        options: &options,
        columns: &columns,
        tiers: &tiers,
        definitions: &[],
        organizations: &organizations,
        now: crate::kernel::Clock::now(&SystemClock),
        ids: &Ids,
    };
    plan_batch(&rows, holders, &context)
}

fn contact(tenant: &Tenant, email: &str, name: &str) -> Contact {
    let now = time::OffsetDateTime::UNIX_EPOCH;
    Contact {
        id: ContactId::from_uuid(uuid::Uuid::now_v7()),
        tenant_id: tenant.id,
        fields: ContactFields {
            display_name: name.to_owned(),
            ..ContactFields::default()
        },
        identities: vec![ContactIdentity {
            kind: IdentityKind::Email,
            value: email.to_owned(),
            raw: email.to_owned(),
            primary: true,
        }],
        tags: vec!["old".to_owned()],
        custom_fields: Default::default(),
        engagement: Default::default(),
        tier: None,
        version: 3,
        create_time: now,
        update_time: now,
    }
}

#[test]
fn rows_create_update_or_leave_their_contact_and_counts_add_up() {
    let tenant = tenant();
    let ana = contact(&tenant, "ana@example.com", "Ana");
    let bo = contact(&tenant, "bo@example.com", "Bo");
    let planned = plan(
        "email,name,tier,phone\n\
         new@acme.example,New,gold,\n\
         ana@example.com,Ana Silva,,+1 202 555 0101\n\
         bo@example.com,Bo,,\n",
        ImportOptions::default(),
        vec![ana.clone(), bo],
        &tenant,
    );
    assert_eq!(
        planned.counts,
        ImportCounts {
            rows: 3,
            created: 1,
            updated: 1,
            unchanged: 1,
            ..ImportCounts::default()
        }
    );
    assert!(planned.counts.add_up());
    let created = &planned.creates[0];
    assert_eq!(created.fields.display_name, "New");
    assert_eq!(created.tags, ["gold-tier"]);
    assert!(matches!(created.fields.affiliation, Affiliation::Auto(_)));
    let change = &planned.changes[0];
    assert_eq!(change.id, ana.id);
    assert_eq!(change.expected_version, 3);
    assert_eq!(change.fields.display_name, "Ana Silva");
    assert_eq!(change.add.len(), 1);
    assert!(change.add[0].primary, "the first phone is primary");
    assert!(change.tags_add.is_empty());
}

#[test]
fn an_address_of_another_contact_and_the_modes_refuse_rows() {
    let tenant = tenant();
    let ana = contact(&tenant, "ana@example.com", "Ana");
    let bo = contact(&tenant, "bo@example.com", "Bo");
    let planned = plan(
        "email,external_id\nana@example.com;bo@example.com,\n,x-1\n",
        ImportOptions::default(),
        vec![ana.clone(), bo.clone()],
        &tenant,
    );
    let refused: Vec<_> = planned
        .errors
        .iter()
        .map(|error| (error.line, error.column.as_str()))
        .collect();
    assert_eq!(refused, [(2, "email"), (3, "email")]);
    assert!(planned.errors[0].reason.contains(&bo.id.to_string()));
    assert_eq!(planned.counts.invalid, 2);

    let create_only = ImportOptions {
        mode: ImportMode::CreateOnly,
        ..ImportOptions::default()
    };
    let planned = plan("email\nana@example.com\n", create_only, vec![ana], &tenant);
    assert!(planned.errors[0].reason.contains("create only"));

    let update_only = ImportOptions {
        mode: ImportMode::UpdateOnly,
        dedup_key: DedupKey::Email,
        ..ImportOptions::default()
    };
    let planned = plan("email\nnobody@example.com\n", update_only, vec![], &tenant);
    assert!(planned.errors[0].reason.contains("update only"));
    assert!(planned.creates.is_empty());
}

#[test]
fn rows_reaching_one_contact_by_different_addresses_make_one_change() {
    let tenant = tenant();
    let mut ana = contact(&tenant, "ana@example.com", "Ana");
    ana.identities.push(ContactIdentity {
        kind: IdentityKind::Email,
        value: "ana@work.example".to_owned(),
        raw: "ana@work.example".to_owned(),
        primary: false,
    });
    let planned = plan(
        "email,city,tags\nana@example.com,Recife,\nana@work.example,,vip\n",
        ImportOptions::default(),
        vec![ana.clone()],
        &tenant,
    );
    assert_eq!(planned.counts.updated, 2);
    assert_eq!(planned.changes.len(), 1);
    let change = &planned.changes[0];
    assert_eq!(change.fields.city, "Recife");
    assert_eq!(change.tags_add, ["vip"]);
    assert_eq!(change.expected_version, ana.version);
}
