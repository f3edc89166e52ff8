//! Contact filters (`contacts::Filter`, parsed from AIP-160 by the domain)
//! compiled to SQL over the contact row: each restriction a comparison on a
//! column of `contacts` (or an `EXISTS` on its tags, or on the standing
//! index of its custom values), every value bound as a parameter. The same text serves both databases.

use crm_domain::contacts::{
    Comparator, CountField, CustomTest, Filter, Restriction, TextField, TimeField,
};

use crate::dialect::Backend;
use crate::rows::custom_values::{values_from_json, values_to_json};
use crate::sql::Sql;

fn comparator(op: Comparator) -> &'static str {
    match op {
        Comparator::Eq => " = ",
        Comparator::Ne => " <> ",
        Comparator::Lt => " < ",
        Comparator::Le => " <= ",
        Comparator::Gt => " > ",
        Comparator::Ge => " >= ",
    }
}

/// An index a filtered read can start from: one row per contact that
/// passes one of the filter's ANDed restrictions, ordered by contact id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Driver {
    /// `contact_tags_by_tag`: the contacts holding a tag.
    Tag(String),
    /// `contact_values_by_value`: the contacts holding a field's value (an
    /// equality, so one row per contact even for a multi-select).
    Value { key: String, sort_key: String },
}

/// The restriction a filtered read starts from, when the filter holds one
/// that must pass (at its top level, or ANDed there): a tag, else a
/// custom-field equality. Without one, the read walks the tenant's
/// contacts and tests each (SQLite, which does not turn `EXISTS` into a
/// join, measured 141 ms a count over 100,000 contacts that way and 35 ms
/// from the tag index).
pub(crate) fn driver(filter: &Filter) -> Option<Driver> {
    let parts: &[Filter] = match filter {
        Filter::And(parts) => parts,
        single => std::slice::from_ref(single),
    };
    let tag = parts.iter().find_map(|part| match part {
        Filter::Is(Restriction::Tag(tag)) => Some(Driver::Tag(tag.clone())),
        _ => None,
    });
    tag.or_else(|| {
        parts.iter().find_map(|part| match part {
            Filter::Is(Restriction::Custom(custom)) => match &custom.test {
                CustomTest::Key(Comparator::Eq, sort_key) => Some(Driver::Value {
                    key: custom.key.clone(),
                    sort_key: sort_key.clone(),
                }),
                _ => None,
            },
            _ => None,
        })
    })
}

/// Whether every restriction of `filter` reads only the tag and value
/// indexes (never a column of the contact row).
pub(crate) fn reads_only_indexes(filter: &Filter) -> bool {
    let mut only = true;
    filter.visit(&mut |restriction| {
        only &= matches!(restriction, Restriction::Tag(_) | Restriction::Custom(_));
    });
    only
}

/// Appends `FROM ... WHERE <the driver's range> AND `, leaving the caller to
/// add the rest of the filter on `c2` ([`push_filter_beside`]); returns
/// the id column of the rows read, in id order.
///
/// When the rest of the filter reads no column of the contact row
/// (`indexes_only`), the contact row is not read at all: `c2` is the
/// driver's index itself (`tenant_id`, `contact_id AS id`); the tag and
/// value indexes lose a contact's rows in the same transaction as the
/// contact, so they hold no contact that is gone. Otherwise `d CROSS JOIN
/// contacts c2`: `CROSS JOIN` makes SQLite read the index first (it keeps
/// that order; left to choose, it walked the contacts and probed the
/// index); PostgreSQL plans it as any inner join.
pub(crate) fn push_driven_from(
    sql: &mut Sql,
    tenant: uuid::Uuid,
    driver: &Driver,
    indexes_only: bool,
) -> &'static str {
    let (table, range) = match driver {
        Driver::Tag(_) => ("contact_tags", " AND tag = "),
        Driver::Value { .. } => ("contact_values", " AND field_key = "),
    };
    let push_range = |sql: &mut Sql, prefix: &str| {
        sql.push(prefix)
            .push("tenant_id = ")
            .bind(tenant)
            .push(&format!(" AND {prefix}"))
            .push(range.trim_start_matches(" AND "));
        match driver {
            Driver::Tag(tag) => {
                sql.bind(tag.clone());
            }
            Driver::Value { key, sort_key } => {
                sql.bind(key.clone())
                    .push(&format!(" AND {prefix}sort_key = "))
                    .bind(sort_key.clone());
            }
        }
    };
    if indexes_only {
        sql.push(" FROM (SELECT tenant_id, contact_id AS id FROM ")
            .push(table)
            .push(" WHERE ");
        push_range(sql, "");
        sql.push(") c2 WHERE ");
        "c2.id"
    } else {
        sql.push(" FROM ")
            .push(table)
            .push(" d CROSS JOIN contacts c2 WHERE ");
        push_range(sql, "d.");
        sql.push(" AND c2.tenant_id = d.tenant_id AND c2.id = d.contact_id AND ");
        "d.contact_id"
    }
}

