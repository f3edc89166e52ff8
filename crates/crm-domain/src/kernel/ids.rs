//! Typed ids. Every id is a UUIDv7, so ids sort by creation time; the
//! newtypes keep a tenant id from being passed where a contact id belongs.

use std::fmt;

use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps a UUID.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// Parses the hyphenated text form; `None` when it is not a UUID.
            pub fn parse(text: &str) -> Option<Self> {
                Uuid::try_parse(text).ok().map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

id_type!(
    /// The tenant a record belongs to: the shard key of every table.
    TenantId
);
id_type!(
    /// A contact: one person the tenant talks to.
    ContactId
);
id_type!(
    /// A customer tier: a level of service a contact can be on.
    TierId
);
id_type!(
    /// A custom-field definition.
    FieldId
);
id_type!(
    /// A tab of a custom-field layout.
    TabId
);
id_type!(
    /// A section of a custom-field layout tab.
    SectionId
);
id_type!(
    /// An organization: a company contacts belong to.
    OrganizationId
);
id_type!(
    /// A note on a contact or an organization.
    NoteId
);
id_type!(
    /// A saved contact filter.
    SegmentId
);
id_type!(
    /// A CSV import of contacts.
    ImportJobId
);
id_type!(
    /// A conversation: one interaction with a contact on one channel.
    ConversationId
);
id_type!(
    /// A file attached to a contact or an organization.
    AttachmentId
);
id_type!(
    /// A merge of duplicate contacts into one.
    MergeId
);

/// A caller's key for making a create safe to retry: the same key in the
/// same tenant returns what the first call created. At most
/// [`RequestId::MAX_CHARS`] characters, none of them control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// The longest request id, in characters.
    pub const MAX_CHARS: usize = 128;

    /// Checks `raw`; an empty string means "no request id".
    ///
    /// # Errors
    /// What is wrong with it, in lowercase words.
    pub fn parse(raw: String) -> Result<Option<Self>, String> {
        if raw.is_empty() {
            Ok(None)
        } else if raw.chars().count() > Self::MAX_CHARS || raw.chars().any(char::is_control) {
            Err(format!(
                "must be at most {} characters without control characters",
                Self::MAX_CHARS
            ))
        } else {
            Ok(Some(Self(raw)))
        }
    }

    /// The id as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as given, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod request_id_tests {
    #![allow(clippy::unwrap_used)]

    use super::RequestId;

    #[test]
    fn request_ids_are_bounded_and_printable() {
        assert_eq!(RequestId::parse(String::new()), Ok(None));
        assert_eq!(
            RequestId::parse("import-7".into())
                .unwrap()
                .unwrap()
                .as_str(),
            "import-7"
        );
        assert!(RequestId::parse("x".repeat(129)).is_err());
        assert!(RequestId::parse("a\nb".into()).is_err());
        assert!(RequestId::parse("é".repeat(128)).is_ok());
    }
}
