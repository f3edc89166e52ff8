//! Planning a batch of rows against the contacts that hold their
//! addresses: each row creates a contact, changes one, leaves one as it is,
//! or is refused. The plan is plain data; one repository call applies it.
//!
//! A row finds its contact by its dedup-key address only. Its other
//! addresses must be free or already that contact's: an address another
//! contact holds refuses the row (it would say two people are one), as
//! does finding a contact in create-only mode or none in update-only mode.
//! Rows of one batch that reach the same contact by different addresses
//! apply one after the other, so the batch writes one change per contact.

use std::collections::{HashMap, HashSet};

use time::OffsetDateTime;

use crate::contacts::{Contact, ContactChange, ContactFields, validate_fields};
use crate::exchange::import::{
    ColumnTarget, ImportColumns, ImportCounts, ImportMode, ImportOptions, ImportRow, RowError,
    StandardField,
};
use crate::fields::{FieldDefinition, ValueChanges, apply_values};
use crate::identity::{self, ContactIdentity, IdentityKey, IdentityKind};
use crate::kernel::tag;
use crate::kernel::{ContactId, DomainError, IdGenerator, OrganizationId};
use crate::organizations::{self, Affiliation};
use crate::tenancy::Tenant;
use crate::tiers::Tier;

/// What planning needs besides the rows and holders.
pub struct PlanContext<'a> {
    /// The tenant.
    pub tenant: &'a Tenant,
    /// The job's options.
    pub options: &'a ImportOptions,
    /// Where the columns go (to name a column in a refusal).
    pub columns: &'a ImportColumns,
    /// The tenant's tiers (for their auto tags).
    pub tiers: &'a [Tier],
    /// The tenant's custom fields of contacts.
    pub definitions: &'a [FieldDefinition],
    /// The organization each company email domain of the batch links to.
    pub organizations: &'a HashMap<String, Option<OrganizationId>>,
    /// The time of the writes.
    pub now: OffsetDateTime,
    /// Ids for new contacts.
    pub ids: &'a dyn IdGenerator,
}

/// A batch, planned.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BatchPlan {
    /// Contacts to insert, with their identities and tags.
    pub creates: Vec<Contact>,
    /// Changes to existing contacts, one per contact.
    pub changes: Vec<ContactChange>,
    /// Refused rows.
    pub errors: Vec<RowError>,
    /// What the rows did (duplicates are counted before planning).
    pub counts: ImportCounts,
}

/// A contact a batch touches: as read, and as the batch leaves it.
struct Touched {
    read: Contact,
    now: Contact,
}

/// The company email domains of new contacts among `rows`, whose
/// organizations a plan needs.
pub fn domains_to_link(rows: &[ImportRow], tenant: &Tenant) -> Vec<String> {
    let emails = rows.iter().flat_map(|row| {
        row.identities
            .iter()
            .filter(|identity| identity.kind == IdentityKind::Email)
            .map(|identity| identity.value.as_str())
    });
    organizations::auto_link_domains(emails, &tenant.free_mail_domains)
}

