//! SQLite's new senders: creations that wait for the one writer at the same
//! moment share one write transaction.
//!
//! SQLite allows one writer, and each statement is a round trip to the
//! connection's thread, so a burst of new senders queued for the writer one
//! transaction each (BEGIN, the inserts, COMMIT). [`Creates`] runs one
//! transaction at a time; creations arriving meanwhile queue, and the next
//! transaction takes the queue (up to [`MAX_BATCH`]) as one batch of
//! statements: for each contact, an insert of the contact that happens only
//! when none of its addresses is held, then an insert of its addresses that
//! happens only when the contact was inserted. The statements run in turn
//! inside the transaction, so a contact also sees the addresses of those
//! before it in the batch: each is all or nothing, a raced one is simply not
//! inserted, and one transaction serves them all. Should the batch fail as
//! a whole, each creation is tried again alone, so one bad contact cannot
//! fail the others.
//!
//! A lone creation never waits for company, and each batch runs in a task
//! of its own, so a caller that gives up cannot strand the others.
//!
//! On a SQLite file the transaction runs on the store's in-line writer (see
//! `inline::InlineWriter`): one hand-off to a blocking thread for the whole
//! batch instead of three round trips to sqlx's connection thread. A batch
//! that meets a lock there (a checkpoint) goes through the sqlx writer.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crm_domain::contacts::{Contact, ResolvedCreate};
use crm_domain::{DomainError, IdentityKey};
use sea_orm::FromQueryResult;
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::coalesce::{self, Queue};
use crate::inline::{self, InlineError, InlineWriter};
use crate::pools::Pools;
use crate::rows::contact_identities;
use crate::sql::Sql;

/// Most creations one transaction carries: well inside SQLite's 32,766
/// parameters for contacts of a few addresses (a sender has at most four).
pub(crate) const MAX_BATCH: usize = 32;

type Answer = Result<ResolvedCreate, DomainError>;

struct Waiting {
    contact: Contact,
    reply: oneshot::Sender<Answer>,
}

/// Coalesces concurrent creations of resolved senders (see the module
/// documentation).
pub(crate) struct Creates {
    queue: Queue<Waiting>,
    transactions: AtomicU64,
}

