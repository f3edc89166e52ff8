//! The history case: RecordConversation as a helpdesk would call it, with
//! the contact given by the sender's email (resolved as ResolveSender does)
//! and a new source id each call, so every call inserts a conversation and
//! moves the contact's engagement figures.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crm_proto::v1 as pb;
use crm_proto::v1::conversation_service_client::ConversationServiceClient;
use tonic::transport::Channel;

use crate::load::{self, Call, Measurement, Run, Sender};

/// Drives RecordConversation at `run.callers` callers over the seeded contacts.
pub async fn drive(endpoint: &str, key: &str, run: &Run) -> Result<Measurement, String> {
    let authorization: tonic::metadata::MetadataValue<_> = format!("Bearer {key}")
        .parse()
        .map_err(|_| "bad key".to_owned())?;
    let sequence = Arc::new(AtomicU64::new(0));
    let run_tag = uuid::Uuid::now_v7().simple().to_string();
    load::drive(run, |_| {
        let endpoint = endpoint.to_owned();
        let (authorization, sequence, run_tag) =
            (authorization.clone(), sequence.clone(), run_tag.clone());
        async move {
            let channel = Channel::from_shared(endpoint)
                .map_err(|error| error.to_string())?
                .tcp_nodelay(true)
                .connect()
                .await
                .map_err(|error| error.to_string())?;
            let client = ConversationServiceClient::new(channel);
            Ok(move |sender: Sender| {
                let mut client = client.clone();
                let n = sequence.fetch_add(1, Ordering::Relaxed);
                let (_, address) = sender.key();
                let channel = match sender {
                    Sender::KnownPhone(_) => pb::Channel::Whatsapp,
                    Sender::NewWebchat(_) => pb::Channel::Webchat,
                    Sender::KnownEmail(_) | Sender::NewEmail(_) => pb::Channel::Email,
                };
                let mut request = tonic::Request::new(pb::RecordConversationRequest {
                    subject: Some(pb::record_conversation_request::Subject::Sender(
                        pb::ConversationSender {
                            channel: channel as i32,
                            address,
                            display_name: String::new(),
                        },
                    )),
                    conversation: Some(pb::Conversation {
                        channel: channel as i32,
                        source: "bench".into(),
                        source_conversation_id: format!("{run_tag}-{n}"),
                        started_at: Some(prost_types::Timestamp {
                            seconds: 1_790_000_000 + i64::try_from(n).unwrap_or(0),
                            nanos: 0,
                        }),
                        message_count: 5,
                        csat_score: i32::try_from(n % 6).unwrap_or(0),
                        ..Default::default()
                    }),
                });
                request
                    .metadata_mut()
                    .insert("authorization", authorization.clone());
                Box::pin(async move {
                    client
                        .record_conversation(request)
                        .await
                        .map(|_| ())
                        .map_err(|status| format!("{:?}: {}", status.code(), status.message()))
                }) as Call
            })
        }
    })
    .await
}