/// Whether `part` is the restriction `driver` reads from.
fn drives(part: &Filter, driver: &Driver) -> bool {
    match (part, driver) {
        (Filter::Is(Restriction::Tag(tag)), Driver::Tag(driving)) => tag == driving,
        (Filter::Is(Restriction::Custom(custom)), Driver::Value { key, sort_key }) => {
            custom.key == *key
                && matches!(&custom.test, CustomTest::Key(Comparator::Eq, found) if found == sort_key)
        }
        _ => false,
    }
}

/// [`push_filter`], less the top-level restriction the read is `driven`
/// from (its index holds exactly the rows that pass it): one probe fewer
/// per row read.
pub(crate) fn push_filter_beside(
    sql: &mut Sql,
    filter: &Filter,
    alias: &str,
    driven: Option<&Driver>,
) {
    let Some(driver) = driven else {
        return push_filter(sql, filter, alias);
    };
    let parts: &[Filter] = match filter {
        Filter::And(parts) => parts,
        single => std::slice::from_ref(single),
    };
    let skip = parts.iter().position(|part| drives(part, driver));
    let rest: Vec<&Filter> = parts
        .iter()
        .enumerate()
        .filter(|(index, _)| Some(*index) != skip)
        .map(|(_, part)| part)
        .collect();
    if rest.is_empty() {
        sql.push("1 = 1");
        return;
    }
    sql.push("(");
    for (index, part) in rest.into_iter().enumerate() {
        if index > 0 {
            sql.push(" AND ");
        }
        push_filter(sql, part, alias);
    }
    sql.push(")");
}

/// Appends `filter` as a condition on the contact row aliased `alias`.
pub(crate) fn push_filter(sql: &mut Sql, filter: &Filter, alias: &str) {
    let column = |name: &str| format!("{alias}.{name}");
    match filter {
        Filter::And(parts) | Filter::Or(parts) => {
            let joint = if matches!(filter, Filter::And(_)) {
                " AND "
            } else {
                " OR "
            };
            sql.push("(");
            for (index, part) in parts.iter().enumerate() {
                if index > 0 {
                    sql.push(joint);
                }
                push_filter(sql, part, alias);
            }
            sql.push(")");
        }
        Filter::Not(part) if never_null(part) => {
            // Plain NOT over EXISTS: PostgreSQL plans it as an anti-join (a
            // probe per row). Wrapped in COALESCE it cannot, and hashes the
            // whole tag or value range first (100,000 tags: 57 ms before the
            // first row of a page, against 0.3 ms).
            sql.push("NOT (");
            push_filter(sql, part, alias);
            sql.push(")");
        }
        Filter::Not(part) => {
            // A comparison with NULL is unknown, and NOT unknown is unknown:
            // COALESCE makes "not (last contact after X)" hold for a contact
            // never contacted, as a reader expects.
            sql.push("NOT COALESCE((");
            push_filter(sql, part, alias);
            sql.push("), false)");
        }
        Filter::Is(restriction) => match restriction {
            Restriction::Text(field, op, value) => {
                let name = match field {
                    TextField::DisplayName => "display_name",
                    TextField::City => "city",
                    TextField::Country => "country",
                    TextField::Language => "language",
                };
                sql.push(&column(name))
                    .push(comparator(*op))
                    .bind(value.clone());
            }
            Restriction::Stage(op, stage) => {
                sql.push(&column("lifecycle_stage"))
                    .push(comparator(*op))
                    .bind(stage.as_str());
            }
            Restriction::Tier(op, tier) => {
                push_optional_id(sql, &column("tier_id"), *op, tier.map(|id| id.as_uuid()));
            }
            Restriction::Organization(op, organization) => push_optional_id(
                sql,
                &column("organization_id"),
                *op,
                organization.map(|id| id.as_uuid()),
            ),
            Restriction::Blocked(flag) => {
                sql.push(&column("blocked")).push(" = ").bind(*flag);
            }
            Restriction::Tag(tag) => {
                sql.push("EXISTS (SELECT 1 FROM contact_tags g WHERE g.tenant_id = ")
                    .push(&column("tenant_id"))
                    .push(" AND g.contact_id = ")
                    .push(&column("id"))
                    .push(" AND g.tag = ")
                    .bind(tag.clone())
                    .push(")");
            }
            Restriction::Channel(channel) => {
                // `channels_used` is a JSON array of channel names; a
                // quoted name cannot match inside another.
                sql.push(&column("channels_used"))
                    .push(" LIKE ")
                    .bind(format!("%\"{}\"%", channel.as_str()));
            }
            Restriction::Count(field, op, number) => {
                let name = match field {
                    CountField::Conversations => "conversation_count",
                    CountField::Messages => "message_count",
                };
                sql.push(&column(name)).push(comparator(*op)).bind(*number);
            }
            Restriction::Time(field, op, at) => {
                let name = match field {
                    TimeField::Created => "create_time",
                    TimeField::Updated => "update_time",
                    TimeField::FirstContact => "first_contact_time",
                    TimeField::LastContact => "last_contact_time",
                };
                sql.push(&column(name)).push(comparator(*op)).bind(*at);
            }
            Restriction::Custom(custom) => {
                // The standing index of values (`contact_values`, kept by
                // triggers): a semi-join the planner can drive from either
                // side, by (field, sort key) or by contact.
                sql.push("EXISTS (SELECT 1 FROM contact_values v WHERE v.tenant_id = ")
                    .push(&column("tenant_id"))
                    .push(" AND v.contact_id = ")
                    .push(&column("id"))
                    .push(" AND v.field_key = ")
                    .bind(custom.key.clone());
                match &custom.test {
                    CustomTest::Present => {}
                    CustomTest::Key(op, key) => {
                        sql.push(" AND v.sort_key")
                            .push(comparator(*op))
                            .bind(key.clone());
                    }
                    CustomTest::Written { .. } => {
                        // Typed by the service before any statement: an
                        // untyped restriction matches nothing rather than
                        // compare text as written.
                        sql.push(" AND 1 = 0");
                    }
                }
                sql.push(")");
            }
            Restriction::CsatAverage(op, hundredths) => {
                // Exact: sum / count <op> h / 100, as sum * 100 <op> h * count.
                sql.push("(")
                    .push(&column("csat_count"))
                    .push(" > 0 AND ")
                    .push(&column("csat_sum"))
                    .push(" * 100")
                    .push(comparator(*op))
                    .bind(*hundredths)
                    .push(" * ")
                    .push(&column("csat_count"))
                    .push(")");
            }
        },
    }
}

