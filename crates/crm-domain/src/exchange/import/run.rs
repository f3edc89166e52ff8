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
//! read and write work side by side; where the database writes
//! transactions in parallel (PostgreSQL), the next batch's write starts
//! too, and each batch settles (moves the job's progress and commits) only
//! after the one before it ended, so progress still moves in file order.
//! That is safe because rows of different batches share no address (a row
//! that shares one with an earlier row is a duplicate): a holder read
//! beside a write can only be out of date in a contact the write changed,
//! and the change planned from it then fails its version check and the
//! batch is planned again. A batch whose holders a batch being written may
//! change waits for it to end before it starts, so two writes never wait
//! on each other's rows.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::task::{Context, Poll};

use uuid::Uuid;

use crate::contacts::{Contact, MAX_KEYS_PER_READ};
use crate::exchange::import::{
    BatchOutcome, CsvReader, ImportBatch, ImportColumns, ImportCounts, ImportJob, ImportRow,
    ImportService, ImportState, PlanContext, RowContext, RowError, Turn, domains_to_link,
    place_columns, plan_batch, read_row,
};
use crate::fields::FieldDefinition;
use crate::identity::IdentityKey;
use crate::kernel::{ContactId, DomainError, OrganizationId};
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

/// What a run reads with, fixed for the run.
struct Job<'a> {
    service: &'a ImportService,
    worker: Uuid,
    job: ImportJob,
    tenant: Tenant,
    columns: ImportColumns,
    definitions: Vec<FieldDefinition>,
    tiers: Vec<Tier>,
    /// Batches written side by side at most.
    at_once: usize,
}

/// What a run changes as it reads its file.
struct Reading<'a> {
    /// Fingerprints of the addresses of every row taken so far.
    seen: HashSet<u128>,
    organizations: HashMap<String, Option<OrganizationId>>,
    /// The batch being gathered from the file.
    gathering: Gathered,
    /// The batch gathered before it, with its holders read, to be written.
    pending: Option<Ready>,
    /// Batches being written, oldest first.
    writes: VecDeque<Writing<'a>>,
    /// Rows of every batch handed to a write, settled or not.
    rows_handed: u64,
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

/// A gathered batch, the contacts that held its addresses when read, and
/// the organizations its email domains link to.
struct Ready {
    gathered: Gathered,
    holders: Vec<Contact>,
    organizations: HashMap<String, Option<OrganizationId>>,
}

/// What writing a batch ended in: `true` when it settled, `false` when the
/// job is no longer this worker's (the store keeps the job's counts).
type Written = Result<bool, DomainError>;

/// A batch being written.
struct Writing<'a> {
    future: Option<Pin<Box<dyn Future<Output = Written> + Send + 'a>>>,
    /// Its end, once it ended.
    ended: Option<Written>,
    /// The contacts it may change (a later batch that may change one of
    /// them waits for it, so two writes never wait on each other's rows).
    contacts: HashSet<ContactId>,
    /// The turn of the batch after it.
    next: Turn,
}

impl Writing<'_> {
    fn poll(&mut self, context: &mut Context<'_>) {
        if let Some(future) = self.future.as_mut()
            && let Poll::Ready(written) = future.as_mut().poll(context)
        {
            self.ended = Some(written);
            self.future = None;
        }
    }
}

/// Runs `work` while the batches being written go on.
async fn alongside<T>(writes: &mut VecDeque<Writing<'_>>, work: impl Future<Output = T>) -> T {
    let mut work = std::pin::pin!(work);
    std::future::poll_fn(|context| {
        for write in writes.iter_mut() {
            write.poll(context);
        }
        work.as_mut().poll(context)
    })
    .await
}

/// Waits for the oldest batch being written to end and gives its end;
/// `None` when none is being written.
async fn oldest(writes: &mut VecDeque<Writing<'_>>) -> Option<Written> {
    std::future::poll_fn(|context| {
        for write in writes.iter_mut() {
            write.poll(context);
        }
        let Some(front) = writes.front_mut() else {
            return Poll::Ready(None);
        };
        match front.ended.take() {
            Some(written) => {
                writes.pop_front();
                Poll::Ready(Some(written))
            }
            None => Poll::Pending,
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
        // Rows settled by an earlier run are read again only to know
        // their addresses.
        let settled = job.counts.rows;
        let job = Job {
            service: self,
            worker,
            tenant,
            columns,
            definitions,
            tiers,
            at_once: self.ports.imports.batches_at_once().max(1),
            job,
        };
        let mut reading = Reading {
            seen: HashSet::new(),
            organizations: HashMap::new(),
            gathering: Gathered::default(),
            pending: None,
            writes: VecDeque::new(),
            rows_handed: settled,
        };
        let mut read = 0u64;
        let mut header = true;
        let mut seq = 0;
        loop {
            let chunk = alongside(
                &mut reading.writes,
                self.ports.imports.chunk(job.job.tenant_id, job.job.id, seq),
            )
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
                let row = read_row(&record, job.row_context());
                if read <= settled {
                    if let Ok(row) = row {
                        reading.take(&row);
                    }
                    continue;
                }
                match row {
                    Ok(row) => {
                        if reading.take(&row) {
                            reading.gathering.rows.push(row);
                        } else {
                            reading.gathering.duplicates += 1;
                        }
                    }
                    Err(error) => reading.gathering.refused.push(error),
                }
                if reading.gathering.len() >= BATCH_ROWS
                    && hand_over(&job, &mut reading).await? == Ended::Lost
                {
                    return Ok(Ended::Lost);
                }
            }
            if chunk.is_none() {
                break;
            }
        }
        if hand_over(&job, &mut reading).await? == Ended::Lost {
            return Ok(Ended::Lost);
        }
        if let Some(ready) = reading.pending.take()
            && start(&job, &mut reading, ready).await? == Ended::Lost
        {
            return Ok(Ended::Lost);
        }
        while !reading.writes.is_empty() {
            if reading.settle_oldest().await? == Ended::Lost {
                return Ok(Ended::Lost);
            }
        }
        Ok(Ended::Done)
    }
}

/// Hands the gathered rows over: starts writing the batch before them,
/// reads their holders while the writes go on, and keeps them to be
/// written next.
async fn hand_over<'a>(job: &'a Job<'a>, reading: &mut Reading<'a>) -> Result<Ended, DomainError> {
    let next = std::mem::take(&mut reading.gathering);
    if next.is_empty() {
        return Ok(Ended::Done);
    }
    if let Some(ready) = reading.pending.take()
        && start(job, reading, ready).await? == Ended::Lost
    {
        return Ok(Ended::Lost);
    }
    let organizations = alongside(
        &mut reading.writes,
        job.organizations_for(&mut reading.organizations, &next.rows),
    )
    .await?;
    let holders = alongside(&mut reading.writes, job.holders(&next.rows)).await?;
    reading.pending = Some(Ready {
        gathered: next,
        holders,
        organizations,
    });
    Ok(Ended::Done)
}

