//! Races end to end: many callers, each with its own client connection,
//! released together by a barrier. One new sender resolved at once, from one
//! server or from two replicas over one database, is one contact; idempotent
//! creates, claims on one address and etag-guarded updates each have exactly
//! one winner, and unguarded changes are never silently lost.

use std::sync::Arc;

use crm_proto::v1 as pb;
use tokio::sync::Barrier;
use tonic::Code;

use crate::fixtures::{assert_claimed_by, contact_with_email, email, identity, mask, sender};
use crate::harness::{TestServer, on_both, serve, with_key};

/// Runs `count` calls of `call`, spread round-robin over `servers`, each
/// in its own task on its own connection, all released at once by a
/// barrier; returns their outcomes in task order.
async fn race<T, F, Fut>(
    servers: &[&TestServer],
    count: usize,
    call: F,
) -> Vec<Result<T, tonic::Status>>
where
    T: Send + 'static,
    F: Fn(
        usize,
        crm_proto::v1::contact_service_client::ContactServiceClient<tonic::transport::Channel>,
    ) -> Fut,
    Fut: std::future::Future<Output = Result<T, tonic::Status>> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(count));
    let mut tasks = Vec::with_capacity(count);
    for index in 0..count {
        let client = servers[index % servers.len()].contacts().await;
        let call = call(index, client);
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            call.await
        }));
    }
    let mut outcomes = Vec::with_capacity(count);
    for task in tasks {
        outcomes.push(task.await.expect("racing task panicked"));
    }
    outcomes
}