/// Whether `filter` is true or false for every row, never unknown: tags
/// and custom values are `EXISTS` tests, and AND, OR and NOT of such
/// restrictions stay known.
fn never_null(filter: &Filter) -> bool {
    match filter {
        Filter::And(parts) | Filter::Or(parts) => parts.iter().all(never_null),
        Filter::Not(part) => never_null(part),
        Filter::Is(restriction) => {
            matches!(restriction, Restriction::Tag(_) | Restriction::Custom(_))
        }
    }
}

fn push_optional_id(sql: &mut Sql, column: &str, op: Comparator, id: Option<uuid::Uuid>) {
    match (op, id) {
        (Comparator::Ne, Some(id)) => {
            sql.push("(")
                .push(column)
                .push(" IS NULL OR ")
                .push(column)
                .push(" <> ")
                .bind(id)
                .push(")");
        }
        (_, Some(id)) => {
            sql.push(column).push(" = ").bind(id);
        }
        (Comparator::Ne, None) => {
            sql.push(column).push(" IS NOT NULL");
        }
        (_, None) => {
            sql.push(column).push(" IS NULL");
        }
    }
}

#[derive(Debug, sea_orm::FromQueryResult)]
struct PendingValues {
    tenant_id: uuid::Uuid,
    id: uuid::Uuid,
    custom_values: String,
}

