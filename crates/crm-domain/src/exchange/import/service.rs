//! Import use cases: taking an upload (checked as it arrives: options,
//! size, header, structure), keeping jobs, and reading them back.
//! Running a job is `run.rs`.

use std::sync::Arc;
use std::time::Duration;

use crate::contacts::ContactRepository;
use crate::exchange::import::{
    CsvReader, ImportBell, ImportColumns, ImportCounts, ImportJob, ImportOptions, ImportRepository,
    ImportState, RowError, can_sniff, place_columns, sniff_separator,
};
use crate::fields::{CustomFieldRepository, FieldDefinition, FieldEntity, MAX_FIELDS_PER_ENTITY};
use crate::kernel::{Clock, IdGenerator};
use crate::kernel::{DomainError, Entity, ImportJobId, Page};
use crate::organizations::OrganizationRepository;
use crate::tenancy::{Caller, TenantRepository};
use crate::tiers::TierRepository;

/// Bytes of the file stored per chunk.
pub const STORED_CHUNK: usize = 1 << 20;

/// The largest file an import takes unless configured otherwise.
pub const DEFAULT_MAX_IMPORT_BYTES: u64 = 1 << 30;

/// How long a worker holds a job without renewing (each batch renews):
/// after a crash, the job resumes once this has passed.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// Most refused rows one read returns.
pub const MAX_ERRORS_PER_READ: u32 = 1000;

/// The ports the import use cases drive.
#[derive(Clone)]
pub struct ImportPorts {
    /// Jobs, files and refused rows.
    pub imports: Arc<dyn ImportRepository>,
    /// Contacts (holders of a batch's addresses).
    pub contacts: Arc<dyn ContactRepository>,
    /// Custom-field definitions.
    pub fields: Arc<dyn CustomFieldRepository>,
    /// Tiers (named by rows).
    pub tiers: Arc<dyn TierRepository>,
    /// Organizations (new contacts auto-link by email domain).
    pub organizations: Arc<dyn OrganizationRepository>,
    /// Tenants (a job runs with its tenant's settings).
    pub tenants: Arc<dyn TenantRepository>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Ids.
    pub ids: Arc<dyn IdGenerator>,
}

/// Import use cases.
#[derive(Clone)]
pub struct ImportService {
    pub(super) ports: ImportPorts,
    pub(super) max_bytes: u64,
    pub(super) lease: Duration,
    bell: Option<Arc<dyn ImportBell>>,
}

impl std::fmt::Debug for ImportService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportService")
            .field("max_bytes", &self.max_bytes)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

fn not_found(id: ImportJobId) -> DomainError {
    DomainError::NotFound {
        entity: Entity::ImportJob,
        id: id.to_string(),
    }
}

impl ImportService {
    /// Wires the use cases to their ports: files up to `max_bytes`, a
    /// worker's hold on a job lapsing after `lease`.
    pub fn new(ports: ImportPorts, max_bytes: u64, lease: Duration) -> Self {
        Self {
            ports,
            max_bytes,
            lease,
            bell: None,
        }
    }

    /// The service, ringing `bell` whenever a job is queued.
    pub fn with_bell(self, bell: Arc<dyn ImportBell>) -> Self {
        Self {
            bell: Some(bell),
            ..self
        }
    }

    /// The longest file an upload takes.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// The tenant's custom fields of contacts.
    pub(super) async fn definitions(
        &self,
        tenant: crate::kernel::TenantId,
    ) -> Result<Vec<FieldDefinition>, DomainError> {
        let limit = u32::try_from(MAX_FIELDS_PER_ENTITY).unwrap_or(u32::MAX);
        self.ports
            .fields
            .list_fields(tenant, FieldEntity::Contact, None, limit)
            .await
    }

