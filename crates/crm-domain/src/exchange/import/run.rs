//! Running a job: a worker claims it, reads its file back from storage and
//! applies it in batches. Each batch is planned against the contacts that
//! hold its addresses and written in one transaction together with the
//! job's counts, so a job is always exactly where its last committed batch
//! left it. A worker that dies leaves its lease to lapse; the next worker
//! re-reads the file up to that point (to know the addresses already seen,
//! for in-file duplicates) and goes on from there.
//!
//! Batches overlap: while one is written, the next is read from the file
//! and the contacts holding its addresses are read, so the database's
//! read and write work side by side. That is safe because rows of
//! different batches share no address (a row that shares one with an
//! earlier row is a duplicate): a holder read beside a write can only be
//! out of date in a contact the write changed, and the change planned from
//! it then fails its version check and the batch is planned again.

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
    /// The batch being gathered from the file.
    gathering: Gathered,
    /// The batch gathered before it, with its holders read, to be written.
    pending: Option<Ready>,
}

/// Rows read from the file for one batch.
#[derive(Default)]
struct Gathered {
    rows: Vec<ImportRow>,
    refused: Vec<RowError>,
    duplicates: u64,
}

impl Gathered {
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn len(&self) -> usize {
        self.rows.len()
            + self.refused.len()
            + usize::try_from(self.duplicates).unwrap_or(usize::MAX)
    }
}

/// A gathered batch and the contacts that held its addresses when read.
struct Ready {
    gathered: Gathered,
    holders: Vec<Contact>,
}

/// Runs two futures side by side and gives both outputs.
async fn both<A: std::future::Future, B: std::future::Future>(
    a: A,
    b: B,
) -> (A::Output, B::Output) {
    use std::task::Poll;
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    let mut first = None;
    let mut second = None;
    std::future::poll_fn(|context| {
        if first.is_none()
            && let Poll::Ready(output) = a.as_mut().poll(context)
        {
            first = Some(output);
        }
        if second.is_none()
            && let Poll::Ready(output) = b.as_mut().poll(context)
        {
            second = Some(output);
        }
        match (first.take(), second.take()) {
            (Some(one), Some(two)) => Poll::Ready((one, two)),
            (one, two) => {
                first = one;
                second = two;
                Poll::Pending
            }
        }
    })
    .await
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
            gathering: Gathered::default(),
            pending: None,
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
                            run.gathering.rows.push(row);
                        } else {
                            run.gathering.duplicates += 1;
                        }
                    }
                    Err(error) => run.gathering.refused.push(error),
                }
                if run.gathering.len() >= BATCH_ROWS && run.hand_over().await? == Ended::Lost {
                    return Ok(Ended::Lost);
                }
            }
            if chunk.is_none() {
                break;
            }
        }
        if run.hand_over().await? == Ended::Lost {
            return Ok(Ended::Lost);
        }
        run.write_pending().await
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

    /// Every contact holding an address of `rows`.
    async fn holders(&self, rows: &[ImportRow]) -> Result<Vec<Contact>, DomainError> {
        let keys: Vec<IdentityKey> = rows
            .iter()
            .flat_map(|row| row.identities.iter().map(|identity| identity.key()))
            .collect();
        let mut holders: Vec<Contact> = Vec::new();
        let mut seen = HashSet::new();
        for part in keys.chunks(MAX_KEYS_PER_READ) {
            for contact in self
                .service
                .ports
                .contacts
                .find_many_by_identities(self.tenant.id, part)
                .await?
            {
                if seen.insert(contact.id) {
                    holders.push(contact);
                }
            }
        }
        Ok(holders)
    }

    /// Looks up the organizations of the email domains of `rows` not yet
    /// known.
    async fn learn_organizations(&mut self, rows: &[ImportRow]) -> Result<(), DomainError> {
        for domain in domains_to_link(rows, &self.tenant) {
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

    /// Hands the gathered rows over: writes the batch before them while
    /// their holders are read, and keeps them to be written next.
    async fn hand_over(&mut self) -> Result<Ended, DomainError> {
        let next = std::mem::take(&mut self.gathering);
        if next.is_empty() {
            return Ok(Ended::Done);
        }
        self.learn_organizations(&next.rows).await?;
        let (written, holders) = match self.pending.take() {
            None => (Ok(Some(self.job.counts)), self.holders(&next.rows).await),
            Some(ready) => both(self.write(ready), self.holders(&next.rows)).await,
        };
        match written? {
            Some(counts) => self.job.counts = counts,
            None => return Ok(Ended::Lost),
        }
        self.pending = Some(Ready {
            gathered: next,
            holders: holders?,
        });
        Ok(Ended::Done)
    }

    /// Writes the last batch.
    async fn write_pending(&mut self) -> Result<Ended, DomainError> {
        let Some(ready) = self.pending.take() else {
            return Ok(Ended::Done);
        };
        match self.write(ready).await? {
            Some(counts) => {
                self.job.counts = counts;
                Ok(Ended::Done)
            }
            None => Ok(Ended::Lost),
        }
    }

    /// Plans a batch and applies it with the job's progress; plans it again
    /// (holders read anew) when it lost a race. Returns the job's counts
    /// after it, or `None` when the job is no longer this worker's.
    async fn write(&self, ready: Ready) -> Result<Option<ImportCounts>, DomainError> {
        let ports = &self.service.ports;
        let Ready {
            gathered,
            mut holders,
        } = ready;
        for attempt in 0..RACE_RETRIES {
            if attempt > 0 {
                holders = self.holders(&gathered.rows).await?;
            }
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
            let plan = plan_batch(&gathered.rows, std::mem::take(&mut holders), &context);
            let refused = gathered.refused.len() as u64;
            let read_here = ImportCounts {
                rows: refused + gathered.duplicates,
                invalid: refused,
                duplicates: gathered.duplicates,
                ..ImportCounts::default()
            };
            let counts = self.job.counts.plus(read_here).plus(plan.counts);
            let mut errors = gathered.refused.clone();
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
                BatchOutcome::Applied => return Ok(Some(counts)),
                BatchOutcome::Lost => return Ok(None),
                BatchOutcome::Raced => {}
            }
        }
        Err(DomainError::Contention(
            "the contacts an import batch writes",
        ))
    }
}
