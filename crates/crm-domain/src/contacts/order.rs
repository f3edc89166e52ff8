//! The order a contact list is read in (AIP-132 `order_by`), and the cursor
//! that continues it: the sort key of the last contact read and its id, so
//! a page is one index range however deep it is (no offset).

use time::OffsetDateTime;

use crate::contacts::Contact;
use crate::kernel::{ContactId, DomainError};

/// Longest `order_by`, in bytes (checked before it is read).
pub const MAX_ORDER_BY_BYTES: usize = 100;

/// A field a list can be ordered by: each has an index that serves the
/// order with the contact id as tie-break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrderField {
    /// The contact id (UUIDv7: about creation order); the default.
    #[default]
    Id,
    /// The display name, case- and accent-insensitively (`search_name`).
    DisplayName,
    /// When the contact was created.
    CreateTime,
}

/// An order: a field, ascending or descending, then the id the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ContactOrder {
    /// The field.
    pub field: OrderField,
    /// Whether from the largest down.
    pub descending: bool,
}

/// The value of the order's field for one contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKey {
    /// A folded name.
    Text(String),
    /// A time.
    Time(OffsetDateTime),
}

/// Where a page continues: after this contact, in the list's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactCursor {
    /// The last contact's value of the order's field (`None` for id order).
    pub key: Option<SortKey>,
    /// The last contact's id.
    pub id: ContactId,
}

impl ContactCursor {
    /// After `id`, in id order.
    pub fn after(id: ContactId) -> Self {
        Self { key: None, id }
    }
}

impl ContactOrder {
    /// Parses AIP-132 `order_by`: one field (`display_name`, `create_time`
    /// or `id`), optionally followed by `desc` or `asc`; empty is id order.
    ///
    /// # Errors
    /// `InvalidArgument` on `order_by` naming what it does not take.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        if text.len() > MAX_ORDER_BY_BYTES {
            return Err(DomainError::invalid(
                "order_by",
                format!("must be at most {MAX_ORDER_BY_BYTES} bytes"),
            ));
        }
        let words: Vec<&str> = text.split_whitespace().collect();
        let (field, direction) = match words.as_slice() {
            [] => return Ok(Self::default()),
            [field] => (*field, None),
            [field, direction] => (*field, Some(*direction)),
            _ => {
                return Err(DomainError::invalid(
                    "order_by",
                    "orders by one field, optionally followed by `desc`",
                ));
            }
        };
        let field = match field {
            "id" => OrderField::Id,
            "display_name" => OrderField::DisplayName,
            "create_time" => OrderField::CreateTime,
            _ => {
                return Err(DomainError::invalid(
                    "order_by",
                    "orders by display_name, create_time or id",
                ));
            }
        };
        let descending = match direction {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(_) => {
                return Err(DomainError::invalid(
                    "order_by",
                    "a field is followed by `asc` or `desc` only",
                ));
            }
        };
        Ok(Self { field, descending })
    }

    /// The cursor that continues after `contact`.
    pub fn cursor(&self, contact: &Contact) -> ContactCursor {
        let key = match self.field {
            OrderField::Id => None,
            OrderField::DisplayName => Some(SortKey::Text(crate::kernel::fold(
                &contact.fields.display_name,
            ))),
            OrderField::CreateTime => Some(SortKey::Time(contact.create_time)),
        };
        ContactCursor {
            key,
            id: contact.id,
        }
    }

    /// Whether this is the default order (by id, ascending).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_by_takes_one_indexed_field_and_a_direction() {
        assert_eq!(ContactOrder::parse(""), Ok(ContactOrder::default()));
        assert_eq!(
            ContactOrder::parse(" create_time  desc "),
            Ok(ContactOrder {
                field: OrderField::CreateTime,
                descending: true
            })
        );
        assert_eq!(
            ContactOrder::parse("display_name asc").map(|order| order.field),
            Ok(OrderField::DisplayName)
        );
        for bad in [
            "update_time",
            "create_time sideways",
            "display_name, id",
            "a b c",
        ] {
            assert!(ContactOrder::parse(bad).is_err(), "{bad}");
        }
        assert!(ContactOrder::parse(&"x".repeat(MAX_ORDER_BY_BYTES + 1)).is_err());
    }
}
