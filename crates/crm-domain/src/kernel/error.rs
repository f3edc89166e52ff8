//! The domain's error type. One variant per cause, typed payloads, lowercase
//! messages without storage or driver text. The gRPC adapter maps each
//! variant to a status code in one exhaustive match.

use crate::kernel::{ContactId, OrganizationId};

/// The kinds of record an error can be about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    /// A contact.
    Contact,
    /// A tenant.
    Tenant,
    /// An address on a contact.
    Identity,
    /// A customer tier.
    Tier,
    /// A custom-field definition.
    CustomField,
    /// A tab of a record form.
    Tab,
    /// A section of a record form.
    Section,
    /// An organization.
    Organization,
    /// A note.
    Note,
    /// A conversation.
    Conversation,
    /// An attachment.
    Attachment,
    /// A saved segment of contacts.
    Segment,
    /// A CSV import of contacts.
    ImportJob,
}

impl Entity {
    /// The record kind as the API names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Contact => "contact",
            Entity::Tenant => "tenant",
            Entity::Identity => "identity",
            Entity::Tier => "tier",
            Entity::CustomField => "custom field",
            Entity::Tab => "tab",
            Entity::Section => "section",
            Entity::Organization => "organization",
            Entity::Note => "note",
            Entity::Conversation => "conversation",
            Entity::Attachment => "attachment",
            Entity::Segment => "segment",
            Entity::ImportJob => "import job",
        }
    }
}

/// One bad field of a request: its path and what is wrong with it. Inside
/// the domain the path is relative to what the code was given (`name`,
/// `emails[1].address`); the adapter places it in the request with
/// [`FieldViolation::scoped`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path of the field, e.g. `emails[1].address` (relative) or
    /// `contact.emails[1].address` (scoped).
    pub field: String,
    /// What is wrong, in lowercase words.
    pub description: String,
}

impl FieldViolation {
    /// A violation of `field`.
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }

    /// The violation with its path placed inside `scope`: `name` in `tier`
    /// is `tier.name`, `[2]` in `tags` is `tags[2]`. Inner code reports
    /// paths relative to what it validates; the adapter that knows the
    /// request adds the scope (as IOx's `FieldViolation::scope`).
    pub fn scoped(self, scope: &str) -> Self {
        let field = if self.field.is_empty() {
            scope.to_owned()
        } else if self.field.starts_with('[') {
            format!("{scope}{}", self.field)
        } else {
            format!("{scope}.{}", self.field)
        };
        Self { field, ..self }
    }
}

/// Why a request conflicts with the current state of the records: the typed
/// cause of [`DomainError::FailedPrecondition`]. Each cause has its message
/// here and its `ErrorInfo` reason in the gRPC adapter, so a client can act
/// on the cause without reading English.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Precondition {
    /// A tier still has contacts and the delete said neither where to move
    /// them nor to clear them.
    #[error(
        "{contacts} contacts are on this tier; say whether to move them \
         to another tier (move_to_tier_id) or to none (clear_contacts)"
    )]
    TierInUse {
        /// How many contacts are on the tier.
        contacts: i64,
    },
    /// The tenant has as many tiers as it may.
    #[error("a tenant may define at most {limit} tiers")]
    TierLimit {
        /// The most tiers a tenant may define.
        limit: usize,
    },
    /// The record type has as many custom fields as it may.
    #[error("a tenant may define at most {limit} custom fields per record type")]
    CustomFieldLimit {
        /// The most fields per record type.
        limit: usize,
    },
    /// A field's type cannot change while records hold values of it.
    #[error("records hold values of {key:?}; its type can change only while none does")]
    CustomFieldHasValues {
        /// The field's key.
        key: String,
    },
    /// The record form has as many tabs as it may.
    #[error("a record form may have at most {limit} tabs")]
    TabLimit {
        /// The most tabs per form.
        limit: usize,
    },
    /// A tab cannot be deleted while it holds sections.
    #[error("the tab holds {sections} sections; delete or move them first")]
    TabNotEmpty {
        /// How many sections it holds.
        sections: usize,
    },
    /// The tab has as many sections as it may.
    #[error("a tab may hold at most {limit} sections")]
    SectionLimit {
        /// The most sections per tab.
        limit: usize,
    },
    /// A section cannot be deleted while it holds fields.
    #[error("the section holds {fields} fields; move or delete them first")]
    SectionNotEmpty {
        /// How many fields it holds.
        fields: i64,
    },
    /// A saved filter names a custom field, option or tier that no longer
    /// exists (or no longer fits): run, it would silently match nothing.
    #[error("the saved filter no longer applies at {field}: {problem}; change the filter")]
    FilterOutdated {
        /// What it names (`custom_fields.plan`, `tier_id`).
        field: String,
        /// What is wrong with it now.
        problem: String,
    },
    /// The contact is not a member of the organization it would leave.
    #[error("contact {contact} is not a member of organization {organization}")]
    NotAMember {
        /// The contact.
        contact: ContactId,
        /// The organization it is not a member of.
        organization: OrganizationId,
    },
}

