//! ConversationService end to end: recording by contact id or by sender
//! (created as ResolveSender would), idempotent re-recording, history
//! across channels newest first, filters and paging, and the contact's
//! engagement figures after create, update and delete.

use crm_proto::v1 as pb;

use crate::fixtures::{assert_code, assert_invalid, contact_with_email, mask};
use crate::harness::{TestServer, on_both, with_key};

fn at(seconds: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: 1_790_000_000 + seconds,
        nanos: 0,
    })
}

fn conversation(
    source_id: &str,
    channel: pb::Channel,
    start: i64,
    messages: i32,
    csat: i32,
) -> pb::Conversation {
    pb::Conversation {
        channel: channel as i32,
        source: "helpdesk".into(),
        source_conversation_id: source_id.into(),
        started_at: at(start),
        message_count: messages,
        csat_score: csat,
        ..Default::default()
    }
}

async fn record(
    server: &TestServer,
    contact_id: &str,
    conversation: pb::Conversation,
) -> pb::RecordConversationResponse {
    server
        .conversations()
        .await
        .record_conversation(server.req(pb::RecordConversationRequest {
            subject: Some(pb::record_conversation_request::Subject::ContactId(
                contact_id.into(),
            )),
            conversation: Some(conversation),
        }))
        .await
        .unwrap_or_else(|status| panic!("record failed: {status:?}"))
        .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_runs_newest_first_across_channels_and_keeps_the_figures_current() {
    on_both(|server| async move {
        let ana = contact_with_email(&server, "ana@x.com").await;
        let mut client = server.conversations().await;
        let first = record(
            &server,
            &ana.id,
            conversation("T-1", pb::Channel::Email, 0, 4, 5),
        )
        .await;
        assert!(first.created);
        record(
            &server,
            &ana.id,
            conversation("T-2", pb::Channel::Whatsapp, 600, 10, 3),
        )
        .await;
        let call = record(
            &server,
            &ana.id,
            conversation("T-3", pb::Channel::Voice, 300, 1, 0),
        )
        .await;

        // Recording T-1 again updates it.
        let again = record(
            &server,
            &ana.id,
            conversation("T-1", pb::Channel::Email, 0, 6, 4),
        )
        .await;
        assert!(!again.created);
        let again = again.conversation.unwrap();
        assert_eq!(again.id, first.conversation.as_ref().unwrap().id);
        assert_eq!((again.message_count, again.csat_score), (6, 4));

        let engagement = server.get(&ana.id).await.engagement.unwrap();
        assert_eq!(engagement.conversation_count, 3);
        assert_eq!(engagement.message_count, 17);
        assert_eq!(engagement.csat_rating_count, 2);
        assert!((engagement.average_csat - 3.5).abs() < 1e-9);
        assert_eq!(engagement.first_contact_time, at(0));
        assert_eq!(engagement.last_contact_time, at(600));
        assert_eq!(engagement.channels.len(), 3);

        let mut ids = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = client
                .list_contact_conversations(server.req(pb::ListContactConversationsRequest {
                    contact_id: ana.id.clone(),
                    page_size: 2,
                    page_token,
                    ..Default::default()
                }))
                .await
                .unwrap()
                .into_inner();
            ids.extend(
                page.conversations
                    .into_iter()
                    .map(|c| c.source_conversation_id),
            );
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        assert_eq!(ids, ["T-2", "T-3", "T-1"]);
        let voice_only = client
            .list_contact_conversations(server.req(pb::ListContactConversationsRequest {
                contact_id: ana.id.clone(),
                channel: pb::Channel::Voice as i32,
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(voice_only.conversations.len(), 1);

        // An update and a delete move the figures too.
        let call = call.conversation.unwrap();
        let resolved = client
            .update_conversation(server.req(pb::UpdateConversationRequest {
                conversation: Some(pb::Conversation {
                    id: call.id.clone(),
                    status: pb::ConversationStatus::Resolved as i32,
                    csat_score: 1,
                    ..Default::default()
                }),
                update_mask: mask(&["status", "csat_score"]),
                etag: call.etag.clone(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(resolved.status, pb::ConversationStatus::Resolved as i32);
        assert_eq!(
            server
                .get(&ana.id)
                .await
                .engagement
                .unwrap()
                .csat_rating_count,
            3
        );
        let stale = client
            .update_conversation(server.req(pb::UpdateConversationRequest {
                conversation: Some(pb::Conversation {
                    id: call.id.clone(),
                    team: "Tier 2".into(),
                    ..Default::default()
                }),
                update_mask: None,
                etag: call.etag.clone(),
            }))
            .await
            .unwrap_err();
        assert_code(&stale, tonic::Code::Aborted);
        client
            .delete_conversation(server.req(pb::DeleteConversationRequest {
                id: call.id.clone(),
                etag: String::new(),
            }))
            .await
            .unwrap();
        let engagement = server.get(&ana.id).await.engagement.unwrap();
        assert_eq!(
            (engagement.conversation_count, engagement.message_count),
            (2, 16)
        );
        let gone = client
            .get_conversation(server.req(pb::GetConversationRequest {
                id: call.id.clone(),
            }))
            .await
            .unwrap_err();
        assert_code(&gone, tonic::Code::NotFound);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_from_a_new_sender_creates_the_contact_once() {
    on_both(|server| async move {
        let mut client = server.conversations().await;
        let by_sender = |source_id: &str| pb::RecordConversationRequest {
            subject: Some(pb::record_conversation_request::Subject::Sender(
                pb::ConversationSender {
                    channel: pb::Channel::Whatsapp as i32,
                    address: "16502530000".into(),
                    display_name: "Bo".into(),
                },
            )),
            conversation: Some(conversation(source_id, pb::Channel::Whatsapp, 0, 2, 0)),
        };
        let first = client
            .record_conversation(server.req(by_sender("W-1")))
            .await
            .unwrap()
            .into_inner();
        let second = client
            .record_conversation(server.req(by_sender("W-2")))
            .await
            .unwrap()
            .into_inner();
        let contact_id = first.conversation.unwrap().contact_id;
        assert_eq!(second.conversation.unwrap().contact_id, contact_id);
        assert_eq!(server.list_all().await.len(), 1);
        let contact = server.get(&contact_id).await;
        assert_eq!(contact.display_name, "Bo");
        assert_eq!(contact.engagement.unwrap().conversation_count, 2);

        let bad = client
            .record_conversation(server.req(pb::RecordConversationRequest {
                subject: Some(pb::record_conversation_request::Subject::ContactId(
                    contact_id.clone(),
                )),
                conversation: Some(pb::Conversation {
                    ended_at: at(-10),
                    csat_score: 9,
                    message_count: -1,
                    ..conversation("", pb::Channel::Unspecified, 0, 0, 0)
                }),
            }))
            .await
            .unwrap_err();
        assert_invalid(
            &bad,
            &[
                "conversation.channel",
                "conversation.message_count",
                "conversation.csat_score",
            ],
        );
        let unsourced = client
            .record_conversation(server.req(pb::RecordConversationRequest {
                subject: Some(pb::record_conversation_request::Subject::ContactId(
                    contact_id.clone(),
                )),
                conversation: Some(pb::Conversation {
                    ended_at: at(-10),
                    ..conversation("", pb::Channel::Email, 0, 0, 0)
                }),
            }))
            .await
            .unwrap_err();
        assert_invalid(&unsourced, &["conversation.source_conversation_id"]);
        let bad_sender = client
            .record_conversation(server.req(pb::RecordConversationRequest {
                subject: Some(pb::record_conversation_request::Subject::Sender(
                    pb::ConversationSender {
                        channel: pb::Channel::Email as i32,
                        address: "not an email".into(),
                        display_name: String::new(),
                    },
                )),
                conversation: Some(conversation("E-1", pb::Channel::Email, 0, 1, 0)),
            }))
            .await
            .unwrap_err();
        assert_invalid(&bad_sender, &["sender.address"]);
        let nobody = client
            .record_conversation(server.req(pb::RecordConversationRequest {
                subject: Some(pb::record_conversation_request::Subject::ContactId(
                    uuid::Uuid::now_v7().to_string(),
                )),
                conversation: Some(conversation("X-1", pb::Channel::Email, 0, 1, 0)),
            }))
            .await
            .unwrap_err();
        assert_code(&nobody, tonic::Code::NotFound);
        let other = server.new_tenant("US").await;
        let hidden = client
            .list_contact_conversations(with_key(
                pb::ListContactConversationsRequest {
                    contact_id,
                    ..Default::default()
                },
                &other,
            ))
            .await
            .unwrap_err();
        assert_code(&hidden, tonic::Code::NotFound);
    })
    .await;
}
