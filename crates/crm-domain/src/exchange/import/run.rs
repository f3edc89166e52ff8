//! Running a job: a worker claims it, reads its file back from storage and
//! applies it in batches. Each batch is planned against the contacts that
//! hold its addresses and written in one transaction together with the
//! job's counts, so a job is always exactly where its last committed batch
//! left it. A worker that dies leaves its lease to lapse; the next worker
//! re-reads the file up to that point (to know the addresses already seen,
//! for in-file duplicates) and goes on from there.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use uuid::Uuid;

use crate::contacts::{Contact, MAX_KEYS_PER_READ};
use crate::exchange::import::{
    BatchOutcome, CsvReader, ImportBatch, ImportColumns, ImportCounts, ImportJob, ImportRow,
    ImportService, ImportState, PlanContext, RowContext, RowError, domains_to_link, place_columns,
    plan_batch, read_row,
};
use crate::fields::FieldDefinition;
use crate::identity::IdentityKey;
use crate::kernel::{DomainError, OrganizationId};
use crate::tenancy::Tenant;
use crate::tiers::Tier;

/// Rows one batch applies.
pub const BATCH_ROWS: usize = 1000;

/// Times a batch is planned again after losing a race before the job
/// fails.
const RACE_RETRIES: usize = 8;

/// Most email domains a job remembers the organization of.
const MAX_REMEMBERED_DOMAINS: usize = 100_000;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// Every row was applied.
    Done,
    /// The job stopped being this worker's (cancelled, or taken over).
    Lost,
}

/// An address as the in-file duplicate check keeps it: 128 bits of two
/// independent hashes, so a file of millions of addresses costs 16 bytes
/// each and a false match is beyond reach.
fn fingerprint(key: &IdentityKey) -> u128 {
    let half = |seed: u64| {
        let mut hasher = std::hash::DefaultHasher::new();
        seed.hash(&mut hasher);
        key.hash(&mut hasher);
        hasher.finish()
    };
    (u128::from(half(0x9E37_79B9_7F4A_7C15)) << 64) | u128::from(half(0xC2B2_AE3D_27D4_EB4F))
}

/// What a running job holds while it reads its file.
struct Run<'a> {
    service: &'a ImportService,
    worker: Uuid,
    job: ImportJob,
    tenant: Tenant,
    columns: ImportColumns,
    definitions: Vec<FieldDefinition>,
    tiers: Vec<Tier>,
    /// Fingerprints of the addresses of every row taken so far.
    seen: HashSet<u128>,
    organizations: HashMap<String, Option<OrganizationId>>,
    /// The batch being gathered.
    rows: Vec<ImportRow>,
    refused: Vec<RowError>,
    duplicates: u64,
}

impl ImportService {
    /// Claims the next job that may run and runs it to its end. Returns the
    /// job as it ended, or `None` when no job waits.
    ///
    /// # Errors
    /// `Unavailable` when storage went away mid-job (the job resumes once
    /// its lease lapses); `Internal`.
    pub async fn run_next(&self, worker: Uuid) -> Result<Option<ImportJob>, DomainError> {
        let now = self.ports.clock.now();
        let Some(job) = self
            .ports
            .imports
            .claim(worker, now, now + self.lease)
            .await?
        else {
            return Ok(None);
        };
        let (tenant, id) = (job.tenant_id, job.id);
        let ended = self.run(job, worker).await;
        let now = self.ports.clock.now();
        match ended {
            Ok(Ended::Done) => {
                self.ports
                    .imports
                    .finish(tenant, id, worker, ImportState::Succeeded, "", now)
                    .await?;
            }
            Ok(Ended::Lost) => {}
            Err(DomainError::Unavailable) => return Err(DomainError::Unavailable),
            Err(error) => {
                self.ports
                    .imports
                    .finish(
                        tenant,
                        id,
                        worker,
                        ImportState::Failed,
                        &error.to_string(),
                        now,
                    )
                    .await?;
            }
        }
        self.ports.imports.get(tenant, id).await
    }

    async fn run(&self, job: ImportJob, worker: Uuid) -> Result<Ended, DomainError> {
        let tenant = self
            .ports
            .tenants
            .get(job.tenant_id)
            .await?
            .ok_or_else(|| DomainError::Internal("the job's tenant is gone".to_owned()))?;
        let definitions = self.definitions(tenant.id).await?;
        let tiers = self.ports.tiers.list(tenant.id).await?;
        let columns =
            place_columns(job.header.clone(), &job.options, &definitions).map_err(|error| {
                DomainError::Internal(format!("the file's columns no longer fit: {error}"))
            })?;
        let separator = job.options.separator.unwrap_or(b',');
        let mut reader = CsvReader::new(separator, job.options.encoding);
        let mut run = Run {
            service: self,
            worker,
            job,
            tenant,
            columns,
            definitions,
            tiers,
            seen: HashSet::new(),
            organizations: HashMap::new(),
            rows: Vec::new(),
            refused: Vec::new(),
            duplicates: 0,
        };
        // Rows settled by an earlier run are read again only to know
        // their addresses.
        let settled = run.job.counts.rows;
        let mut read = 0u64;
        let mut header = true;
        let mut seq = 0;
        loop {
            let chunk = self
                .ports
                .imports
                .chunk(run.job.tenant_id, run.job.id, seq)
                .await?;
            match &chunk {
                Some(bytes) => reader.push(bytes),
                None => reader.end(),
            }
            seq += 1;
            while let Some(record) = reader
                .next_record()
                .map_err(|error| DomainError::Internal(error.to_string()))?
            {
                if std::mem::take(&mut header) {
                    continue;
                }
                read += 1;
                let row = read_row(&record, run.row_context());
                if read <= settled {
                    if let Ok(row) = row {
                        run.take(&row);
                    }
                    continue;
                }
                match row {
                    Ok(row) => {
                        if run.take(&row) {
                            run.rows.push(row);
                        } else {
                            run.duplicates += 1;
                        }
                    }
                    Err(error) => run.refused.push(error),
                }
                if run.gathered() >= BATCH_ROWS && run.flush().await? == Ended::Lost {
                    return Ok(Ended::Lost);
                }
            }
            if chunk.is_none() {
                break;
            }
        }
        run.flush().await
    }
}

