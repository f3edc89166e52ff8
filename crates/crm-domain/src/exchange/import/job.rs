//! An import job: one uploaded file on its way into the ledger, with what
//! it has done so far. Its counts always add up: every data row read is
//! exactly one of created, updated, unchanged, duplicate or invalid.

use time::OffsetDateTime;

use crate::exchange::import::ImportOptions;
use crate::kernel::{ImportJobId, TenantId};

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImportState {
    /// Its bytes are still arriving; no caller sees it yet.
    Uploading,
    /// Waiting for its turn (one job runs per tenant at a time).
    Queued,
    /// Being applied.
    Running,
    /// Every row was read; the counts say what each did.
    Succeeded,
    /// Stopped by a fault; `error` says which, the counts what was done.
    Failed,
    /// Stopped by a caller; what was done stays.
    Cancelled,
}

impl ImportState {
    /// Every state.
    pub const ALL: [ImportState; 6] = [
        ImportState::Uploading,
        ImportState::Queued,
        ImportState::Running,
        ImportState::Succeeded,
        ImportState::Failed,
        ImportState::Cancelled,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportState::Uploading => "uploading",
            ImportState::Queued => "queued",
            ImportState::Running => "running",
            ImportState::Succeeded => "succeeded",
            ImportState::Failed => "failed",
            ImportState::Cancelled => "cancelled",
        }
    }

    /// Inverse of [`ImportState::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == text)
    }

    /// Whether the job is over.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ImportState::Succeeded | ImportState::Failed | ImportState::Cancelled
        )
    }
}

/// What a job's rows did so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportCounts {
    /// Data rows read and settled (the sum of the rest).
    pub rows: u64,
    /// Rows that created a contact.
    pub created: u64,
    /// Rows that changed a contact.
    pub updated: u64,
    /// Rows whose contact already said everything they say.
    pub unchanged: u64,
    /// Rows sharing an address with an earlier row of the file.
    pub duplicates: u64,
    /// Rows refused (see the job's errors).
    pub invalid: u64,
}

impl ImportCounts {
    /// These counts with `other`'s added.
    pub fn plus(self, other: ImportCounts) -> ImportCounts {
        ImportCounts {
            rows: self.rows + other.rows,
            created: self.created + other.created,
            updated: self.updated + other.updated,
            unchanged: self.unchanged + other.unchanged,
            duplicates: self.duplicates + other.duplicates,
            invalid: self.invalid + other.invalid,
        }
    }

    /// Whether every row is counted once.
    pub fn add_up(&self) -> bool {
        self.created + self.updated + self.unchanged + self.duplicates + self.invalid == self.rows
    }
}

/// A stored import job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportJob {
    /// Its id.
    pub id: ImportJobId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Who started it ([`crate::tenancy::Caller::owner`]).
    pub owner: String,
    /// Where it is.
    pub state: ImportState,
    /// How it reads and applies the file.
    pub options: ImportOptions,
    /// The file's header row.
    pub header: Vec<String>,
    /// The file's size.
    pub file_bytes: u64,
    /// Its data rows (counted as it was uploaded).
    pub rows_total: u64,
    /// What its rows did so far.
    pub counts: ImportCounts,
    /// Why it failed; empty otherwise.
    pub error: String,
    /// When it was uploaded.
    pub create_time: OffsetDateTime,
    /// When it first started running.
    pub start_time: Option<OffsetDateTime>,
    /// When it ended.
    pub end_time: Option<OffsetDateTime>,
    /// When it last changed.
    pub update_time: OffsetDateTime,
}
