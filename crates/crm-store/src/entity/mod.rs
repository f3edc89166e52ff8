//! Row shapes, one file per table, and their mapping to domain types. Only
//! this crate sees them.

pub(crate) mod contact;
pub(crate) mod contact_identity;
pub(crate) mod custom_field;
pub(crate) mod tenant;
pub(crate) mod tier;