impl Run<'_> {
    fn row_context(&self) -> RowContext<'_> {
        RowContext {
            columns: &self.columns,
            definitions: &self.definitions,
            tiers: &self.tiers,
            region: self.tenant.default_region,
            default_tags: &self.job.options.default_tags,
        }
    }

    /// Notes a row's addresses; `false` when it shares one with a row
    /// taken before (an in-file duplicate).
    fn take(&mut self, row: &ImportRow) -> bool {
        let prints: Vec<u128> = row
            .identities
            .iter()
            .map(|identity| fingerprint(&identity.key()))
            .collect();
        if prints.iter().any(|print| self.seen.contains(print)) {
            return false;
        }
        self.seen.extend(prints);
        true
    }

    fn gathered(&self) -> usize {
        self.rows.len()
            + self.refused.len()
            + usize::try_from(self.duplicates).unwrap_or(usize::MAX)
    }

    /// Every contact holding an address of the gathered rows.
    async fn holders(&self) -> Result<Vec<Contact>, DomainError> {
        let keys: Vec<IdentityKey> = self
            .rows
            .iter()
            .flat_map(|row| row.identities.iter().map(|identity| identity.key()))
            .collect();
        let mut holders: Vec<Contact> = Vec::new();
        for part in keys.chunks(MAX_KEYS_PER_READ) {
            for contact in self
                .service
                .ports
                .contacts
                .find_many_by_identities(self.tenant.id, part)
                .await?
            {
                if !holders.iter().any(|held| held.id == contact.id) {
                    holders.push(contact);
                }
            }
        }
        Ok(holders)
    }

    /// Looks up the organizations of the email domains of the gathered
    /// rows not yet known.
    async fn learn_organizations(&mut self) -> Result<(), DomainError> {
        for domain in domains_to_link(&self.rows, &self.tenant) {
            if self.organizations.contains_key(&domain) {
                continue;
            }
            if self.organizations.len() >= MAX_REMEMBERED_DOMAINS {
                self.organizations.clear();
            }
            let found = self
                .service
                .ports
                .organizations
                .find_by_domains(self.tenant.id, std::slice::from_ref(&domain))
                .await?;
            self.organizations.insert(domain, found);
        }
        Ok(())
    }

    /// Plans and applies the gathered rows with the job's progress.
    async fn flush(&mut self) -> Result<Ended, DomainError> {
        if self.gathered() == 0 {
            return Ok(Ended::Done);
        }
        self.learn_organizations().await?;
        let ports = &self.service.ports;
        for _ in 0..RACE_RETRIES {
            let holders = self.holders().await?;
            let now = ports.clock.now();
            let context = PlanContext {
                tenant: &self.tenant,
                options: &self.job.options,
                columns: &self.columns,
                tiers: &self.tiers,
                definitions: &self.definitions,
                organizations: &self.organizations,
                now,
                ids: ports.ids.as_ref(),
            };
            let plan = plan_batch(self.rows.clone(), holders, &context);
            let read_here = ImportCounts {
                rows: self.refused.len() as u64 + self.duplicates,
                invalid: self.refused.len() as u64,
                duplicates: self.duplicates,
                ..ImportCounts::default()
            };
            let counts = self.job.counts.plus(read_here).plus(plan.counts);
            let mut errors = self.refused.clone();
            errors.extend(plan.errors);
            errors.sort_by_key(|error| error.line);
            let batch = ImportBatch {
                tenant_id: self.tenant.id,
                job_id: self.job.id,
                worker: self.worker,
                rows_before: self.job.counts.rows,
                counts,
                creates: plan.creates,
                changes: plan.changes,
                errors,
                lease_until: now + self.service.lease,
                now,
            };
            match ports.imports.apply(&batch).await? {
                BatchOutcome::Applied => {
                    self.job.counts = counts;
                    self.rows.clear();
                    self.refused.clear();
                    self.duplicates = 0;
                    return Ok(Ended::Done);
                }
                BatchOutcome::Lost => return Ok(Ended::Lost),
                BatchOutcome::Raced => {}
            }
        }
        Err(DomainError::Contention(
            "the contacts an import batch writes",
        ))
    }
}