/// Plans `rows` (valid, and sharing no address with one another) against
/// `holders`, every contact holding any of their addresses.
pub fn plan_batch(
    rows: &[ImportRow],
    holders: Vec<Contact>,
    context: &PlanContext<'_>,
) -> BatchPlan {
    let mut plan = BatchPlan::default();
    let mut by_key: HashMap<IdentityKey, ContactId> = HashMap::new();
    let mut touched: HashMap<ContactId, Touched> = HashMap::new();
    // The contacts the batch changes, in the order first changed.
    let mut order = Vec::new();
    let mut ordered = HashSet::new();
    for contact in holders {
        for identity in &contact.identities {
            by_key.insert(identity.key(), contact.id);
        }
        touched.insert(
            contact.id,
            Touched {
                read: contact.clone(),
                now: contact,
            },
        );
    }
    let key_kind = context.options.dedup_key.kind();
    for row in rows {
        plan.counts.rows += 1;
        // A refusal about an address names the column that holds its kind.
        let refuse =
            |plan: &mut BatchPlan, row: &ImportRow, kind: Option<IdentityKind>, reason: String| {
                let column = kind
                    .and_then(|kind| context.columns.name_of(&ColumnTarget::Identity(kind)))
                    .unwrap_or("")
                    .to_owned();
                refuse_at(plan, row, column, reason);
            };
        let Some(key) = row.key_of(key_kind) else {
            refuse(
                &mut plan,
                row,
                Some(key_kind),
                format!("has no {}, which rows are matched by", key_kind.as_str()),
            );
            continue;
        };
        let found = by_key.get(&key).copied();
        if let Some(other) = row.identities.iter().find_map(|identity| {
            by_key
                .get(&identity.key())
                .filter(|holder| Some(**holder) != found)
                .map(|holder| (identity, *holder))
        }) {
            let (identity, holder) = other;
            refuse(
                &mut plan,
                row,
                Some(identity.kind),
                format!(
                    "{} {:?} belongs to contact {holder}, not to the contact this row's {} finds",
                    identity.kind.as_str(),
                    identity.value,
                    key_kind.as_str()
                ),
            );
            continue;
        }
        match (found, context.options.mode) {
            (Some(id), ImportMode::CreateOnly) => {
                refuse(
                    &mut plan,
                    row,
                    Some(key_kind),
                    format!(
                        "contact {id} already has this {} (create only)",
                        key_kind.as_str()
                    ),
                );
            }
            (None, ImportMode::UpdateOnly) => {
                refuse(
                    &mut plan,
                    row,
                    Some(key_kind),
                    format!("no contact has this {} (update only)", key_kind.as_str()),
                );
            }
            (None, _) => match create(row, context) {
                Ok(contact) => {
                    for identity in &contact.identities {
                        by_key.insert(identity.key(), contact.id);
                    }
                    plan.counts.created += 1;
                    plan.creates.push(contact);
                }
                Err((column, reason)) => refuse_at(&mut plan, row, column, reason),
            },
            (Some(id), _) => {
                let Some(entry) = touched.get_mut(&id) else {
                    continue;
                };
                match update(&entry.now, row, context) {
                    Ok(after) => {
                        if same(&after, &entry.now) {
                            plan.counts.unchanged += 1;
                        } else {
                            for identity in &after.identities {
                                by_key.insert(identity.key(), id);
                            }
                            if ordered.insert(id) {
                                order.push(id);
                            }
                            entry.now = after;
                            plan.counts.updated += 1;
                        }
                    }
                    Err((column, reason)) => refuse_at(&mut plan, row, column, reason),
                }
            }
        }
    }
    for id in order {
        if let Some(entry) = touched.remove(&id) {
            plan.changes
                .push(change(&entry.read, entry.now, context.now));
        }
    }
    plan
}

fn refuse_at(plan: &mut BatchPlan, row: &ImportRow, column: String, reason: String) {
    plan.counts.invalid += 1;
    plan.errors.push(RowError {
        line: row.line,
        column,
        reason,
        record: row.record.clone(),
    });
}

/// Whether two states of a contact say the same.
fn same(a: &Contact, b: &Contact) -> bool {
    a.fields == b.fields
        && a.tags == b.tags
        && a.custom_fields == b.custom_fields
        && a.identities.len() == b.identities.len()
}

/// The refusal of a row for a violation at `field` (a contact path).
fn at_column(context: &PlanContext<'_>, field: &str, reason: String) -> (String, String) {
    let target = match field.strip_prefix("custom_fields.") {
        Some(key) => ColumnTarget::Custom(key.to_owned()),
        None => StandardField::ALL
            .into_iter()
            .find(|standard| standard.as_str() == field)
            .map_or(ColumnTarget::Ignore, ColumnTarget::Field),
    };
    let column = context.columns.name_of(&target).unwrap_or("").to_owned();
    let reason = if column.is_empty() && !field.is_empty() {
        format!("{field} {reason}")
    } else {
        reason
    };
    (column, reason)
}

fn first_violation(context: &PlanContext<'_>, error: DomainError) -> (String, String) {
    match error {
        DomainError::InvalidArgument(violations) => match violations.into_iter().next() {
            Some(violation) => at_column(context, &violation.field, violation.description),
            None => (String::new(), "is invalid".to_owned()),
        },
        other => (String::new(), other.to_string()),
    }
}

fn value_changes(row: &ImportRow) -> ValueChanges {
    ValueChanges {
        replace_all: false,
        values: row
            .custom
            .iter()
            .map(|(key, value)| (key.clone(), Some(value.clone())))
            .collect(),
    }
}

