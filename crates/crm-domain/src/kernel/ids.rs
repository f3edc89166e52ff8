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