/// Re-writes the custom values of every contact written before values
/// carried their sort keys, so the `contact_values` triggers index them,
/// found by the `contacts_value_keys_pending` partial index
/// ([`crate::fill`]). Returns how many it re-wrote.
///
/// # Errors
/// The driver's; `Custom` for a stored value that does not decode.
pub(crate) async fn fill_value_keys(
    db: &sea_orm::DatabaseConnection,
    backend: Backend,
) -> Result<u64, sea_orm::DbErr> {
    crate::fill::in_batches(
        db,
        backend,
        "SELECT tenant_id, id, custom_values FROM contacts \
         WHERE custom_values <> '{}' AND custom_values NOT LIKE '%\"k\":%'",
        |contact: PendingValues| {
            let values = values_from_json(&contact.custom_values)
                .map_err(|error| sea_orm::DbErr::Custom(error.to_string()))?;
            let mut update = Sql::new("UPDATE contacts SET custom_values = ");
            update
                .bind(values_to_json(&values))
                .push(" WHERE tenant_id = ")
                .bind(contact.tenant_id)
                .push(" AND id = ")
                .bind(contact.id);
            Ok(update)
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use crm_domain::contacts::{
        Comparator, ContactFilter, ContactRepository, CustomRestriction, CustomTest, Filter,
        Restriction,
    };
    use crm_domain::fields::sort_key;
    use sea_orm::{ConnectionTrait, Statement};

    use crate::testing::{BOTH, TestDatabase};
    use crate::{Store, StoreOptions};

    fn seats_above(number: &str) -> ContactFilter {
        ContactFilter {
            expression: Some(Filter::Is(Restriction::Custom(CustomRestriction {
                key: "seats".into(),
                position: 0,
                test: CustomTest::Key(
                    Comparator::Gt,
                    sort_key::decimal_key(number.parse().unwrap()),
                ),
            }))),
            ..ContactFilter::default()
        }
    }

    /// The lines of `statement`'s plan as its backend explains it.
    async fn plan_of(store: &Store, statement: Statement) -> Vec<String> {
        let (explain, column) = match statement.db_backend {
            sea_orm::DbBackend::Sqlite => ("EXPLAIN QUERY PLAN", "detail"),
            _ => ("EXPLAIN", "QUERY PLAN"),
        };
        store
            .contacts()
            .pools
            .db
            .query_all_raw(Statement::from_sql_and_values(
                statement.db_backend,
                format!("{explain} {}", statement.sql),
                statement.values.map(|values| values.0).unwrap_or_default(),
            ))
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get::<String>("", column).unwrap())
            .collect()
    }

    /// On SQLite, which does not turn `EXISTS` into a join, a count whose
    /// filter holds a tag or a custom-field equality starts from that
    /// index: never a walk of the tenant's contacts.
    #[tokio::test]
    async fn a_filtered_count_starts_from_the_tag_or_value_index_on_sqlite() {
        let database = TestDatabase::create(crate::testing::TestBackend::Sqlite).await;
        let store = Store::connect(&database.url, &StoreOptions::default())
            .await
            .unwrap();
        let tenant = crm_domain::TenantId::from_uuid(uuid::Uuid::now_v7());
        let plan_pro = Filter::Is(Restriction::Custom(CustomRestriction {
            key: "plan".into(),
            position: 0,
            test: CustomTest::Key(Comparator::Eq, "pro".into()),
        }));
        let not_vip = Filter::Not(Box::new(Filter::Is(Restriction::Tag("vip".into()))));
        for (expression, index) in [
            (
                Filter::And(vec![
                    plan_pro.clone(),
                    Filter::Is(Restriction::Tag("vip".into())),
                ]),
                "contact_tags_by_tag",
            ),
            (
                Filter::And(vec![not_vip, plan_pro]),
                "contact_values_by_value",
            ),
        ] {
            let filter = ContactFilter {
                expression: Some(expression),
                ..ContactFilter::default()
            };
            let statement = crate::contacts::count_sql(tenant, &filter, 10_000)
                .build(sea_orm::DbBackend::Sqlite);
            let plan = plan_of(&store, statement).await;
            let first = plan
                .iter()
                .find(|step| step.starts_with("SEARCH") || step.starts_with("SCAN"))
                .unwrap();
            assert!(first.contains(index), "{plan:#?}");
            assert!(
                !plan.iter().any(|step| step.starts_with("SCAN c2")),
                "{plan:#?}"
            );
        }
        let _ = store.close().await;
        database.drop_database().await;
    }

    /// A NOT over a tag is planned by PostgreSQL as an anti-join (a probe
    /// per row read), never as a subplan that hashes the tag's every
    /// contact before the first row (57 ms on a million contacts).
    #[tokio::test]
    async fn a_negated_tag_is_an_anti_join_on_postgres() {
        let database = TestDatabase::create(crate::testing::TestBackend::Postgres).await;
        let store = Store::connect(&database.url, &StoreOptions::default())
            .await
            .unwrap();
        let tenant = crm_domain::TenantId::from_uuid(uuid::Uuid::now_v7());
        let filter = ContactFilter {
            expression: Some(Filter::And(vec![
                Filter::Is(Restriction::Custom(CustomRestriction {
                    key: "plan".into(),
                    position: 0,
                    test: CustomTest::Key(Comparator::Eq, "team".into()),
                })),
                Filter::Not(Box::new(Filter::Is(Restriction::Tag("vip".into())))),
            ])),
            ..ContactFilter::default()
        };
        let statement =
            crate::contacts::count_sql(tenant, &filter, 10_000).build(sea_orm::DbBackend::Postgres);
        let plan = plan_of(&store, statement).await;
        assert!(
            plan.iter().any(|step| step.contains("Anti Join")),
            "{plan:#?}"
        );
        assert!(
            !plan.iter().any(|step| step.contains("SubPlan")),
            "{plan:#?}"
        );
        let _ = store.close().await;
        database.drop_database().await;
    }

    /// Values stored before they carried sort keys (as every value written
    /// before the `contact_values` index was) are keyed at start-up, and a
    /// filter finds them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn values_written_before_the_index_are_keyed_at_start_up() {
        for backend in BOTH {
            let (database, store, tenant) = crate::testing::opened(backend).await;
            for (id, seats) in [(1_u128, "9.5"), (2, "10"), (3, "100")] {
                let values = format!("{{\"seats\":{{\"t\":\"number\",\"v\":\"{seats}\"}}}}");
                crate::testing::insert_contact_row(&store, tenant, id, false, &values).await;
            }
            let contacts = store.contacts();
            assert_eq!(
                contacts
                    .count(tenant, &seats_above("9.75"), 100)
                    .await
                    .unwrap(),
                0,
                "{backend:?}: not keyed yet"
            );
            let _ = store.close().await;
            let store = Store::connect(&database.url, &StoreOptions::default())
                .await
                .unwrap();
            let contacts = store.contacts();
            assert_eq!(
                contacts
                    .count(tenant, &seats_above("9.75"), 100)
                    .await
                    .unwrap(),
                2,
                "{backend:?}"
            );
            assert_eq!(
                contacts
                    .count(tenant, &seats_above("99"), 100)
                    .await
                    .unwrap(),
                1,
                "{backend:?}"
            );
            let _ = store.close().await;
            database.drop_database().await;
        }
    }

    /// The ends of an export's pages are every `step`-th id that passes
    /// the filter after the start, whichever index the read starts from:
    /// none (no filter), the tag index alone, or the tag index and the
    /// contact row; fewer when fewer remain.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn page_ends_are_every_stepth_passing_id_after_the_start() {
        use crm_domain::ContactId;
        use crm_domain::contacts::ContactRepository;
        for backend in BOTH {
            let (database, store, tenant) = crate::testing::opened(backend).await;
            let db = store.backend().db_backend();
            let pools = &store.search().pools;
            // Contacts 1..=30; the even ones tagged vip; every third blocked.
            for n in 1_u128..=30 {
                crate::testing::insert_contact_row(&store, tenant, n, n % 3 == 0, "{}").await;
                if n % 2 == 0 {
                    pools
                        .db
                        .execute_raw(Statement::from_sql_and_values(
                            db,
                            "INSERT INTO contact_tags (tenant_id, contact_id, tag) VALUES ($1, $2, 'vip')",
                            [tenant.as_uuid().into(), uuid::Uuid::from_u128(n).into()],
                        ))
                        .await
                        .unwrap();
                }
            }
            let ids = |ns: &[u128]| -> Vec<ContactId> {
                ns.iter()
                    .map(|n| ContactId::from_uuid(uuid::Uuid::from_u128(*n)))
                    .collect()
            };
            let vip = Filter::Is(Restriction::Tag("vip".into()));
            let filter = |expression: Option<Filter>| ContactFilter {
                expression,
                ..ContactFilter::default()
            };
            let contacts = store.contacts();
            let cases = [
                (filter(None), None, 7, 3, ids(&[7, 14, 21])),
                (filter(None), Some(25), 2, 8, ids(&[27, 29])),
                (filter(Some(vip.clone())), None, 4, 10, ids(&[8, 16, 24])),
                (filter(Some(vip.clone())), Some(16), 3, 10, ids(&[22, 28])),
                (
                    filter(Some(Filter::And(vec![
                        vip,
                        Filter::Is(Restriction::Blocked(true)),
                    ]))),
                    Some(6),
                    2,
                    10,
                    ids(&[18, 30]),
                ),
            ];
            for (filter, after, step, pages, expected) in cases {
                let after = after.map(|n| ContactId::from_uuid(uuid::Uuid::from_u128(n)));
                let ends = contacts
                    .page_ends(tenant, &filter, after, step, pages)
                    .await
                    .unwrap();
                assert_eq!(ends, expected, "{backend:?}: {filter:?} after {after:?}");
            }
            let _ = store.close().await;
            database.drop_database().await;
        }
    }
}