    /// Starts taking a file: checks the options and opens a job for its
    /// bytes. Violations are named as in an `ImportContacts` request
    /// (`options.mapping[0].column`).
    ///
    /// # Errors
    /// `InvalidArgument`; `Unavailable`; `Internal`.
    pub async fn start(
        &self,
        caller: &Caller,
        options: ImportOptions,
    ) -> Result<ImportUpload, DomainError> {
        let options = options.validated().map_err(|error| match error {
            DomainError::InvalidArgument(violations) => DomainError::InvalidArgument(
                violations
                    .into_iter()
                    .map(|violation| violation.scoped("options"))
                    .collect(),
            ),
            other => other,
        })?;
        let tenant = caller.tenant();
        let definitions = self.definitions(tenant.id).await?;
        let now = self.ports.clock.now();
        let job = ImportJob {
            id: ImportJobId::from_uuid(self.ports.ids.new_id()),
            tenant_id: tenant.id,
            owner: caller.owner(),
            state: ImportState::Uploading,
            options,
            header: Vec::new(),
            file_bytes: 0,
            rows_total: 0,
            counts: ImportCounts::default(),
            error: String::new(),
            create_time: now,
            start_time: None,
            end_time: None,
            update_time: now,
        };
        self.ports.imports.create(&job).await?;
        Ok(ImportUpload {
            imports: self.ports.imports.clone(),
            bell: self.bell.clone(),
            max_bytes: self.max_bytes,
            definitions,
            job,
            start: Vec::new(),
            reader: None,
            columns: None,
            stored: Vec::new(),
            seq: 0,
        })
    }

    /// Reads one job.
    ///
    /// # Errors
    /// `NotFound`; `Unavailable`; `Internal`.
    pub async fn get(&self, caller: &Caller, id: ImportJobId) -> Result<ImportJob, DomainError> {
        self.ports
            .imports
            .get(caller.tenant().id, id)
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// The tenant's jobs, newest first.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    pub async fn list(
        &self,
        caller: &Caller,
        before: Option<ImportJobId>,
        page_size: u32,
    ) -> Result<Page<ImportJob, ImportJobId>, DomainError> {
        let items = self
            .ports
            .imports
            .list(
                caller.tenant().id,
                before,
                crate::kernel::overfetch(page_size),
            )
            .await?;
        Ok(Page::from_overfetch(items, page_size, |job| job.id))
    }

    /// Stops a queued or running job; what it did stays. A job already over
    /// is returned as it is.
    ///
    /// # Errors
    /// `NotFound`; `Unavailable`; `Internal`.
    pub async fn cancel(&self, caller: &Caller, id: ImportJobId) -> Result<ImportJob, DomainError> {
        let now = self.ports.clock.now();
        self.ports.imports.cancel(caller.tenant().id, id, now).await
    }

    /// Up to `limit` refused rows of a job after line `after`, by line.
    ///
    /// # Errors
    /// `NotFound`; `Unavailable`; `Internal`.
    pub async fn errors(
        &self,
        caller: &Caller,
        id: ImportJobId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<RowError>, DomainError> {
        let tenant = caller.tenant().id;
        self.ports
            .imports
            .errors(tenant, id, after, limit.min(MAX_ERRORS_PER_READ))
            .await
    }

    /// Deletes uploads abandoned for `older_than`; returns how many.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    pub async fn sweep_uploads(&self, older_than: Duration) -> Result<u64, DomainError> {
        let before = self.ports.clock.now() - older_than;
        self.ports.imports.sweep_uploads(before).await
    }
}

/// A file arriving: each chunk is checked (size, then header and records)
/// before it is stored, so a bad file is refused while it is still being
/// sent, and nothing of it is kept.
pub struct ImportUpload {
    imports: Arc<dyn ImportRepository>,
    bell: Option<Arc<dyn ImportBell>>,
    max_bytes: u64,
    definitions: Vec<FieldDefinition>,
    job: ImportJob,
    /// The file's first bytes, until the separator can be told.
    start: Vec<u8>,
    reader: Option<CsvReader>,
    columns: Option<ImportColumns>,
    /// Bytes not yet stored.
    stored: Vec<u8>,
    seq: u32,
}

impl std::fmt::Debug for ImportUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportUpload")
            .field("job", &self.job.id)
            .field("bytes", &self.job.file_bytes)
            .finish_non_exhaustive()
    }
}