fn auto_tags<'a>(context: &'a PlanContext<'_>, fields: &ContactFields) -> &'a [String] {
    fields
        .tier_id
        .and_then(|id| context.tiers.iter().find(|tier| tier.id == id))
        .map_or(&[], |tier| tier.fields.auto_tags.as_slice())
}

fn organization_for(
    context: &PlanContext<'_>,
    identities: &[ContactIdentity],
) -> Option<OrganizationId> {
    let emails = identities
        .iter()
        .filter(|identity| identity.kind == IdentityKind::Email)
        .map(|identity| identity.value.as_str());
    organizations::auto_link_domains(emails, &context.tenant.free_mail_domains)
        .iter()
        .find_map(|domain| context.organizations.get(domain).copied().flatten())
}

/// A new contact from a row.
fn create(row: &ImportRow, context: &PlanContext<'_>) -> Result<Contact, (String, String)> {
    let mut fields = validate_fields(row.fields.over(&ContactFields::default()))
        .map_err(|error| first_violation(context, error))?;
    if fields.display_name.is_empty() {
        fields.display_name = identity::default_display_name(&row.identities);
    }
    if let Some(org) = organization_for(context, &row.identities) {
        fields.affiliation = Affiliation::Auto(org);
    }
    let tags = tag::union(&row.tags, auto_tags(context, &fields));
    let custom_fields = apply_values(
        &Default::default(),
        &value_changes(row),
        context.definitions,
        true,
        context.tenant.default_region,
    )
    .map_err(|violations| first_violation(context, DomainError::InvalidArgument(violations)))?;
    let tier = fields
        .tier_id
        .and_then(|id| context.tiers.iter().find(|tier| tier.id == id))
        .map(Tier::badge);
    Ok(Contact {
        id: ContactId::from_uuid(context.ids.new_id()),
        tenant_id: context.tenant.id,
        fields,
        identities: row.identities.clone(),
        tags,
        custom_fields,
        engagement: Default::default(),
        tier,
        version: 1,
        create_time: context.now,
        update_time: context.now,
    })
}

/// `current` with a row applied: fields set, addresses and tags added,
/// custom values set.
fn update(
    current: &Contact,
    row: &ImportRow,
    context: &PlanContext<'_>,
) -> Result<Contact, (String, String)> {
    let mut after = current.clone();
    after.fields = validate_fields(row.fields.over(&current.fields))
        .map_err(|error| first_violation(context, error))?;
    if after.fields.affiliation == Affiliation::None
        && let Some(org) = organization_for(context, &row.identities)
    {
        after.fields.affiliation = Affiliation::Auto(org);
    }
    for identity in &row.identities {
        if !after.holds(&identity.key()) {
            let primary = !after
                .identities
                .iter()
                .any(|held| held.kind == identity.kind);
            after.identities.push(ContactIdentity {
                primary,
                ..identity.clone()
            });
        }
    }
    if after.identities.len() > identity::MAX_IDENTITIES {
        return Err((
            String::new(),
            format!(
                "the contact would hold more than {} addresses",
                identity::MAX_IDENTITIES
            ),
        ));
    }
    let mut tags = tag::union(&after.tags, &row.tags);
    if after.fields.tier_id != current.fields.tier_id {
        tags = tag::union(&tags, auto_tags(context, &after.fields));
    }
    if tags.len() > tag::MAX_TAGS {
        return Err((
            String::new(),
            format!("the contact would hold more than {} tags", tag::MAX_TAGS),
        ));
    }
    after.tags = tags;
    after.custom_fields = apply_values(
        &current.custom_fields,
        &value_changes(row),
        context.definitions,
        false,
        context.tenant.default_region,
    )
    .map_err(|violations| first_violation(context, DomainError::InvalidArgument(violations)))?;
    Ok(after)
}

/// The change that takes a contact from `read` to `now`.
fn change(read: &Contact, now: Contact, time: OffsetDateTime) -> ContactChange {
    ContactChange {
        tenant_id: read.tenant_id,
        id: read.id,
        expected_version: read.version,
        add: now
            .identities
            .iter()
            .filter(|identity| !read.holds(&identity.key()))
            .cloned()
            .collect(),
        remove: Vec::new(),
        restate: Vec::new(),
        tags_add: now
            .tags
            .iter()
            .filter(|tag| !read.tags.contains(tag))
            .cloned()
            .collect(),
        tags_remove: Vec::new(),
        fields: now.fields,
        custom_fields: now.custom_fields,
        now: time,
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