/// Starts writing a batch once there is room for it and no batch being
/// written may change a contact it may change; its turn to settle comes
/// when the batch before it ends.
async fn start<'a>(
    job: &'a Job<'a>,
    reading: &mut Reading<'a>,
    ready: Ready,
) -> Result<Ended, DomainError> {
    let contacts: HashSet<ContactId> = ready.holders.iter().map(|holder| holder.id).collect();
    while reading.writes.len() >= job.at_once
        || reading
            .writes
            .iter()
            .any(|write| !write.contacts.is_disjoint(&contacts))
    {
        if reading.settle_oldest().await? == Ended::Lost {
            return Ok(Ended::Lost);
        }
    }
    let rows_before = reading.rows_handed;
    reading.rows_handed += ready.gathered.len() as u64;
    let turn = reading
        .writes
        .back()
        .map_or_else(Turn::now, |write| write.next.clone());
    let (giver, next) = Turn::after();
    let future = Box::pin(async move {
        let written = job.write(ready, rows_before, &turn).await;
        giver.give();
        written
    });
    reading.writes.push_back(Writing {
        future: Some(future),
        ended: None,
        contacts,
        next,
    });
    Ok(Ended::Done)
}

impl Reading<'_> {
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

    /// Waits for the oldest batch being written to end.
    async fn settle_oldest(&mut self) -> Result<Ended, DomainError> {
        match oldest(&mut self.writes).await {
            None => Ok(Ended::Done),
            Some(Ok(true)) => Ok(Ended::Done),
            Some(Ok(false)) => Ok(Ended::Lost),
            Some(Err(error)) => Err(error),
        }
    }
}

impl Job<'_> {
    fn row_context(&self) -> RowContext<'_> {
        RowContext {
            columns: &self.columns,
            definitions: &self.definitions,
            tiers: &self.tiers,
            region: self.tenant.default_region,
            default_tags: &self.job.options.default_tags,
        }
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

    /// The organizations the email domains of `rows` link to, looked up
    /// when not in `known` (which remembers them for later batches).
    async fn organizations_for(
        &self,
        known: &mut HashMap<String, Option<OrganizationId>>,
        rows: &[ImportRow],
    ) -> Result<HashMap<String, Option<OrganizationId>>, DomainError> {
        let mut linked = HashMap::new();
        for domain in domains_to_link(rows, &self.tenant) {
            let found = match known.get(&domain) {
                Some(found) => *found,
                None => {
                    if known.len() >= MAX_REMEMBERED_DOMAINS {
                        known.clear();
                    }
                    let found = self
                        .service
                        .ports
                        .organizations
                        .find_by_domains(self.tenant.id, std::slice::from_ref(&domain))
                        .await?;
                    known.insert(domain.clone(), found);
                    found
                }
            };
            linked.insert(domain, found);
        }
        Ok(linked)
    }

    /// Plans a batch and applies it with the job's progress, in its turn;
    /// after a lost race it waits for its turn and plans again (holders
    /// read anew). Returns whether it settled: `false` when the job is no
    /// longer this worker's.
    async fn write(&self, ready: Ready, rows_before: u64, turn: &Turn) -> Written {
        let ports = &self.service.ports;
        let Ready {
            gathered,
            mut holders,
            organizations,
        } = ready;
        for attempt in 0..RACE_RETRIES {
            if attempt > 0 {
                turn.wait().await;
                holders = self.holders(&gathered.rows).await?;
            }
            let now = ports.clock.now();
            let context = PlanContext {
                tenant: &self.tenant,
                options: &self.job.options,
                columns: &self.columns,
                tiers: &self.tiers,
                definitions: &self.definitions,
                organizations: &organizations,
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
            let counts = read_here.plus(plan.counts);
            let mut errors = gathered.refused.clone();
            errors.extend(plan.errors);
            errors.sort_by_key(|error| error.line);
            let batch = ImportBatch {
                tenant_id: self.tenant.id,
                job_id: self.job.id,
                worker: self.worker,
                rows_before,
                counts,
                creates: plan.creates,
                changes: plan.changes,
                errors,
                lease_until: now + self.service.lease,
                now,
            };
            match ports.imports.apply(&batch, turn).await? {
                BatchOutcome::Applied => return Ok(true),
                BatchOutcome::Lost => return Ok(false),
                BatchOutcome::Raced => {}
            }
        }
        Err(DomainError::Contention(
            "the contacts an import batch writes",
        ))
    }
}
