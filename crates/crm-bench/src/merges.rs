//! The merge case: a duplicate with [`CONVERSATIONS`] conversations and
//! [`NOTES`] notes (written through the API by concurrent callers), merged
//! into a survivor. Times PreviewMergeContacts and MergeContacts as a caller
//! sees them and checks that everything moved.

use std::time::{Duration, Instant};

use crm_proto::v1 as pb;
use crm_proto::v1::contact_service_client::ContactServiceClient;
use crm_proto::v1::conversation_service_client::ConversationServiceClient;
use crm_proto::v1::merge_service_client::MergeServiceClient;
use crm_proto::v1::note_service_client::NoteServiceClient;
use tonic::transport::Channel;

use crate::files::request;

/// Conversations on the duplicate.
pub const CONVERSATIONS: usize = 10_000;
/// Notes on the duplicate.
pub const NOTES: usize = 1_000;
/// Callers writing the duplicate's history.
const WRITERS: usize = 16;

/// What the merge case measured.
#[derive(Debug)]
pub struct MergeTimes {
    /// How long writing the history took.
    pub seeding: Duration,
    /// PreviewMergeContacts.
    pub preview: Duration,
    /// MergeContacts.
    pub merge: Duration,
}

pub(crate) async fn contact(
    channel: Channel,
    key: &str,
    address: &str,
) -> Result<pb::Contact, String> {
    ContactServiceClient::new(channel)
        .create_contact(request(
            pb::CreateContactRequest {
                contact: Some(pb::Contact {
                    emails: vec![pb::EmailAddress {
                        address: address.into(),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            key,
        )?)
        .await
        .map(tonic::Response::into_inner)
        .map_err(|status| format!("create contact: {status:?}"))
}

/// Writes conversations `from..CONVERSATIONS` stepping by `step` and notes
/// likewise on `contact_id`.
async fn write_history(
    channel: Channel,
    key: String,
    contact_id: String,
    from: usize,
    step: usize,
    tag: String,
) -> Result<(), String> {
    let mut conversations = ConversationServiceClient::new(channel.clone());
    let mut notes = NoteServiceClient::new(channel);
    for n in (from..CONVERSATIONS).step_by(step) {
        conversations
            .record_conversation(request(
                pb::RecordConversationRequest {
                    subject: Some(pb::record_conversation_request::Subject::ContactId(
                        contact_id.clone(),
                    )),
                    conversation: Some(pb::Conversation {
                        channel: pb::Channel::Email as i32,
                        source: "merge-bench".into(),
                        source_conversation_id: format!("{tag}-{n}"),
                        started_at: Some(prost_types::Timestamp {
                            seconds: 1_790_000_000 + i64::try_from(n).unwrap_or(0),
                            nanos: 0,
                        }),
                        message_count: 5,
                        csat_score: i32::try_from(n % 5 + 1).unwrap_or(3),
                        ..Default::default()
                    }),
                },
                &key,
            )?)
            .await
            .map_err(|status| format!("record conversation: {status:?}"))?;
    }
    for n in (from..NOTES).step_by(step) {
        notes
            .create_note(request(
                pb::CreateNoteRequest {
                    note: Some(pb::Note {
                        owner: Some(pb::note::Owner::ContactId(contact_id.clone())),
                        author: "bench".into(),
                        body: format!("note {n}"),
                        ..Default::default()
                    }),
                },
                &key,
            )?)
            .await
            .map_err(|status| format!("create note: {status:?}"))?;
    }
    Ok(())
}

/// Builds the duplicate's history on the running server at `endpoint`,
/// then previews and merges it, checking the counts.
pub async fn drive(endpoint: &str, key: &str) -> Result<MergeTimes, String> {
    let channel = Channel::from_shared(endpoint.to_owned())
        .map_err(|error| error.to_string())?
        .tcp_nodelay(true)
        .connect()
        .await
        .map_err(|error| error.to_string())?;
    let tag = uuid::Uuid::now_v7().simple().to_string();
    let survivor = contact(channel.clone(), key, &format!("keep-{tag}@bench.example")).await?;
    let duplicate = contact(channel.clone(), key, &format!("dup-{tag}@bench.example")).await?;
    let started = Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|from| {
            tokio::spawn(write_history(
                channel.clone(),
                key.to_owned(),
                duplicate.id.clone(),
                from,
                WRITERS,
                tag.clone(),
            ))
        })
        .collect();
    for writer in writers {
        writer.await.map_err(|error| error.to_string())??;
    }
    let seeding = started.elapsed();

    let mut merges = MergeServiceClient::new(channel);
    let started = Instant::now();
    let preview = merges
        .preview_merge_contacts(request(
            pb::PreviewMergeContactsRequest {
                survivor_id: survivor.id.clone(),
                duplicate_ids: vec![duplicate.id.clone()],
            },
            key,
        )?)
        .await
        .map_err(|status| format!("preview: {status:?}"))?
        .into_inner();
    let preview_time = started.elapsed();
    let started = Instant::now();
    let merged = merges
        .merge_contacts(request(
            pb::MergeContactsRequest {
                survivor_id: survivor.id,
                duplicate_ids: vec![duplicate.id],
                preview_token: preview.preview_token,
                merged_by: "bench".into(),
                ..Default::default()
            },
            key,
        )?)
        .await
        .map_err(|status| format!("merge: {status:?}"))?
        .into_inner();
    let merge_time = started.elapsed();
    let moved = merged.merge.map(|record| record.moved).unwrap_or_default();
    let count = |kind: &str| moved.get(kind).copied().unwrap_or(0);
    let conversations = merged
        .contact
        .and_then(|contact| contact.engagement)
        .map_or(0, |engagement| engagement.conversation_count);
    if count("conversations") != CONVERSATIONS as i64
        || count("notes") != NOTES as i64
        || conversations != CONVERSATIONS as i64
    {
        return Err(format!(
            "the merge moved {moved:?} and the survivor counts {conversations} conversations"
        ));
    }
    Ok(MergeTimes {
        seeding,
        preview: preview_time,
        merge: merge_time,
    })
}
