//! `contacts`: the describing fields of a contact and its version. Read
//! joined with its identities (see `contact_identity`), one row per identity.

use crm_domain::contact::{Contact, ContactFields, ContactIdentity, LifecycleStage};
use crm_domain::{ContactId, DomainError, IdentityKind, TenantId};
use sea_orm::FromQueryResult;
use time::OffsetDateTime;
use uuid::Uuid;

/// Contact columns and identity columns of the joined read, with `c` the
/// contact alias and `i` the identity alias (left-joined: may be null).
pub(crate) const JOINED_COLUMNS: &str = "c.tenant_id, c.id, c.display_name, c.city, c.country, \
    c.language, c.avatar_url, c.blocked, c.lifecycle_stage, c.version, c.create_time, \
    c.update_time, i.kind AS identity_kind, i.value AS identity_value, \
    i.raw_value AS identity_raw, i.is_primary AS identity_primary, \
    i.create_time AS identity_create_time";

/// One row of the contact-with-identities read.
#[derive(Debug, FromQueryResult)]
pub(crate) struct ContactIdentityRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub display_name: String,
    pub city: String,
    pub country: String,
    pub language: String,
    pub avatar_url: String,
    pub blocked: bool,
    pub lifecycle_stage: String,
    pub version: i64,
    pub create_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
    pub identity_kind: Option<String>,
    pub identity_value: Option<String>,
    pub identity_raw: Option<String>,
    pub identity_primary: Option<bool>,
    pub identity_create_time: Option<OffsetDateTime>,
}

/// Folds joined rows into contacts, keeping the order in which each contact
/// first appears and dropping repeated identity rows (a contact matched by two
/// keys comes back twice). Identities are ordered primary first, then in the
/// order they were added (see `contact_identity::insert_ignoring_held`), the
/// same on every backend.
pub(crate) fn fold(rows: Vec<ContactIdentityRow>) -> Result<Vec<Contact>, DomainError> {
    let mut contacts: Vec<(Contact, Vec<(OffsetDateTime, ContactIdentity)>)> = Vec::new();
    for row in rows {
        let id = ContactId::from_uuid(row.id);
        let index = match contacts.iter().position(|(contact, _)| contact.id == id) {
            Some(index) => index,
            None => {
                let stage = LifecycleStage::parse(&row.lifecycle_stage).ok_or_else(|| {
                    DomainError::Internal(format!(
                        "stored stage {:?} is invalid",
                        row.lifecycle_stage
                    ))
                })?;
                contacts.push((
                    Contact {
                        id,
                        tenant_id: TenantId::from_uuid(row.tenant_id),
                        fields: ContactFields {
                            display_name: row.display_name,
                            city: row.city,
                            country: row.country,
                            language: row.language,
                            avatar_url: row.avatar_url,
                            blocked: row.blocked,
                            lifecycle_stage: stage,
                        },
                        identities: Vec::new(),
                        version: row.version,
                        create_time: row.create_time,
                        update_time: row.update_time,
                    },
                    Vec::new(),
                ));
                contacts.len() - 1
            }
        };
        if let (Some(kind), Some(value), Some(raw), Some(primary), Some(created)) = (
            row.identity_kind,
            row.identity_value,
            row.identity_raw,
            row.identity_primary,
            row.identity_create_time,
        ) {
            let kind = IdentityKind::parse(&kind).ok_or_else(|| {
                DomainError::Internal(format!("stored identity kind {kind:?} is invalid"))
            })?;
            let identities = &mut contacts[index].1;
            if !identities
                .iter()
                .any(|(_, held)| held.kind == kind && held.value == value)
            {
                identities.push((
                    created,
                    ContactIdentity {
                        kind,
                        value,
                        raw,
                        primary,
                    },
                ));
            }
        }
    }
    Ok(contacts
        .into_iter()
        .map(|(mut contact, mut identities)| {
            identities.sort_by(|(a_time, a), (b_time, b)| {
                order_key(a, *a_time).cmp(&order_key(b, *b_time))
            });
            contact.identities = identities
                .into_iter()
                .map(|(_, identity)| identity)
                .collect();
            contact
        })
        .collect())
}

fn order_key(
    identity: &ContactIdentity,
    created: OffsetDateTime,
) -> (bool, OffsetDateTime, &'static str, &str) {
    (
        !identity.primary,
        created,
        identity.kind.as_str(),
        identity.value.as_str(),
    )
}

/// Puts a freshly written contact's identities in the order a read returns
/// them: primary first, then in the order written (a stable sort).
pub(crate) fn canonical(mut contact: Contact) -> Contact {
    contact.identities.sort_by_key(|identity| !identity.primary);
    contact
}
