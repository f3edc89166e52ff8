//! Checks of ConversationRepository: idempotent recording by source id, and the engagement figures it keeps on the contact.

use super::prelude::*;

pub async fn recording_is_idempotent_and_keeps_engagement_current(world: &dyn World) {
    let tenant = fixtures::tenant(world).await;
    let conversations = world.conversations();
    let contacts = world.contacts();
    let ana = created(
        contacts.as_ref(),
        &contact(
            &tenant,
            vec![identity(IdentityKind::Email, "ana@x.com", true)],
        ),
    )
    .await;
    let (first, created_now) = conversations
        .record(&conversation(
            &tenant,
            ana.id,
            "T-1",
            Channel::Email,
            0,
            Some(4),
        ))
        .await
        .unwrap();
    assert!(created_now);
    let (again, created_now) = conversations
        .record(&conversation(
            &tenant,
            ana.id,
            "T-1",
            Channel::Email,
            0,
            Some(2),
        ))
        .await
        .unwrap();
    assert!(!created_now);
    assert_eq!(
        (again.id, again.version, again.fields.csat),
        (first.id, 2, Some(2))
    );
    let (second, _) = conversations
        .record(&conversation(
            &tenant,
            ana.id,
            "T-2",
            Channel::Whatsapp,
            10,
            None,
        ))
        .await
        .unwrap();
    let engagement = contacts
        .get(tenant.id, ana.id)
        .await
        .unwrap()
        .unwrap()
        .engagement;
    assert_eq!(engagement.conversation_count, 2);
    assert_eq!(engagement.message_count, 8);
    assert_eq!((engagement.csat_sum, engagement.csat_count), (2, 1));
    assert_eq!(engagement.channels, [Channel::Email, Channel::Whatsapp]);
    assert_eq!(engagement.first_contact, Some(again.fields.started_at));
    assert_eq!(engagement.last_contact, Some(second.fields.started_at));
    assert_eq!(
        contacts
            .get(tenant.id, ana.id)
            .await
            .unwrap()
            .unwrap()
            .version,
        1,
        "figures do not move the etag"
    );

    let listed = conversations
        .list_for_contact(tenant.id, ana.id, ConversationFilter::default(), None, 1)
        .await
        .unwrap();
    assert_eq!(listed[0].id, second.id, "newest first");
    let rest = conversations
        .list_for_contact(
            tenant.id,
            ana.id,
            ConversationFilter::default(),
            Some(second.id),
            5,
        )
        .await
        .unwrap();
    assert_eq!(rest.iter().map(|c| c.id).collect::<Vec<_>>(), [first.id]);
    let email_only = ConversationFilter {
        channel: Some(Channel::Email),
        status: None,
    };
    assert_eq!(
        conversations
            .list_for_contact(tenant.id, ana.id, email_only, None, 5)
            .await
            .unwrap()
            .len(),
        1
    );

    conversations
        .delete(tenant.id, second.id, Some(1))
        .await
        .unwrap();
    let engagement = contacts
        .get(tenant.id, ana.id)
        .await
        .unwrap()
        .unwrap()
        .engagement;
    assert_eq!(
        (engagement.conversation_count, engagement.channels.len()),
        (1, 1)
    );
    let missing = conversations
        .record(&conversation(
            &tenant,
            ContactId::from_uuid(Uuid::now_v7()),
            "T-3",
            Channel::Sms,
            0,
            None,
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(missing, DomainError::NotFound { .. }),
        "{missing:?}"
    );
    let mut closed = again.clone();
    closed.fields.status = ConversationStatus::Closed;
    let closed = conversations.update(&closed, 2).await.unwrap();
    assert_eq!(closed.version, 3);
    assert!(matches!(
        conversations.update(&closed, 2).await,
        Err(DomainError::Stale { .. })
    ));
}

/// One write of the engagement property: on a conversation (by source id,
/// `0..SOURCES`) of a contact (`0..CONTACTS`), or a merge of two contacts.
#[derive(Debug, Clone)]
pub enum HistoryOp {
    /// Record (create, or re-record and possibly move) a conversation.
    Record {
        /// Whose.
        contact: usize,
        /// Which source id.
        source: usize,
        /// On which channel (an index into [`CHANNELS`]).
        channel: usize,
        /// Start, minutes after the fixture's now.
        minute: i64,
        /// Messages.
        messages: u32,
        /// Rating.
        csat: Option<u8>,
    },
    /// Change a recorded conversation's start, messages and rating.
    Update {
        /// Which source id.
        source: usize,
        /// New start.
        minute: i64,
        /// New message count.
        messages: u32,
        /// New rating.
        csat: Option<u8>,
    },
    /// Delete a recorded conversation.
    Delete {
        /// Which source id.
        source: usize,
    },
    /// Merge the second contact into the first.
    Merge {
        /// The survivor.
        survivor: usize,
        /// The duplicate.
        duplicate: usize,
    },
}

/// Contacts per case of the engagement property.
const CONTACTS: usize = 3;
/// Source ids per case of the engagement property.
const SOURCES: usize = 6;
/// Channels the engagement property draws from.
pub const CHANNELS: [Channel; 3] = [Channel::Email, Channel::Sms, Channel::Whatsapp];
/// Cases per run of the engagement property, on every backend.
pub const ENGAGEMENT_CASES: u32 = 12;

/// Random write sequences for the engagement property.
pub fn histories() -> impl proptest::strategy::Strategy<Value = Vec<HistoryOp>> {
    use proptest::prelude::*;
    let csat = proptest::option::of(1u8..=5);
    let op = prop_oneof![
        4 => (0..CONTACTS, 0..SOURCES, 0..CHANNELS.len(), 0i64..40, 0u32..20, csat.clone())
            .prop_map(|(contact, source, channel, minute, messages, csat)| HistoryOp::Record {
                contact, source, channel, minute, messages, csat,
            }),
        2 => (0..SOURCES, 0i64..40, 0u32..20, csat)
            .prop_map(|(source, minute, messages, csat)| HistoryOp::Update {
                source, minute, messages, csat,
            }),
        2 => (0..SOURCES).prop_map(|source| HistoryOp::Delete { source }),
        1 => (0..CONTACTS, 0..CONTACTS)
            .prop_map(|(survivor, duplicate)| HistoryOp::Merge { survivor, duplicate }),
    ];
    proptest::collection::vec(op, 1..30)
}

/// A property over random write sequences: after every record, re-record
/// (moving a conversation between contacts), update, delete and merge, each
/// contact's stored engagement figures equal a recount of its history from
/// scratch (`conversations::engagement_of`). The store keeps them by deltas,
/// so this is what proves the deltas exact.
///
/// # Errors
/// proptest's report of the smallest failing sequence.
pub fn engagement_always_equals_a_recount(
    world: &dyn World,
    block_on: &dyn Fn(super::merges::Case<'_>),
) -> Result<(), String> {
    use proptest::test_runner::{Config, TestRunner};
    let mut runner = TestRunner::new(Config {
        cases: ENGAGEMENT_CASES,
        max_shrink_iters: 64,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&histories(), |ops| {
            block_on(Box::pin(replay_and_recount(world, ops)));
            Ok(())
        })
        .map_err(|failure| failure.to_string())
}

async fn replay_and_recount(world: &dyn World, ops: Vec<HistoryOp>) {
    use crate::merge::MergeService;
    use crate::tenancy::Caller;
    let tenant = fixtures::tenant(world).await;
    let (contacts, conversations) = (world.contacts(), world.conversations());
    let merges = MergeService::new(
        contacts.clone(),
        world.merges(),
        world.duplicates(),
        Arc::new(SystemClock),
        Arc::new(UuidV7Ids),
    );
    let caller = Caller::tenant_key(tenant.clone());
    let mut people = Vec::with_capacity(CONTACTS);
    for index in 0..CONTACTS {
        let address = format!("p{index}@x.com");
        people.push(contact_with_email(world, &tenant, &address).await.id);
    }
    // A merged-away contact's writes go to its survivor from then on.
    let mut alias: Vec<usize> = (0..CONTACTS).collect();
    let mut stored: Vec<Option<Conversation>> = vec![None; SOURCES];
    for (step, op) in ops.iter().enumerate() {
        match *op {
            HistoryOp::Record {
                contact,
                source,
                channel,
                minute,
                messages,
                csat,
            } => {
                let mut draft = conversation(
                    &tenant,
                    people[alias[contact]],
                    &format!("S-{source}"),
                    CHANNELS[channel],
                    minute,
                    csat,
                );
                draft.fields.message_count = messages;
                let (kept, _) = conversations.record(&draft).await.unwrap();
                stored[source] = Some(kept);
            }
            HistoryOp::Update {
                source,
                minute,
                messages,
                csat,
            } => {
                let Some(current) = stored[source].clone() else {
                    continue;
                };
                // A merge may have moved it: read it back first.
                let Some(mut changed) = conversations.get(tenant.id, current.id).await.unwrap()
                else {
                    continue;
                };
                let version = changed.version;
                changed.fields.started_at = now() + time::Duration::minutes(minute);
                changed.fields.message_count = messages;
                changed.fields.csat = csat;
                stored[source] = Some(conversations.update(&changed, version).await.unwrap());
            }
            HistoryOp::Delete { source } => {
                if let Some(current) = stored[source].take() {
                    conversations
                        .delete(tenant.id, current.id, None)
                        .await
                        .unwrap();
                }
            }
            HistoryOp::Merge {
                survivor,
                duplicate,
            } => {
                let (survivor, duplicate) = (alias[survivor], alias[duplicate]);
                if survivor == duplicate {
                    continue;
                }
                let preview = merges
                    .preview(&caller, people[survivor], &[people[duplicate]])
                    .await
                    .unwrap();
                merges
                    .merge(
                        &caller,
                        people[survivor],
                        &[people[duplicate]],
                        &preview.versions(),
                        "property",
                    )
                    .await
                    .unwrap();
                for target in &mut alias {
                    if *target == duplicate {
                        *target = survivor;
                    }
                }
            }
        }
        for index in 0..CONTACTS {
            if alias[index] != index {
                continue;
            }
            let figures = contacts
                .get(tenant.id, people[index])
                .await
                .unwrap()
                .expect("a contact that was never merged away")
                .engagement;
            let mut history = Vec::new();
            let mut after = None;
            loop {
                let page = conversations
                    .list_for_contact(
                        tenant.id,
                        people[index],
                        ConversationFilter::default(),
                        after,
                        50,
                    )
                    .await
                    .unwrap();
                after = page.last().map(|last| last.id);
                let full = page.len() == 50;
                history.extend(page.into_iter().map(|c| c.fields));
                if !full {
                    break;
                }
            }
            assert_eq!(
                figures,
                crate::conversations::engagement_of(&history),
                "contact {index} after step {step} ({op:?})"
            );
        }
    }
}