impl std::fmt::Debug for Creates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Creates")
            .field("busy", &(self.queue.free_slots() == 0))
            .field("transactions", &self.transactions.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// An address row a batch wrote, by the contact it belongs to.
#[derive(FromQueryResult)]
struct Written {
    contact_id: Uuid,
}

impl Creates {
    pub(crate) fn new() -> Self {
        Self {
            queue: Queue::new(1),
            transactions: AtomicU64::new(0),
        }
    }

    /// How many batches it has run.
    #[cfg(test)]
    pub(crate) fn transactions(&self) -> u64 {
        self.transactions.load(Ordering::Relaxed)
    }

    /// Inserts `contact` with all its addresses, or nothing when any of
    /// them is held by now (`Raced`).
    pub(crate) async fn create(self: &Arc<Self>, pools: &Pools, contact: &Contact) -> Answer {
        let (reply, answer) = oneshot::channel();
        self.queue.lock().push(Waiting {
            contact: contact.clone(),
            reply,
        });
        self.start_batches(pools);
        coalesce::answer(answer).await
    }

    /// Sends what is queued while the writer's slot is free; a batch that
    /// ends frees it and starts the next (see `Lookups::start_batches`).
    fn start_batches(self: &Arc<Self>, pools: &Pools) {
        let Some((slot, batch)) = self.queue.take(MAX_BATCH) else {
            return;
        };
        let (this, pools) = (self.clone(), pools.clone());
        tokio::spawn(async move {
            this.transactions.fetch_add(1, Ordering::Relaxed);
            let contacts: Vec<&Contact> = batch.iter().map(|waiting| &waiting.contact).collect();
            let answers: Vec<Answer> = match run_batch(&pools, &contacts).await {
                Ok(created) => created.into_iter().map(Ok).collect(),
                Err(_) => {
                    let mut alone = Vec::with_capacity(contacts.len());
                    for contact in &contacts {
                        alone.push(
                            run_batch(&pools, std::slice::from_ref(contact))
                                .await
                                .and_then(|mut created| {
                                    created.pop().ok_or_else(|| {
                                        DomainError::Internal("an empty creation".to_owned())
                                    })
                                }),
                        );
                    }
                    alone
                }
            };
            for (waiting, answer) in batch.into_iter().zip(answers) {
                // The caller may have gone (a cancelled call): fine.
                let _ = waiting.reply.send(answer);
            }
            drop(slot);
            this.start_batches(&pools);
        });
    }
}

/// One transaction for `contacts`; one outcome each, in order: by the
/// in-line writer when there is one and no lock holds it up, else through
/// the sqlx writer.
async fn run_batch(
    pools: &Pools,
    contacts: &[&Contact],
) -> Result<Vec<ResolvedCreate>, DomainError> {
    let written = match &pools.inline_writer {
        Some(writer) => write_in_line(pools, writer, contacts).await?,
        None => None,
    };
    let written = match written {
        Some(written) => written,
        None => write_through_pool(pools, contacts).await?,
    };
    Ok(contacts
        .iter()
        .map(|contact| {
            let rows = written
                .iter()
                .filter(|id| **id == contact.id.as_uuid())
                .count();
            if rows == contact.identities.len() {
                ResolvedCreate::Created(Box::new(crate::rows::contacts::canonical(
                    (*contact).clone(),
                )))
            } else {
                ResolvedCreate::Raced
            }
        })
        .collect())
}

/// The batch's statements in one transaction through the sqlx writer: the
/// contact ids of the address rows written.
async fn write_through_pool(
    pools: &Pools,
    contacts: &[&Contact],
) -> Result<Vec<Uuid>, DomainError> {
    let mut sql = Sql::new("");
    for (index, contact) in contacts.iter().enumerate() {
        if index > 0 {
            sql.push("; ");
        }
        push_contact_insert(&mut sql, contact);
        if !contact.identities.is_empty() {
            sql.push("; ");
            push_identities_insert(&mut sql, contact);
        }
    }
    pools
        .writer
        .transaction(async |transaction| {
            sql.fetch(transaction, |row: Written| Ok(row.contact_id))
                .await
        })
        .await
}

/// The batch's statements in one transaction on the in-line writer, in the
/// writer's turn, on a blocking thread: the contact ids of the address rows
/// written, or `None` when a lock held the writer up (the caller writes
/// through the pool instead, whose waiting is bounded).
async fn write_in_line(
    pools: &Pools,
    writer: &std::sync::Arc<InlineWriter>,
    contacts: &[&Contact],
) -> Result<Option<Vec<Uuid>>, DomainError> {
    let backend = pools.backend.db_backend();
    let statements: Vec<(sea_orm::Statement, Option<sea_orm::Statement>)> = contacts
        .iter()
        .map(|contact| {
            let mut insert = Sql::new("");
            push_contact_insert(&mut insert, contact);
            let identities = (!contact.identities.is_empty()).then(|| {
                let mut sql = Sql::new("");
                push_identities_insert(&mut sql, contact);
                sql.build(backend)
            });
            (insert.build(backend), identities)
        })
        .collect();
    let turn = pools.writer.turn().await.map_err(crate::error::storage)?;
    let writer = writer.clone();
    let written = tokio::task::spawn_blocking(move || {
        let _turn = turn;
        writer.transaction(|connection| {
            let mut written = Vec::new();
            for (contact, identities) in &statements {
                inline::run(connection, contact, |_| Ok(()))?;
                if let Some(identities) = identities {
                    written.extend(inline::run(connection, identities, |row| {
                        inline::column::<Uuid>(row, 0, "contact_id")
                    })?);
                }
            }
            Ok(written)
        })
    })
    .await
    .map_err(|error| DomainError::Internal(format!("the in-line writer: {error}")))?;
    match written {
        Ok(written) => Ok(Some(written)),
        Err(InlineError::Busy) => Ok(None),
        Err(InlineError::Failed(error)) => Err(error),
    }
}

/// A creation's first statement: the contact, inserted only when none of
/// its addresses is held.
fn push_contact_insert(sql: &mut Sql, contact: &Contact) {
    crate::contacts::push_insert_contact_select(sql, contact);
    if contact.identities.is_empty() {
        return;
    }
    let keys: Vec<IdentityKey> = contact.identities.iter().map(|i| i.key()).collect();
    sql.push(" WHERE NOT EXISTS (SELECT 1 FROM contact_identities m WHERE m.tenant_id = ")
        .bind(contact.tenant_id.as_uuid())
        .push(" AND ")
        .key_values("m", &keys)
        .push(")");
}

/// A creation's second statement: its addresses, inserted only when the
/// contact was (so never some of them), each row returning the contact.
/// `contact` has addresses.
fn push_identities_insert(sql: &mut Sql, contact: &Contact) {
    contact_identities::push_insert_select(
        sql,
        contact.tenant_id,
        contact.id,
        &contact.identities,
        contact.create_time,
    );
    sql.push(" WHERE EXISTS (SELECT 1 FROM contacts c WHERE c.tenant_id = ")
        .bind(contact.tenant_id.as_uuid())
        .push(" AND c.id = ")
        .bind(contact.id.as_uuid())
        .push(") RETURNING contact_id");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use crm_domain::contacts::{ContactRepository, ResolvedCreate};
    use crm_domain::testing::contract::fixtures;
    use crm_domain::{IdentityKey, IdentityKind};

    use super::Creates;
    use crate::testing::{TestBackend, TestDatabase};
    use crate::{Store, StoreOptions};

    /// Creations queued while the writer is busy share one transaction, and
    /// each is all or nothing: the first of two claiming one address in the
    /// batch wins, the second and one whose address was already held are
    /// raced and leave nothing behind, and the others are created.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_creations_share_one_transaction_and_each_is_all_or_nothing() {
        let database = TestDatabase::create(TestBackend::Sqlite).await;
        let store = Store::connect(&database.url, &StoreOptions::default())
            .await
            .unwrap();
        let repository = store.contacts();
        let tenant = crate::testing::tenant(&store).await;
        let email = |address: &str| fixtures::identity(IdentityKind::Email, address, true);
        let held = fixtures::contact(&tenant, vec![email("held@x.com")]);
        assert!(matches!(
            repository.create_resolved(&held).await.unwrap(),
            ResolvedCreate::Created(_)
        ));
        let first = fixtures::contact(&tenant, vec![email("a@x.com")]);
        let other = fixtures::contact(&tenant, vec![email("b@x.com")]);
        let second = fixtures::contact(
            &tenant,
            vec![
                email("c@x.com"),
                fixtures::identity(IdentityKind::Email, "a@x.com", false),
            ],
        );
        let late = fixtures::contact(&tenant, vec![email("held@x.com"), email("d@x.com")]);

        let creates = Arc::new(Creates::new());
        let pools = repository.pools.clone();
        let busy = creates.queue.occupy();
        let mut calls = Vec::new();
        for contact in [&first, &other, &second, &late] {
            let (queue, pools, contact) = (creates.clone(), pools.clone(), contact.clone());
            calls.push(tokio::spawn(
                async move { queue.create(&pools, &contact).await },
            ));
            // Queued in this order: each joins before the next is sent.
            let mut turns = 0;
            while creates.queue.lock().len() < calls.len() {
                turns += 1;
                assert!(turns < 100_000, "the creation never queued");
                tokio::task::yield_now().await;
            }
        }
        drop(busy);
        creates.start_batches(&pools);
        let mut outcomes = Vec::new();
        for call in calls {
            outcomes.push(call.await.unwrap().unwrap());
        }
        assert!(matches!(&outcomes[0], ResolvedCreate::Created(c) if c.id == first.id));
        assert!(matches!(&outcomes[1], ResolvedCreate::Created(c) if c.id == other.id));
        assert_eq!(outcomes[2], ResolvedCreate::Raced);
        assert_eq!(outcomes[3], ResolvedCreate::Raced);
        assert_eq!(creates.transactions(), 1, "one transaction");

        // Nothing of the raced ones was written; the others read back whole.
        for raced in [&second, &late] {
            assert_eq!(repository.get(tenant.id, raced.id).await.unwrap(), None);
        }
        for free in ["c@x.com", "d@x.com"] {
            let key = IdentityKey {
                kind: IdentityKind::Email,
                value: free.into(),
            };
            assert!(
                repository
                    .find_by_identities(tenant.id, &[key])
                    .await
                    .unwrap()
                    .is_empty()
            );
        }
        let read = repository.get(tenant.id, first.id).await.unwrap().unwrap();
        assert_eq!(read.identities, first.identities);
        let _ = store.close().await;
        database.drop_database().await;
    }

    /// The in-line writer gives a batch that another process's write lock
    /// holds up to the pool, which waits for the lock and writes it: the
    /// sender is created once the lock is let go, nothing is lost.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_held_up_in_line_is_written_through_the_pool() {
        let database = TestDatabase::create(TestBackend::Sqlite).await;
        let store = Store::connect(&database.url, &StoreOptions::default())
            .await
            .unwrap();
        let repository = store.contacts();
        let tenant = crate::testing::tenant(&store).await;
        let pools = repository.pools.clone();
        let writer = pools.inline_writer.clone().expect("a SQLite file has one");
        let other = rusqlite::Connection::open(crate::dialect::sqlite_path(&database.url)).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();

        let contact = fixtures::contact(
            &tenant,
            vec![fixtures::identity(IdentityKind::Email, "late@x.com", true)],
        );
        let creates = Arc::new(Creates::new());
        let call = {
            let (creates, pools, contact) = (creates.clone(), pools.clone(), contact.clone());
            tokio::spawn(async move { creates.create(&pools, &contact).await })
        };
        let mut turns = 0_u64;
        while writer.busy() == 0 {
            turns += 1;
            assert!(turns < 100_000_000, "the in-line writer never met the lock");
            tokio::task::yield_now().await;
        }
        other.execute_batch("ROLLBACK").unwrap();
        let created = call.await.unwrap().unwrap();
        assert!(matches!(&created, ResolvedCreate::Created(c) if c.id == contact.id));
        let read = repository
            .get(tenant.id, contact.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read.identities, contact.identities);
        drop(other);
        let _ = store.close().await;
        database.drop_database().await;
    }
}
