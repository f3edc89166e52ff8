//! Import: a CSV file of contacts into the ledger, as a job. The caller
//! streams the file with its options (`options.rs`); each chunk is checked
//! as it arrives (`read.rs` reads records a chunk at a time, `columns.rs`
//! places the header) and kept in storage beside the job (`service.rs`).
//! A worker then claims the job and applies it in batches (`run.rs`): each
//! row is read (`row.rs`), checked against the rows before it for shared
//! addresses, and planned against the contacts that hold its addresses
//! (`plan.rs`); the batch and the job's progress are written together.

pub mod columns;
pub mod job;
pub mod options;
pub mod plan;
pub mod ports;
pub mod read;
pub mod row;
pub mod run;
pub mod service;

pub use columns::*;
pub use job::*;
pub use options::*;
pub use plan::*;
pub use ports::*;
pub use read::*;
pub use row::*;
pub use run::*;
pub use service::*;

/// Records the import tests build.
#[cfg(test)]
pub(crate) mod fixtures {
    #![allow(clippy::unwrap_used)]

    use uuid::Uuid;

    use crate::fields::{FieldDefinition, FieldEntity, FieldSpec, FieldType, Validation};
    use crate::kernel::{FieldId, TenantId, TierId};
    use crate::tiers::{SlaPolicy, Tier, TierFields};

    pub fn definition(key: &str, label: &str, field_type: FieldType) -> FieldDefinition {
        let now = time::OffsetDateTime::UNIX_EPOCH;
        FieldDefinition {
            id: FieldId::from_uuid(Uuid::now_v7()),
            tenant_id: TenantId::from_uuid(Uuid::nil()),
            entity: FieldEntity::Contact,
            key: key.to_owned(),
            spec: FieldSpec {
                display_name: label.to_owned(),
                description: String::new(),
                field_type,
                required: false,
                default: None,
                validation: Validation::default(),
                options: Vec::new(),
            },
            section_id: None,
            position: 0,
            version: 1,
            create_time: now,
            update_time: now,
        }
    }

    pub fn tier(name: &str) -> Tier {
        let now = time::OffsetDateTime::UNIX_EPOCH;
        Tier {
            id: TierId::from_uuid(Uuid::now_v7()),
            tenant_id: TenantId::from_uuid(Uuid::nil()),
            fields: TierFields {
                name: name.to_owned(),
                color: "#FFD700".to_owned(),
                sla: SlaPolicy::default(),
                auto_tags: vec![format!("{}-tier", name.to_lowercase())],
            },
            rank: 1,
            version: 1,
            create_time: now,
            update_time: now,
        }
    }
}