/// Everything a use case or port can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The request is malformed; every bad field is listed.
    #[error("invalid argument: {}", describe(.0))]
    InvalidArgument(Vec<FieldViolation>),
    /// No such record in the caller's tenant.
    #[error("{} {id} not found", .entity.as_str())]
    NotFound {
        /// What was looked for.
        entity: Entity,
        /// The id that was asked for, as given.
        id: String,
    },
    /// The contact was merged into another: every call but the reads that
    /// follow merges (GetContact, ListMerges) reports it this way, naming the
    /// contact to use instead.
    #[error("contact {contact} was merged into contact {into}; use {into}")]
    MergedAway {
        /// The id asked for.
        contact: ContactId,
        /// The contact it now resolves to (chains followed).
        into: ContactId,
    },
    /// An address (or external id) is already held by another contact of the tenant.
    #[error("{kind} {value:?} is already held by contact {holder}")]
    IdentityTaken {
        /// Path of the field that carried the address, relative to what the
        /// use case was given (the adapter scopes it).
        field: String,
        /// The identity kind, as stored.
        kind: &'static str,
        /// The normalised address.
        value: String,
        /// The contact that holds it.
        holder: ContactId,
    },
    /// A value that must be unique in the tenant (a tier's name, ...) is
    /// already used by another record.
    #[error("{} {value:?} is already used by {} {holder}", .field, .entity.as_str())]
    AlreadyExists {
        /// What kind of record holds the value.
        entity: Entity,
        /// Path of the field that carried the value, relative to what the use
        /// case was given (the adapter scopes it).
        field: String,
        /// The value, as compared.
        value: String,
        /// The id of the record that holds it.
        holder: String,
    },
    /// The record changed since the caller read it (etag mismatch or a lost race).
    #[error("{} {id} was changed by someone else; read it again", .entity.as_str())]
    Stale {
        /// What changed.
        entity: Entity,
        /// Its id.
        id: String,
    },
    /// The request is over a size limit (an attachment over the configured
    /// maximum).
    #[error("{field} is over the limit of {limit} bytes")]
    TooLarge {
        /// Path of the field that is too large, relative to what the use case
        /// was given (the adapter scopes it).
        field: String,
        /// The limit, in bytes.
        limit: u64,
    },
    /// The request conflicts with the record's current state.
    #[error("failed precondition: {0}")]
    FailedPrecondition(Precondition),
    /// The caller holds as many of something as it may.
    #[error("at most {limit} {what} are allowed")]
    LimitReached {
        /// What is counted (`segments per owner`).
        what: &'static str,
        /// The most allowed.
        limit: usize,
    },
    /// A tenant's likely duplicates are linked more times than one finding
    /// call groups.
    #[error("more than {limit} links between likely duplicates to group")]
    TooManyDuplicateLinks {
        /// The most links a call groups.
        limit: u64,
    },
    /// No credentials, or credentials that match no tenant.
    #[error("unauthenticated: {0}")]
    Unauthenticated(&'static str),
    /// The storage cannot be reached; the call may be retried.
    #[error("storage unavailable")]
    Unavailable,
    /// Concurrent writers kept winning; the call may be retried.
    #[error("too much contention on {0}; retry")]
    Contention(&'static str),
    /// A fault that is not the caller's: a broken invariant or an unexpected storage error.
    #[error("internal error: {0}")]
    Internal(String),
}

/// How many items of a caller's list an error message repeats.
pub const ITEMS_SHOWN: usize = 5;

/// A few of `items` for an error message: `a, b, c` or, past
/// [`ITEMS_SHOWN`], `a, b, c, d, e and 7 more`. Errors never repeat a
/// caller's list whole.
pub fn some_of<I>(items: I) -> String
where
    I: IntoIterator,
    I::Item: std::fmt::Display,
{
    let mut shown = Vec::with_capacity(ITEMS_SHOWN);
    let mut more = 0_usize;
    for item in items {
        if shown.len() < ITEMS_SHOWN {
            shown.push(item.to_string());
        } else {
            more += 1;
        }
    }
    let listed = shown.join(", ");
    if more == 0 {
        listed
    } else {
        format!("{listed} and {more} more")
    }
}

/// The message of an `InvalidArgument`: the first few violations (the
/// `BadRequest` detail lists them), then how many more there are.
fn describe(violations: &[FieldViolation]) -> String {
    let shown: Vec<String> = violations
        .iter()
        .take(ITEMS_SHOWN)
        .map(|violation| format!("{}: {}", violation.field, violation.description))
        .collect();
    let more = violations.len().saturating_sub(ITEMS_SHOWN);
    if more == 0 {
        shown.join("; ")
    } else {
        format!("{}; and {more} more", shown.join("; "))
    }
}

impl DomainError {
    /// A single-field invalid-argument error.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        DomainError::InvalidArgument(vec![FieldViolation::new(field, description)])
    }

    /// The error with every request path it names placed inside `scope`
    /// (see [`FieldViolation::scoped`]): the paths of its field violations,
    /// and the field of an `IdentityTaken`, `AlreadyExists` or `TooLarge`.
    /// Other errors are unchanged. The domain reports paths relative to what
    /// it was given; the adapter that knows the request scopes them.
    pub fn scoped(self, scope: &str) -> Self {
        let place = |field: String| {
            FieldViolation::new(field, String::new())
                .scoped(scope)
                .field
        };
        match self {
            DomainError::InvalidArgument(violations) => DomainError::InvalidArgument(
                violations
                    .into_iter()
                    .map(|violation| violation.scoped(scope))
                    .collect(),
            ),
            DomainError::IdentityTaken {
                field,
                kind,
                value,
                holder,
            } => DomainError::IdentityTaken {
                field: place(field),
                kind,
                value,
                holder,
            },
            DomainError::AlreadyExists {
                entity,
                field,
                value,
                holder,
            } => DomainError::AlreadyExists {
                entity,
                field: place(field),
                value,
                holder,
            },
            DomainError::TooLarge { field, limit } => DomainError::TooLarge {
                field: place(field),
                limit,
            },
            other => other,
        }
    }

    /// `InvalidArgument` on `field` when a caller's list holds more than
    /// `max` items. Checked first, before any work on the list, so an
    /// oversized request costs nothing and its error repeats none of it.
    ///
    /// # Errors
    /// As described.
    pub fn check_count(field: &str, len: usize, max: usize, noun: &str) -> Result<(), Self> {
        if len > max {
            Err(DomainError::invalid(
                field,
                format!("holds {len} {noun}; at most {max} are allowed"),
            ))
        } else {
            Ok(())
        }
    }

    /// Not found, for a contact id.
    pub fn contact_not_found(id: impl ToString) -> Self {
        DomainError::NotFound {
            entity: Entity::Contact,
            id: id.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoping_prefixes_relative_paths() {
        let error = DomainError::InvalidArgument(vec![
            FieldViolation::new("name", "bad"),
            FieldViolation::new("[1]", "bad"),
            FieldViolation::new("", "bad"),
        ]);
        let DomainError::InvalidArgument(scoped) = error.scoped("tier") else {
            panic!("still invalid argument");
        };
        let paths: Vec<&str> = scoped.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(paths, ["tier.name", "tier[1]", "tier"]);
        assert_eq!(
            DomainError::Unavailable.scoped("tier"),
            DomainError::Unavailable
        );
        let taken = DomainError::AlreadyExists {
            entity: Entity::Tier,
            field: "name".into(),
            value: "Gold".into(),
            holder: "t-1".into(),
        };
        assert!(matches!(
            taken.scoped("tier"),
            DomainError::AlreadyExists { field, .. } if field == "tier.name"
        ));
    }
}