/// Checks that racing resolutions of one new sender made one contact.
async fn assert_one_contact(
    server: &TestServer,
    outcomes: Vec<Result<pb::ResolveSenderResponse, tonic::Status>>,
) {
    let resolutions: Vec<pb::ResolveSenderResponse> = outcomes
        .into_iter()
        .map(|outcome| outcome.unwrap_or_else(|status| panic!("a racing call failed: {status:?}")))
        .collect();
    let ids: Vec<&str> = resolutions
        .iter()
        .map(|r| r.contact.as_ref().unwrap().id.as_str())
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let created = resolutions.iter().filter(|r| r.created).count();
    assert_eq!(created, 1, "{resolutions:?}");
    for resolution in resolutions.iter().filter(|r| !r.created) {
        assert_eq!(resolution.matched_by, pb::MatchedBy::Address as i32);
    }
    let all = server.list_all().await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].id, ids[0]);
    assert_eq!(all[0].phones.len(), 1, "{all:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_resolutions_of_one_new_sender_create_one_contact() {
    on_both(|server| async move {
        let key = server.key.clone();
        let outcomes = race(&[server.as_ref()], 32, |index, mut client| {
            let key = key.clone();
            // The same number as WhatsApp, SMS and voice write it.
            let request = match index % 3 {
                0 => sender(pb::Channel::Whatsapp, "16502530000"),
                1 => sender(pb::Channel::Sms, "(650) 253-0000"),
                _ => sender(pb::Channel::Voice, "+1 650 253 0000"),
            };
            async move {
                client
                    .resolve_sender(with_key(request, &key))
                    .await
                    .map(tonic::Response::into_inner)
            }
        })
        .await;
        assert_one_contact(&server, outcomes).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_racing_one_new_sender_create_one_contact() {
    on_both(|server| async move {
        let replica = serve(&server.database_url, server.backend).await;
        // The first server's key is valid on both: they share the database.
        let key = server.key.clone();
        let outcomes = race(&[server.as_ref(), &replica], 32, |_, mut client| {
            let key = key.clone();
            async move {
                client
                    .resolve_sender(with_key(sender(pb::Channel::Whatsapp, "16502530000"), &key))
                    .await
                    .map(tonic::Response::into_inner)
            }
        })
        .await;
        replica.stop().await;
        assert_one_contact(&server, outcomes).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn senders_sharing_an_email_hint_at_once_end_as_one_contact() {
    on_both(|server| async move {
        let key = server.key.clone();
        let outcomes = race(&[server.as_ref()], 16, |index, mut client| {
            let key = key.clone();
            let request = pb::ResolveSenderRequest {
                email: "shared@example.com".into(),
                ..sender(pb::Channel::Whatsapp, &format!("1650253{index:04}"))
            };
            async move {
                client
                    .resolve_sender(with_key(request, &key))
                    .await
                    .map(tonic::Response::into_inner)
            }
        })
        .await;
        let resolutions: Vec<pb::ResolveSenderResponse> = outcomes
            .into_iter()
            .map(|outcome| outcome.unwrap_or_else(|status| panic!("{status:?}")))
            .collect();
        assert_eq!(resolutions.iter().filter(|r| r.created).count(), 1);
        for resolution in resolutions.iter().filter(|r| !r.created) {
            assert_eq!(resolution.matched_by, pb::MatchedBy::Email as i32);
        }
        let all = server.list_all().await;
        assert_eq!(all.len(), 1, "{all:?}");
        // Every number was free, so every one was attached to the holder.
        assert_eq!(all[0].phones.len(), 16, "{all:?}");
        assert_eq!(all[0].phones.iter().filter(|p| p.primary).count(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_of_one_create_on_two_replicas_create_one_contact() {
    on_both(|server| async move {
        let replica = serve(&server.database_url, server.backend).await;
        let key = server.key.clone();
        let outcomes = race(&[server.as_ref(), &replica], 16, |_, mut client| {
            let key = key.clone();
            async move {
                client
                    .create_contact(with_key(
                        pb::CreateContactRequest {
                            contact: Some(pb::Contact {
                                emails: vec![email("ana@example.com")],
                                ..Default::default()
                            }),
                            request_id: "one-request".into(),
                        },
                        &key,
                    ))
                    .await
                    .map(tonic::Response::into_inner)
            }
        })
        .await;
        replica.stop().await;
        let ids: Vec<String> = outcomes
            .into_iter()
            .map(|outcome| outcome.unwrap_or_else(|status| panic!("{status:?}")).id)
            .collect();
        assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
        let all = server.list_all().await;
        assert_eq!(all.len(), 1, "{all:?}");
        assert_eq!(all[0].id, ids[0]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_on_one_email_leave_one_holder() {
    on_both(|server| async move {
        let key = server.key.clone();
        let outcomes = race(&[server.as_ref()], 16, |index, mut client| {
            let key = key.clone();
            async move {
                client
                    .create_contact(with_key(
                        pb::CreateContactRequest {
                            contact: Some(pb::Contact {
                                display_name: format!("Claimant {index}"),
                                emails: vec![email("ana@example.com")],
                                ..Default::default()
                            }),
                            request_id: format!("claim-{index}"),
                        },
                        &key,
                    ))
                    .await
                    .map(tonic::Response::into_inner)
            }
        })
        .await;
        let winners: Vec<&pb::Contact> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
        assert_eq!(winners.len(), 1, "{outcomes:?}");
        let winner = winners[0].id.clone();
        for status in outcomes.iter().filter_map(|o| o.as_ref().err()) {
            assert_claimed_by(status, &winner);
        }
        let all = server.list_all().await;
        assert_eq!(all.len(), 1, "{all:?}");
        assert_eq!(all[0].id, winner);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_identity_additions_without_etags_lose_no_write() {
    on_both(|server| async move {
        let contact = contact_with_email(&server, "ana@example.com").await;
        let key = server.key.clone();
        let id = contact.id.clone();
        let outcomes = race(&[server.as_ref()], 8, |index, mut client| {
            let key = key.clone();
            let id = id.clone();
            async move {
                client
                    .add_identity(with_key(
                        pb::AddIdentityRequest {
                            contact_id: id,
                            identity: Some(identity(
                                pb::IdentityKind::Instagram,
                                &format!("handle{index}"),
                            )),
                            primary: false,
                            etag: String::new(),
                        },
                        &key,
                    ))
                    .await
                    .map(tonic::Response::into_inner)
            }
        })
        .await;
        let stored = server.get(&contact.id).await;
        let held: Vec<&str> = stored
            .identities
            .iter()
            .map(|i| i.normalized_value.as_str())
            .collect();
        let mut succeeded = 0;
        for (index, outcome) in outcomes.iter().enumerate() {
            let handle = format!("handle{index}");
            match outcome {
                Ok(_) => {
                    succeeded += 1;
                    assert!(held.contains(&handle.as_str()), "{handle} lost: {held:?}");
                }
                // Too much contention may be refused, retryably, but then
                // nothing of the call is applied.
                Err(status) => {
                    assert_eq!(status.code(), Code::Aborted, "{status:?}");
                    assert!(!held.contains(&handle.as_str()), "{handle}: {held:?}");
                }
            }
        }
        assert!(succeeded >= 1, "{outcomes:?}");
        assert_eq!(held.len(), succeeded);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_updates_with_one_etag_let_exactly_one_win() {
    on_both(|server| async move {
        let contact = server
            .create(pb::Contact {
                display_name: "Ana".into(),
                ..Default::default()
            })
            .await;
        let key = server.key.clone();
        let (id, etag) = (contact.id.clone(), contact.etag.clone());
        let outcomes = race(&[server.as_ref()], 8, |index, mut client| {
            let (key, id, etag) = (key.clone(), id.clone(), etag.clone());
            async move {
                client
                    .update_contact(with_key(
                        pb::UpdateContactRequest {
                            contact: Some(pb::Contact {
                                id,
                                city: format!("City {index}"),
                                ..Default::default()
                            }),
                            update_mask: mask(&["city"]),
                            etag,
                        },
                        &key,
                    ))
                    .await
                    .map(tonic::Response::into_inner)
            }
        })
        .await;
        let winners: Vec<&pb::Contact> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
        assert_eq!(winners.len(), 1, "{outcomes:?}");
        for status in outcomes.iter().filter_map(|o| o.as_ref().err()) {
            assert_eq!(status.code(), Code::Aborted, "{status:?}");
        }
        assert_eq!(server.get(&contact.id).await, *winners[0]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_calls_for_one_sender_attach_every_free_hint() {
    on_both(|server| async move {
        let key = server.key.clone();
        let outcomes = race(&[server.as_ref()], 12, |index, mut client| {
            let key = key.clone();
            let request = pb::ResolveSenderRequest {
                email: format!("alias{index}@example.com"),
                ..sender(pb::Channel::Whatsapp, "16502530000")
            };
            async move {
                client
                    .resolve_sender(with_key(request, &key))
                    .await
                    .map(tonic::Response::into_inner)
            }
        })
        .await;
        let resolutions: Vec<pb::ResolveSenderResponse> = outcomes
            .into_iter()
            .map(|outcome| outcome.unwrap_or_else(|status| panic!("{status:?}")))
            .collect();
        assert_eq!(resolutions.iter().filter(|r| r.created).count(), 1);
        let all = server.list_all().await;
        assert_eq!(all.len(), 1, "{all:?}");
        let mut emails: Vec<&str> = all[0]
            .emails
            .iter()
            .map(|e| e.normalized_address.as_str())
            .collect();
        emails.sort_unstable();
        let mut expected: Vec<String> = (0..12).map(|n| format!("alias{n}@example.com")).collect();
        expected.sort_unstable();
        assert_eq!(emails, expected);
        assert_eq!(all[0].emails.iter().filter(|e| e.primary).count(), 1);
    })
    .await;
}
