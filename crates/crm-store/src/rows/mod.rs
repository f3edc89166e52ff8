//! Row shapes, one file per table, and their mapping to domain types; only
//! this crate sees them. The few shapes no single table owns (a count, an
//! id, "a row exists", the two owner columns of a note or a file) are here.

pub(crate) mod attachment_blobs;
pub(crate) mod attachments;
pub(crate) mod contact_identities;
pub(crate) mod contact_merges;
pub(crate) mod contacts;
pub(crate) mod conversations;
pub(crate) mod custom_fields;
pub(crate) mod custom_values;
pub(crate) mod layout_sections;
pub(crate) mod layout_tabs;
pub(crate) mod merged_contacts;
pub(crate) mod not_duplicates;
pub(crate) mod notes;
pub(crate) mod organization_domains;
pub(crate) mod organizations;
pub(crate) mod tenants;
pub(crate) mod tiers;

use crm_domain::kernel::RecordRef;
use crm_domain::{ContactId, DomainError, OrganizationId};
use sea_orm::FromQueryResult;
use uuid::Uuid;

/// Declares a row shape whose `FromQueryResult` reads the driver's row by
/// position when it holds the shape's columns, named as its fields, in
/// their order (from wherever the first one is); by name otherwise. Reading
/// by name costs a look-up per column, and sea-orm formats an error for
/// each NULL before turning it into `None`; for the rows read by the
/// thousand (an export's contacts and addresses) that was most of their
/// decoding.
macro_rules! positional_row {
    ($(#[$meta:meta])* $row:ident { $($field:ident: $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug)]
        pub(crate) struct $row {
            $(pub $field: $ty),*
        }

        impl $row {
            const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),*];

            /// Where [`Self::COLUMNS`] start in `row`, if they are all there
            /// in their order.
            fn columns_at<R: sea_orm::sqlx::Row>(row: &R) -> Option<usize> {
                use sea_orm::sqlx::Column;
                let columns = row.columns();
                let first = columns.iter().position(|column| column.name() == Self::COLUMNS[0])?;
                columns
                    .get(first..first + Self::COLUMNS.len())?
                    .iter()
                    .zip(Self::COLUMNS)
                    .all(|(column, name)| column.name() == *name)
                    .then_some(first)
            }

            fn read_at<'r, R>(row: &'r R, first: usize) -> Result<Self, sea_orm::sqlx::Error>
            where
                R: sea_orm::sqlx::Row,
                usize: sea_orm::sqlx::ColumnIndex<R>,
                $($ty: sea_orm::sqlx::Decode<'r, R::Database> + sea_orm::sqlx::Type<R::Database>,)*
            {
                let mut index = first;
                let mut next = || {
                    index += 1;
                    index - 1
                };
                // Struct fields are evaluated in the order written.
                Ok(Self {
                    $($field: row.try_get(next())?,)*
                })
            }
        }

        impl crate::inline::InlineRow for $row {
            fn from_inline(
                row: &rusqlite::Row<'_>,
                first: usize,
            ) -> Result<Self, crm_domain::DomainError> {
                let mut index = first;
                let mut next = || {
                    index += 1;
                    index - 1
                };
                Ok(Self {
                    $($field: crate::inline::column(row, next(), stringify!($field))?,)*
                })
            }
        }

        impl sea_orm::FromQueryResult for $row {
            fn from_query_result(
                row: &sea_orm::QueryResult,
                pre: &str,
            ) -> Result<Self, sea_orm::DbErr> {
                let decoded = |error: sea_orm::sqlx::Error| sea_orm::DbErr::Type(error.to_string());
                if pre.is_empty() {
                    if let Some(driver) = row.try_as_pg_row()
                        && let Some(first) = Self::columns_at(driver)
                    {
                        return Self::read_at(driver, first).map_err(decoded);
                    }
                    if let Some(driver) = row.try_as_sqlite_row()
                        && let Some(first) = Self::columns_at(driver)
                    {
                        return Self::read_at(driver, first).map_err(decoded);
                    }
                }
                Ok(Self {
                    $($field: row.try_get(pre, stringify!($field))?,)*
                })
            }
        }
    };
}
pub(crate) use positional_row;

/// `SELECT count(*) AS n`.
#[derive(Debug, FromQueryResult)]
pub(crate) struct Count {
    pub n: i64,
}

/// `SELECT ... AS text`: one text column.
#[derive(Debug, FromQueryResult)]
pub(crate) struct Text {
    pub text: String,
}

/// `SELECT id`.
#[derive(Debug, FromQueryResult)]
pub(crate) struct Id {
    pub id: Uuid,
}

/// `SELECT 1 AS found`: read only to learn that a row exists.
#[derive(Debug, FromQueryResult)]
pub(crate) struct Found {
    #[allow(dead_code)] // the row's existence is the answer
    pub found: i32,
}

/// A count per kind of record, `SELECT '<kind>' AS kind, count(*) AS n`.
#[derive(Debug, FromQueryResult)]
pub(crate) struct KindCount {
    pub kind: String,
    pub n: i64,
}

/// The record a stored note or attachment is on, from its two owner
/// columns (`what` names the kind of row, for the error).
pub(crate) fn owner_from_columns(
    contact: Option<Uuid>,
    organization: Option<Uuid>,
    what: &str,
) -> Result<RecordRef, DomainError> {
    match (contact, organization) {
        (Some(contact), None) => Ok(RecordRef::Contact(ContactId::from_uuid(contact))),
        (None, Some(organization)) => Ok(RecordRef::Organization(OrganizationId::from_uuid(
            organization,
        ))),
        _ => Err(DomainError::Internal(format!(
            "stored {what} owner is invalid"
        ))),
    }
}

/// The two owner columns (contact, organization) of a note or attachment.
pub(crate) fn owner_columns(owner: RecordRef) -> (Option<Uuid>, Option<Uuid>) {
    match owner {
        RecordRef::Contact(id) => (Some(id.as_uuid()), None),
        RecordRef::Organization(id) => (None, Some(id.as_uuid())),
    }
}
