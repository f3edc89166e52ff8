//! The hot path's reader: address look-ups that wait at the same moment
//! share one statement.
//!
//! ResolveSender's known-sender path is one look-up (the contacts holding
//! any of a sender's addresses). One statement per call caps the service
//! well below what the database can serve, since every statement costs a
//! round trip, a wake-up on each side and a plan execution, whatever its
//! size. Ingest sends bursts, so many look-ups are waiting at once: a
//! [`Lookups`] runs at most `concurrency` statements at a time, and a
//! look-up that arrives while they are all busy queues; the next free
//! statement takes the whole queue (up to [`MAX_BATCH`] look-ups, any
//! tenants) as one JSON parameter, joins it against the unique address
//! index, and hands each caller its own contacts by the request number on
//! each row.
//!
//! A lone look-up never waits for company: when a statement slot is free it
//! goes out at once, alone. Each batch runs in a task of its own holding
//! its slot, so a caller that gives up (a cancelled RPC) cannot strand the
//! others in its batch. On SQLite a batch is read in-line, on the task's
//! own thread (see `inline`), not through the pool's connection threads.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crm_domain::contacts::Contact;
use crm_domain::{DomainError, IdentityKey, TenantId};
use sea_orm::FromQueryResult;
use tokio::sync::oneshot;

use crate::coalesce::{self, Queue};
use crate::dialect::Backend;
use crate::inline::InlineRow;
use crate::pools::Pools;
use crate::rows::contacts::{self, ContactRow, TIER_JOIN, push_contact_columns};
use crate::sql::Sql;

/// Most look-ups one statement carries.
pub(crate) const MAX_BATCH: usize = 128;

type Answer = Result<Vec<Contact>, DomainError>;

/// One caller's look-up, waiting for a statement.
pub(crate) struct Waiting {
    tenant: TenantId,
    keys: Vec<IdentityKey>,
    reply: oneshot::Sender<Answer>,
}

/// Coalesces concurrent address look-ups (see the module documentation).
pub(crate) struct Lookups {
    queue: Queue<Waiting>,
    statements: AtomicU64,
}