impl ImportUpload {
    /// The job being uploaded.
    pub fn job_id(&self) -> ImportJobId {
        self.job.id
    }

    /// Takes the next bytes of the file.
    ///
    /// # Errors
    /// `TooLarge` on `csv` past the size limit; `InvalidArgument` on `csv`
    /// for a header nothing fits or a file that cannot be read (see
    /// [`crate::exchange::import::ReadError`]); `Unavailable`; `Internal`.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), DomainError> {
        let total = self.job.file_bytes + bytes.len() as u64;
        if total > self.max_bytes {
            return Err(DomainError::TooLarge {
                field: "csv".to_owned(),
                limit: self.max_bytes,
            });
        }
        self.job.file_bytes = total;
        match &mut self.reader {
            Some(reader) => reader.push(bytes),
            None => {
                self.start.extend_from_slice(bytes);
                if can_sniff(&self.start) {
                    self.open_reader();
                }
            }
        }
        self.read_records()?;
        self.stored.extend_from_slice(bytes);
        while self.stored.len() >= STORED_CHUNK {
            let rest = self.stored.split_off(STORED_CHUNK);
            let chunk = std::mem::replace(&mut self.stored, rest);
            self.store(&chunk).await?;
        }
        Ok(())
    }

    fn open_reader(&mut self) {
        let separator = self
            .job
            .options
            .separator
            .unwrap_or_else(|| sniff_separator(&self.start));
        self.job.options.separator = Some(separator);
        let mut reader = CsvReader::new(separator, self.job.options.encoding);
        reader.push(&std::mem::take(&mut self.start));
        self.reader = Some(reader);
    }

    async fn store(&mut self, chunk: &[u8]) -> Result<(), DomainError> {
        self.imports
            .put_chunk(self.job.tenant_id, self.job.id, self.seq, chunk)
            .await?;
        self.seq += 1;
        Ok(())
    }

    /// Reads the records the bytes so far complete: the header is placed,
    /// the rest counted.
    fn read_records(&mut self) -> Result<(), DomainError> {
        let Some(reader) = &mut self.reader else {
            return Ok(());
        };
        loop {
            let record = reader
                .next_record()
                .map_err(|error| DomainError::invalid("csv", error.to_string()))?;
            let Some(record) = record else {
                return Ok(());
            };
            if self.columns.is_some() {
                self.job.rows_total += 1;
                continue;
            }
            let mut header = Vec::with_capacity(record.len());
            for index in 0..record.len() {
                header.push(record.text(index).ok_or_else(|| {
                    DomainError::invalid(
                        "csv",
                        format!(
                            "header column {} is not valid {} (set options.encoding)",
                            index + 1,
                            self.job.options.encoding.as_str()
                        ),
                    )
                })?);
            }
            let columns = place_columns(header, &self.job.options, &self.definitions)?;
            self.job.header.clone_from(&columns.header);
            self.columns = Some(columns);
        }
    }

    /// Ends the file: stores its last bytes and queues the job.
    ///
    /// # Errors
    /// `InvalidArgument` on `csv` for an empty file or one that ends inside
    /// a record that cannot be read; `Unavailable`; `Internal`.
    pub async fn finish(mut self) -> Result<ImportJob, DomainError> {
        if self.reader.is_none() {
            self.open_reader();
        }
        if let Some(reader) = &mut self.reader {
            reader.end();
        }
        self.read_records()?;
        if self.columns.is_none() {
            return Err(DomainError::invalid(
                "csv",
                "the file is empty: it needs a header row naming its columns",
            ));
        }
        let last = std::mem::take(&mut self.stored);
        if !last.is_empty() {
            self.store(&last).await?;
        }
        self.job.state = ImportState::Queued;
        let queued = self.imports.submit(&self.job).await?;
        if let Some(bell) = &self.bell {
            bell.ring();
        }
        Ok(queued)
    }

    /// Gives the upload up: its job and bytes are deleted.
    pub async fn abandon(self) {
        // A failure here leaves the upload to the sweeper.
        let _ = self.imports.discard(self.job.tenant_id, self.job.id).await;
    }
}