impl std::fmt::Debug for Lookups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lookups")
            .field("free_slots", &self.queue.free_slots())
            .field("statements", &self.statements.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// One row of a batch: a contact row and the look-up it answers.
struct BatchRow {
    request: i64,
    contact: ContactRow,
}

impl FromQueryResult for BatchRow {
    fn from_query_result(row: &sea_orm::QueryResult, pre: &str) -> Result<Self, sea_orm::DbErr> {
        Ok(Self {
            request: row.try_get(pre, "request")?,
            contact: ContactRow::from_query_result(row, pre)?,
        })
    }
}

impl InlineRow for BatchRow {
    fn from_inline(row: &rusqlite::Row<'_>, first: usize) -> Result<Self, DomainError> {
        Ok(Self {
            request: crate::inline::column(row, first, "request")?,
            contact: ContactRow::from_inline(row, first + 1)?,
        })
    }
}

impl Lookups {
    /// A reader running at most `concurrency` statements at a time (at
    /// least one).
    pub(crate) fn new(concurrency: usize) -> Self {
        Self {
            queue: Queue::new(concurrency),
            statements: AtomicU64::new(0),
        }
    }

    /// How many statements it has sent.
    #[cfg(test)]
    pub(crate) fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Every contact of `tenant` holding any of `keys`, each once.
    pub(crate) async fn find(
        self: &Arc<Self>,
        pools: &Pools,
        tenant: TenantId,
        keys: &[IdentityKey],
    ) -> Answer {
        let mut found = self.find_each(pools, tenant, &[keys.to_vec()]).await?;
        Ok(found.pop().unwrap_or_default())
    }

    /// [`Lookups::find`] for several callers' key sets at once: they join
    /// the queue together, so they share a statement (up to
    /// [`MAX_BATCH`] look-ups each); one answer per set, in order.
    pub(crate) async fn find_each(
        self: &Arc<Self>,
        pools: &Pools,
        tenant: TenantId,
        key_sets: &[Vec<IdentityKey>],
    ) -> Result<Vec<Vec<Contact>>, DomainError> {
        let mut answers = Vec::with_capacity(key_sets.len());
        {
            let mut queue = self.queue.lock();
            for keys in key_sets {
                let (reply, answer) = oneshot::channel();
                if keys.is_empty() {
                    let _ = reply.send(Ok(Vec::new()));
                } else {
                    queue.push(Waiting {
                        tenant,
                        keys: keys.clone(),
                        reply,
                    });
                }
                answers.push(answer);
            }
        }
        self.start_batches(pools);
        let mut found = Vec::with_capacity(answers.len());
        for answer in answers {
            found.push(coalesce::answer(answer).await?);
        }
        Ok(found)
    }

    /// Sends what is queued while statement slots are free, each batch in a
    /// task of its own. A batch that ends frees its slot and starts the
    /// next, so a look-up queued while every slot was busy is always taken
    /// by the batch that frees one (it checks the queue after freeing).
    fn start_batches(self: &Arc<Self>, pools: &Pools) {
        while let Some((slot, batch)) = self.queue.take(MAX_BATCH) {
            let (this, pools) = (self.clone(), pools.clone());
            tokio::spawn(async move {
                this.statements.fetch_add(1, Ordering::Relaxed);
                let answers = run_batch(&pools, &batch).await;
                for (waiting, answer) in batch.into_iter().zip(answers) {
                    // The caller may have gone (a cancelled call): fine.
                    let _ = waiting.reply.send(answer);
                }
                drop(slot);
                this.start_batches(&pools);
            });
        }
    }
}

/// Runs one batch: one statement for all its look-ups, in-line on SQLite
/// when no lock holds it up; one answer per look-up, in order.
async fn run_batch(pools: &Pools, batch: &[Waiting]) -> Vec<Answer> {
    let read = pools
        .fetch_small(batch_sql(pools.backend, batch), |row: BatchRow| Ok(row))
        .await;
    match read {
        Ok(rows) => {
            let mut per_request: Vec<Vec<ContactRow>> = batch.iter().map(|_| Vec::new()).collect();
            for row in rows {
                if let Some(slot) = usize::try_from(row.request)
                    .ok()
                    .and_then(|index| per_request.get_mut(index))
                {
                    slot.push(row.contact);
                }
            }
            per_request.into_iter().map(contacts::fold).collect()
        }
        Err(error) => batch.iter().map(|_| Err(error.clone())).collect(),
    }
}

/// The batch statement: each key of each look-up as one element
/// `[request, tenant, kind, value]` of a JSON array bound as one parameter
/// (so no batch can exceed a backend's parameter or expression limits), each
/// joined to the unique address index, then to its contact by primary key.
pub(crate) fn batch_sql(backend: Backend, batch: &[Waiting]) -> Sql {
    let elements: Vec<serde_json::Value> = batch
        .iter()
        .enumerate()
        .flat_map(|(request, waiting)| {
            let tenant = waiting.tenant.as_uuid().simple().to_string();
            waiting
                .keys
                .iter()
                .map(move |key| serde_json::json!([request, tenant, key.kind.as_str(), key.value]))
        })
        .collect();
    let wanted = backend.json_elements();
    let mut sql = Sql::new("SELECT ");
    sql.push(&wanted.element(0, "bigint")).push(" AS request, ");
    push_contact_columns(&mut sql, backend);
    sql
        // CROSS JOIN with the join conditions in WHERE: SQLite keeps this
        // order (each wanted key, its address by the unique index, its
        // contact by primary key) whatever its statistics say; PostgreSQL
        // reorders freely.
        .push(" FROM ")
        .push(wanted.from)
        .bind(serde_json::Value::Array(elements).to_string())
        .push(wanted.close)
        .push(" CROSS JOIN contact_identities m CROSS JOIN contacts c")
        .push(TIER_JOIN)
        .push(" WHERE m.tenant_id = ")
        .push(&wanted.uuid(1))
        .push(" AND m.kind = ")
        .push(&wanted.element(2, "text"))
        .push(" AND m.value = ")
        .push(&wanted.element(3, "text"))
        .push(" AND c.tenant_id = m.tenant_id AND c.id = m.contact_id");
    sql
}

#[cfg(test)]
impl Waiting {
    /// A look-up for a test of the statement alone.
    pub(crate) fn for_tests(tenant: TenantId, keys: Vec<IdentityKey>) -> Self {
        Self {
            tenant,
            keys,
            reply: oneshot::channel().0,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use crm_domain::contacts::{ContactRepository, CreateOutcome};
    use crm_domain::testing::contract::fixtures;
    use crm_domain::{ContactId, IdentityKey, IdentityKind, TenantId};

    use super::Lookups;
    use crate::testing::{BOTH, TestDatabase};
    use crate::{Store, StoreOptions};

    fn email(address: &str) -> IdentityKey {
        IdentityKey {
            kind: IdentityKind::Email,
            value: address.into(),
        }
    }

    /// Look-ups queued while every statement slot is busy go out together
    /// in one statement, across tenants, and each caller gets exactly its
    /// own tenant's holders: the same address in three tenants is three
    /// contacts, a miss is empty, two keys of one contact give it once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_look_ups_share_one_statement_and_keep_their_tenants() {
        for backend in BOTH {
            let database = TestDatabase::create(backend).await;
            let store = Store::connect(&database.url, &StoreOptions::default())
                .await
                .unwrap();
            let repository = store.contacts();
            let mut people: Vec<(TenantId, ContactId)> = Vec::new();
            for _ in 0..3 {
                let tenant = crate::testing::tenant(&store).await;
                let contact = fixtures::contact(
                    &tenant,
                    vec![
                        fixtures::identity(IdentityKind::Email, "ana@x.com", true),
                        fixtures::identity(IdentityKind::Email, "ana@work.com", false),
                    ],
                );
                let CreateOutcome::Created(created) =
                    repository.create(&contact, None).await.unwrap()
                else {
                    panic!("a fresh contact");
                };
                people.push((tenant.id, created.id));
            }
            let lookups = Arc::new(Lookups::new(1));
            let pools = repository.pools.clone();
            let busy = lookups.queue.occupy();
            let mut calls = Vec::new();
            for (tenant, _) in &people {
                for keys in [
                    vec![email("ana@x.com")],
                    vec![email("ana@x.com"), email("ana@work.com")],
                    vec![email("nobody@x.com")],
                ] {
                    let (lookups, pools, tenant) = (lookups.clone(), pools.clone(), *tenant);
                    calls.push(tokio::spawn(async move {
                        lookups.find(&pools, tenant, &keys).await
                    }));
                }
            }
            // Every call is queued behind the busy slot before it frees.
            let mut turns = 0;
            while lookups.queue.lock().len() < calls.len() {
                turns += 1;
                assert!(turns < 100_000, "the calls never queued");
                tokio::task::yield_now().await;
            }
            drop(busy);
            lookups.start_batches(&pools);
            for (index, call) in calls.into_iter().enumerate() {
                let found: Vec<ContactId> = call
                    .await
                    .unwrap()
                    .unwrap()
                    .iter()
                    .map(|contact| contact.id)
                    .collect();
                let (_, expected) = people[index / 3];
                match index % 3 {
                    2 => assert!(found.is_empty(), "{backend:?}: a miss found {found:?}"),
                    _ => assert_eq!(found, [expected], "{backend:?}: call {index}"),
                }
            }
            assert_eq!(lookups.statements(), 1, "{backend:?}: one statement");
            // A lone look-up on an idle reader goes out at once, alone.
            let alone = lookups
                .find(&pools, people[0].0, &[email("ana@x.com")])
                .await;
            assert_eq!(alone.unwrap()[0].id, people[0].1);
            assert_eq!(lookups.statements(), 2);
            let _ = store.close().await;
            database.drop_database().await;
        }
    }

    /// The in-line reader decodes a contact exactly as the pool does, for
    /// every kind of column: ids, texts, flags, a tier, tags, addresses,
    /// custom values, engagement, and times both as the store writes them
    /// and as SQLite's `strftime` does.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_in_line_read_gives_the_contact_the_pool_gives() {
        use crm_domain::tiers::TierRepository;
        use sea_orm::{ConnectionTrait, Statement};

        let database = TestDatabase::create(crate::testing::TestBackend::Sqlite).await;
        let store = Store::connect(&database.url, &StoreOptions::default())
            .await
            .unwrap();
        let tenant = crate::testing::tenant(&store).await;
        let tier = store
            .tiers()
            .create(&fixtures::tier(&tenant, "Gold", &[]), 10)
            .await
            .unwrap();
        let mut contact = fixtures::contact(
            &tenant,
            vec![
                fixtures::identity(IdentityKind::Email, "ana@x.com", true),
                fixtures::identity(IdentityKind::Phone, "+5511987654321", false),
            ],
        );
        contact.fields.tier_id = Some(tier.id);
        contact.tags = vec!["vip".into(), "b2b".into()];
        let repository = store.contacts();
        let CreateOutcome::Created(created) = repository.create(&contact, None).await.unwrap()
        else {
            panic!("a fresh contact");
        };
        repository
            .pools
            .db
            .execute_raw(Statement::from_sql_and_values(
                sea_orm::DbBackend::Sqlite,
                "UPDATE contacts SET conversation_count = 3, message_count = 7, \
                 first_contact_time = strftime('%Y-%m-%d %H:%M:%f', 'now'), \
                 last_contact_time = '2026-12-07T18:30:09.09441Z', csat_sum = 9, \
                 csat_count = 2, channels_used = '[\"sms\",\"email\"]', \
                 custom_values = '{\"seats\":{\"t\":\"number\",\"v\":\"9.5\"}}' \
                 WHERE id = ?",
                [created.id.as_uuid().into()],
            ))
            .await
            .unwrap();
        let pools = repository.pools.clone();
        assert!(pools.inline.is_some(), "a SQLite file is read in-line");
        let pooled = crate::pools::Pools {
            inline: None,
            ..pools.clone()
        };
        let pooled_lookups = pooled.clone();
        let lookups = Arc::new(Lookups::new(1));
        let keys = [email("ana@x.com")];
        let read = lookups.find(&pools, tenant.id, &keys).await.unwrap();
        assert_eq!(
            read,
            lookups
                .find(&pooled_lookups, tenant.id, &keys)
                .await
                .unwrap()
        );
        let [read] = read.as_slice() else {
            panic!("one contact, read {read:?}");
        };
        assert_eq!(read.tier.as_ref().map(|badge| badge.id), Some(tier.id));
        assert_eq!(read.tags, ["b2b", "vip"]);
        assert_eq!(read.identities.len(), 2);
        assert_eq!(read.engagement.csat_count, 2);
        assert!(read.engagement.first_contact.is_some());
        assert_eq!(read.custom_fields.len(), 1);
        // An unfiltered page (a list's, an export's) reads the same too.
        let second = fixtures::contact(
            &tenant,
            vec![fixtures::identity(IdentityKind::Email, "bo@x.com", true)],
        );
        repository.create(&second, None).await.unwrap();
        let pooled = crate::SeaContactRepository { pools: pooled };
        let filter = crm_domain::contacts::ContactFilter::default();
        let page = repository.list(tenant.id, &filter, None, 10).await.unwrap();
        assert_eq!(
            page,
            pooled.list(tenant.id, &filter, None, 10).await.unwrap()
        );
        assert_eq!(page.len(), 2);
        assert_eq!(&page[0], read);
        let _ = store.close().await;
        database.drop_database().await;
    }
}
