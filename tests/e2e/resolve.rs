//! ResolveSender end to end: how each channel's address is read (phone
//! channels sharing one number space, Brazilian mobiles with and without the
//! ninth digit, case rules per kind), how hints are matched and attached,
//! the matching order, and validation that creates nothing.

use crm_proto::v1 as pb;

use crate::fixtures::{assert_invalid, contact_with_email, identity, phone, sender};
use crate::harness::on_both;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_phone_channel_shares_one_contact() {
    on_both(|server| async move {
        let first = server
            .resolve(sender(pb::Channel::Whatsapp, "16502530000"))
            .await;
        assert!(first.created);
        let contact = first.contact.unwrap();
        assert_eq!(contact.phones.len(), 1, "{contact:?}");
        assert_eq!(contact.phones[0].e164, "+16502530000");
        assert_eq!(contact.phones[0].number, "16502530000");
        assert!(contact.phones[0].primary);
        // A created contact without a name is shown by its formatted number.
        assert!(contact.display_name.contains("650"), "{contact:?}");

        for (channel, address) in [
            (pb::Channel::Sms, "(650) 253-0000"),
            (pb::Channel::Phone, "+1 650 253 0000"),
            (pb::Channel::Voice, "650.253.0000"),
            (pb::Channel::Whatsapp, "+1 (650) 253-0000"),
        ] {
            let again = server.resolve(sender(channel, address)).await;
            assert!(!again.created, "{channel:?} {address}: {again:?}");
            assert_eq!(again.matched_by, pb::MatchedBy::Address as i32);
            let found = again.contact.unwrap();
            assert_eq!(found.id, contact.id, "{channel:?} {address}");
            assert_eq!(found.phones.len(), 1, "{found:?}");
        }
        assert_eq!(server.list_all().await.len(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brazilian_mobiles_match_with_and_without_the_ninth_digit() {
    on_both(|server| async move {
        let brazil = server.new_tenant("BR").await;
        let first = server
            .resolve_with_key(sender(pb::Channel::Whatsapp, "551187654321"), &brazil)
            .await;
        assert!(first.created);
        let contact = first.contact.unwrap();
        assert_eq!(contact.phones[0].e164, "+5511987654321");

        let again = server
            .resolve_with_key(sender(pb::Channel::Sms, "(11) 98765-4321"), &brazil)
            .await;
        assert!(!again.created, "{again:?}");
        assert_eq!(again.matched_by, pb::MatchedBy::Address as i32);
        let found = again.contact.unwrap();
        assert_eq!(found.id, contact.id);
        assert_eq!(found.phones.len(), 1, "{found:?}");
        assert_eq!(found.phones[0].e164, "+5511987654321");

        // The eight-digit national form reaches the same contact too.
        let old_form = server
            .resolve_with_key(sender(pb::Channel::Sms, "(11) 8765-4321"), &brazil)
            .await;
        assert_eq!(old_form.contact.unwrap().id, contact.id);

        // The US tenant reads the same national digits differently and
        // never sees the Brazilian tenant's contact.
        assert_eq!(server.list_all().await, []);
        assert_eq!(server.list_all_with_key(&brazil).await.len(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_addresses_match_whatever_their_case() {
    on_both(|server| async move {
        let first = server
            .resolve(sender(pb::Channel::Email, " Ana.Souza@Example.COM "))
            .await;
        assert!(first.created);
        let contact = first.contact.unwrap();
        assert_eq!(contact.emails.len(), 1);
        assert_eq!(contact.emails[0].address, "Ana.Souza@Example.COM");
        assert_eq!(
            contact.emails[0].normalized_address,
            "ana.souza@example.com"
        );
        assert_eq!(contact.display_name, "Ana.Souza");

        let again = server
            .resolve(sender(pb::Channel::Email, "ana.souza@example.com"))
            .await;
        assert!(!again.created);
        assert_eq!(again.matched_by, pb::MatchedBy::Address as i32);
        assert_eq!(again.contact.unwrap().id, contact.id);

        // No dot folding: a different local part is a different person.
        let other = server
            .resolve(sender(pb::Channel::Email, "anasouza@example.com"))
            .await;
        assert!(other.created);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handles_match_with_or_without_the_at_and_whatever_their_case() {
    on_both(|server| async move {
        for channel in [pb::Channel::Instagram, pb::Channel::Telegram] {
            let first = server.resolve(sender(channel, "@Ana")).await;
            assert!(first.created, "{channel:?}");
            let contact = first.contact.unwrap();
            assert_eq!(contact.identities.len(), 1, "{contact:?}");
            assert_eq!(contact.identities[0].normalized_value, "ana");
            assert_eq!(contact.identities[0].value, "@Ana");
            assert_eq!(contact.display_name, "@ana");

            let again = server.resolve(sender(channel, "ana")).await;
            assert!(!again.created, "{channel:?}");
            assert_eq!(again.contact.unwrap().id, contact.id);
        }
        // Instagram's and Telegram's "ana" are different identities.
        assert_eq!(server.list_all().await.len(), 2);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opaque_ids_are_matched_exactly() {
    on_both(|server| async move {
        for channel in [
            pb::Channel::Messenger,
            pb::Channel::Webchat,
            pb::Channel::Whatsapp,
        ] {
            let upper = server.resolve(sender(channel, "AbC")).await;
            let lower = server.resolve(sender(channel, "abc")).await;
            assert!(upper.created, "{channel:?}");
            assert!(lower.created, "{channel:?}: case was folded");
            assert_ne!(upper.contact.unwrap().id, lower.contact.unwrap().id);
            let again = server.resolve(sender(channel, "AbC")).await;
            assert!(!again.created, "{channel:?}");
        }
        assert_eq!(server.list_all().await.len(), 6);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_free_email_hint_is_attached_to_the_matched_contact() {
    on_both(|server| async move {
        let first = server
            .resolve(sender(pb::Channel::Whatsapp, "16502530000"))
            .await;
        let id = first.contact.unwrap().id;
        let hinted = server
            .resolve(pb::ResolveSenderRequest {
                email: "Ana@Example.com".into(),
                ..sender(pb::Channel::Whatsapp, "16502530000")
            })
            .await;
        assert!(!hinted.created);
        assert_eq!(hinted.matched_by, pb::MatchedBy::Address as i32);
        let contact = hinted.contact.unwrap();
        assert_eq!(contact.id, id);
        assert_eq!(
            contact.emails,
            [pb::EmailAddress {
                address: "Ana@Example.com".into(),
                normalized_address: "ana@example.com".into(),
                primary: true,
            }]
        );
        assert_eq!(server.get(&id).await.emails, contact.emails);

        let by_email = server
            .resolve(sender(pb::Channel::Email, "ana@example.com"))
            .await;
        assert!(!by_email.created);
        assert_eq!(by_email.contact.unwrap().id, id);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_hint_held_by_another_contact_is_not_moved() {
    on_both(|server| async move {
        let holder = server
            .resolve(sender(pb::Channel::Email, "ana@example.com"))
            .await
            .contact
            .unwrap();
        let sender_contact = server
            .resolve(sender(pb::Channel::Whatsapp, "16502530000"))
            .await
            .contact
            .unwrap();
        let hinted = server
            .resolve(pb::ResolveSenderRequest {
                email: "ana@example.com".into(),
                ..sender(pb::Channel::Whatsapp, "16502530000")
            })
            .await;
        assert!(!hinted.created);
        assert_eq!(hinted.matched_by, pb::MatchedBy::Address as i32);
        let contact = hinted.contact.unwrap();
        assert_eq!(contact.id, sender_contact.id);
        assert_eq!(contact.emails, []);
        assert_eq!(server.get(&holder.id).await, holder);
        let by_email = server
            .resolve(sender(pb::Channel::Email, "ana@example.com"))
            .await;
        assert_eq!(by_email.contact.unwrap().id, holder.id);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matching_prefers_the_address_then_external_id_then_email_then_phone() {
    on_both(|server| async move {
        let by_address = server
            .create(pb::Contact {
                identities: vec![identity(pb::IdentityKind::Instagram, "@sender")],
                ..Default::default()
            })
            .await;
        let by_external_id = server
            .create(pb::Contact {
                display_name: "External".into(),
                external_id: "ext-1".into(),
                ..Default::default()
            })
            .await;
        let by_email = contact_with_email(&server, "e@example.com").await;
        let by_phone = server
            .create(pb::Contact {
                phones: vec![phone("+1 650 253 0000")],
                ..Default::default()
            })
            .await;
        let hints = |address: &str, external_id: &str| pb::ResolveSenderRequest {
            external_id: external_id.into(),
            email: "E@Example.com".into(),
            phone: "(650) 253-0000".into(),
            ..sender(pb::Channel::Instagram, address)
        };
        for (request, expected, matched_by) in [
            (
                hints("@Sender", "ext-1"),
                &by_address,
                pb::MatchedBy::Address,
            ),
            (
                hints("@new1", "ext-1"),
                &by_external_id,
                pb::MatchedBy::ExternalId,
            ),
            (hints("@new2", ""), &by_email, pb::MatchedBy::Email),
            (
                pb::ResolveSenderRequest {
                    email: String::new(),
                    ..hints("@new3", "")
                },
                &by_phone,
                pb::MatchedBy::Phone,
            ),
        ] {
            let resolved = server.resolve(request.clone()).await;
            assert!(!resolved.created, "{request:?}");
            assert_eq!(resolved.matched_by, matched_by as i32, "{request:?}");
            let contact = resolved.contact.unwrap();
            assert_eq!(contact.id, expected.id, "{request:?}");
            // Hints another contact holds stay where they are.
            assert_eq!(contact.emails, expected.emails, "{request:?}");
            assert_eq!(contact.phones, expected.phones, "{request:?}");
            assert_eq!(contact.external_id, expected.external_id, "{request:?}");
        }
        assert_eq!(server.list_all().await.len(), 4);
        // The new handles were free, so each was attached where it matched.
        let handles = |contact: pb::Contact| -> Vec<String> {
            contact
                .identities
                .into_iter()
                .map(|i| i.normalized_value)
                .collect()
        };
        assert_eq!(handles(server.get(&by_external_id.id).await), ["new1"]);
        assert_eq!(handles(server.get(&by_email.id).await), ["new2"]);
        assert_eq!(handles(server.get(&by_phone.id).await), ["new3"]);
        assert_eq!(handles(server.get(&by_address.id).await), ["sender"]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_sender_gets_every_hint_and_a_name_from_the_email() {
    on_both(|server| async move {
        let resolved = server
            .resolve(pb::ResolveSenderRequest {
                email: "John.Doe@Example.com".into(),
                phone: "(650) 253-0000".into(),
                external_id: "crm-7".into(),
                ..sender(pb::Channel::Instagram, "@JohnD")
            })
            .await;
        assert!(resolved.created);
        assert_eq!(resolved.matched_by, pb::MatchedBy::Unspecified as i32);
        let contact = resolved.contact.unwrap();
        assert_eq!(contact.display_name, "John.Doe");
        assert_eq!(contact.emails[0].normalized_address, "john.doe@example.com");
        assert_eq!(contact.phones[0].e164, "+16502530000");
        assert_eq!(contact.external_id, "crm-7");
        assert_eq!(contact.identities[0].normalized_value, "johnd");
        assert_eq!(contact.lifecycle_stage, pb::LifecycleStage::Prospect as i32);
        assert!(!contact.etag.is_empty());
        assert_eq!(server.get(&contact.id).await, contact);

        let named = server
            .resolve(pb::ResolveSenderRequest {
                display_name: " Maria Silva ".into(),
                email: "m.silva@example.com".into(),
                ..sender(pb::Channel::Webchat, "visitor-1")
            })
            .await;
        assert_eq!(named.contact.unwrap().display_name, "Maria Silva");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_display_name_of_a_known_sender_is_left_alone() {
    on_both(|server| async move {
        let first = server
            .resolve(pb::ResolveSenderRequest {
                display_name: "Ana".into(),
                ..sender(pb::Channel::Webchat, "visitor-1")
            })
            .await;
        let again = server
            .resolve(pb::ResolveSenderRequest {
                display_name: "Somebody Else".into(),
                ..sender(pb::Channel::Webchat, "visitor-1")
            })
            .await;
        assert!(!again.created);
        assert_eq!(again.contact.unwrap(), first.contact.unwrap());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_requests_name_the_field_and_create_nothing() {
    on_both(|server| async move {
        let mut client = server.contacts().await;
        let cases: Vec<(pb::ResolveSenderRequest, &[&str])> = vec![
            (sender(pb::Channel::Email, "not-an-email"), &["address"]),
            (sender(pb::Channel::Sms, "12"), &["address"]),
            (sender(pb::Channel::Instagram, "@"), &["address"]),
            (sender(pb::Channel::Messenger, ""), &["address"]),
            (
                pb::ResolveSenderRequest {
                    email: "nope".into(),
                    ..sender(pb::Channel::Whatsapp, "16502530000")
                },
                &["email"],
            ),
            (
                pb::ResolveSenderRequest {
                    phone: "12".into(),
                    ..sender(pb::Channel::Whatsapp, "16502530000")
                },
                &["phone"],
            ),
            (
                sender(pb::Channel::Unspecified, "16502530000"),
                &["channel"],
            ),
            (
                pb::ResolveSenderRequest {
                    channel: 99,
                    ..sender(pb::Channel::Unspecified, "16502530000")
                },
                &["channel"],
            ),
            (
                pb::ResolveSenderRequest {
                    email: "nope".into(),
                    ..sender(pb::Channel::Email, "")
                },
                &["address", "email"],
            ),
        ];
        for (request, fields) in cases {
            let status = client
                .resolve_sender(server.req(request.clone()))
                .await
                .expect_err(&format!("{request:?} was accepted"));
            assert_invalid(&status, fields);
        }
        assert_eq!(server.list_all().await, []);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whatsapp_user_id_is_not_a_phone_number() {
    on_both(|server| async move {
        let by_id = server
            .resolve(sender(pb::Channel::Whatsapp, "BR.1a2b3c"))
            .await;
        assert!(by_id.created);
        let contact = by_id.contact.unwrap();
        assert_eq!(contact.phones, []);
        assert_eq!(
            contact.identities,
            [pb::Identity {
                kind: pb::IdentityKind::WhatsappUserId as i32,
                value: "BR.1a2b3c".into(),
                normalized_value: "BR.1a2b3c".into(),
            }]
        );
        let again = server
            .resolve(sender(pb::Channel::Whatsapp, "BR.1a2b3c"))
            .await;
        assert!(!again.created);
        assert_eq!(again.contact.unwrap().id, contact.id);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_phone_and_external_id_hints_are_attached_once() {
    on_both(|server| async move {
        let first = server
            .resolve(sender(pb::Channel::Email, "ana@example.com"))
            .await
            .contact
            .unwrap();
        let hinted = server
            .resolve(pb::ResolveSenderRequest {
                phone: "(650) 253-0000".into(),
                external_id: "crm-1".into(),
                ..sender(pb::Channel::Email, "ana@example.com")
            })
            .await;
        assert!(!hinted.created);
        let contact = hinted.contact.unwrap();
        assert_eq!(contact.id, first.id);
        assert_eq!(contact.external_id, "crm-1");
        assert_eq!(contact.phones.len(), 1);
        assert_eq!(contact.phones[0].e164, "+16502530000");
        assert!(contact.phones[0].primary);
        // Attaching is a change: a new etag and a later update_time.
        assert_ne!(contact.etag, first.etag);
        let (before, after) = (first.update_time.unwrap(), contact.update_time.unwrap());
        assert!((after.seconds, after.nanos) >= (before.seconds, before.nanos));
        assert_eq!(server.get(&first.id).await, contact);

        // A contact keeps its one external id.
        let again = server
            .resolve(pb::ResolveSenderRequest {
                external_id: "crm-2".into(),
                ..sender(pb::Channel::Email, "ana@example.com")
            })
            .await;
        assert_eq!(again.contact.unwrap(), contact);
        let by_new_id = server
            .resolve(pb::ResolveSenderRequest {
                external_id: "crm-2".into(),
                ..sender(pb::Channel::Webchat, "visitor-1")
            })
            .await;
        assert!(by_new_id.created, "{by_new_id:?}");
    })
    .await;
}

/// ResolveSenders: a batch answers each sender as ResolveSender would, in
/// order; one sender twice in a batch is one contact; a bad sender fails the
/// whole batch naming `senders[i]` and resolves nothing; the count is
/// bounded before any work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_resolves_each_sender_as_one_call_would() {
    on_both(|server| async move {
        let known = server
            .resolve(sender(pb::Channel::Email, "ana@x.com"))
            .await
            .contact
            .unwrap();
        let mut client = server.contacts().await;
        let batch = |senders: Vec<pb::ResolveSenderRequest>| pb::ResolveSendersRequest { senders };
        let results = client
            .resolve_senders(server.req(batch(vec![
                sender(pb::Channel::Whatsapp, "16502530000"),
                sender(pb::Channel::Email, "Ana@X.com"),
                sender(pb::Channel::Sms, "(650) 253-0000"),
                pb::ResolveSenderRequest {
                    email: "ana@x.com".into(),
                    ..sender(pb::Channel::Webchat, "visitor-1")
                },
            ])))
            .await
            .unwrap()
            .into_inner()
            .results;
        assert_eq!(results.len(), 4);
        let ids: Vec<String> = results
            .iter()
            .map(|result| result.contact.as_ref().unwrap().id.clone())
            .collect();
        // A new sender, then a known one by its address.
        assert!(results[0].created, "{results:?}");
        assert!(!results[1].created);
        assert_eq!(results[1].matched_by, pb::MatchedBy::Address as i32);
        assert_eq!(ids[1], known.id);
        // The number created first in the batch is found by its second form.
        assert!(!results[2].created, "{results:?}");
        assert_eq!(ids[2], ids[0]);
        // A hint matches and its new address is attached, as one call would.
        assert_eq!(results[3].matched_by, pb::MatchedBy::Email as i32);
        assert_eq!(ids[3], known.id);
        let attached = results[3].contact.as_ref().unwrap();
        assert!(
            attached
                .identities
                .iter()
                .any(|identity| identity.value == "visitor-1"),
            "{attached:?}"
        );
        assert_eq!(server.list_all().await.len(), 2);

        // Every bad sender is named at once; nothing is resolved.
        let status = client
            .resolve_senders(server.req(batch(vec![
                sender(pb::Channel::Email, "new@x.com"),
                sender(pb::Channel::Email, "not-an-email"),
                sender(pb::Channel::Unspecified, "16502530000"),
            ])))
            .await
            .expect_err("a bad sender was accepted");
        assert_invalid(&status, &["senders[1].address", "senders[2].channel"]);
        assert_eq!(server.list_all().await.len(), 2);

        // No senders, and more than 100, are refused by count.
        let status = client
            .resolve_senders(server.req(batch(Vec::new())))
            .await
            .expect_err("an empty batch was accepted");
        assert_invalid(&status, &["senders"]);
        let many = (0..101)
            .map(|n| sender(pb::Channel::Email, &format!("n{n}@x.com")))
            .collect();
        let status = client
            .resolve_senders(server.req(batch(many)))
            .await
            .expect_err("101 senders were accepted");
        assert_invalid(&status, &["senders"]);
        assert_eq!(server.list_all().await.len(), 2);
    })
    .await;
}

/// A stream answer's error as the status it carries, for the status
/// assertions.
fn carried(answer: &pb::StreamResolveSendersResponse) -> tonic::Status {
    use prost::Message;
    match &answer.outcome {
        Some(pb::stream_resolve_senders_response::Outcome::Error(status)) => {
            tonic::Status::with_details(
                tonic::Code::from(status.code),
                status.message.clone(),
                status.encode_to_vec().into(),
            )
        }
        other => panic!("not an error answer: {other:?}"),
    }
}

/// A stream answer's contact and whether it was created.
fn streamed(answer: &pb::StreamResolveSendersResponse) -> (String, bool) {
    match &answer.outcome {
        Some(pb::stream_resolve_senders_response::Outcome::Result(result)) => {
            (result.contact.as_ref().unwrap().id.clone(), result.created)
        }
        other => panic!("not a resolved answer: {other:?}"),
    }
}

/// StreamResolveSenders: answers come in the order the senders were sent,
/// each with its tag, whether the senders came one at a time or in a burst;
/// each resolves as ResolveSender would; a bad sender gets its own error
/// answer (the status ResolveSender would return, fields under `sender`)
/// and the stream goes on; the stream ends when the caller closes its
/// side; a caller that sends a long burst before reading gets every answer;
/// a bad key is refused when the stream opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_resolves_each_sender_in_order_and_goes_on_past_a_bad_one() {
    on_both(|server| async move {
        let known = server
            .resolve(sender(pb::Channel::Email, "ana@x.com"))
            .await
            .contact
            .unwrap();
        let mut client = server.contacts().await;
        let (outgoing, receiver) = tokio::sync::mpsc::channel(1_000);
        let mut answers = client
            .stream_resolve_senders(
                server.req(tokio_stream::wrappers::ReceiverStream::new(receiver)),
            )
            .await
            .unwrap()
            .into_inner();
        let on_stream = |tag: u64, sender: Option<pb::ResolveSenderRequest>| {
            pb::StreamResolveSendersRequest { tag, sender }
        };

        // A burst, sent before any answer is read.
        let burst = [
            on_stream(10, Some(sender(pb::Channel::Whatsapp, "16502530000"))),
            on_stream(11, Some(sender(pb::Channel::Email, "Ana@X.com"))),
            on_stream(12, Some(sender(pb::Channel::Email, "not-an-email"))),
            on_stream(13, None),
            on_stream(14, Some(sender(pb::Channel::Unspecified, "16502530000"))),
            on_stream(15, Some(sender(pb::Channel::Sms, "(650) 253-0000"))),
        ];
        for request in burst {
            outgoing.send(request).await.unwrap();
        }
        let mut read = Vec::new();
        for _ in 0..6 {
            read.push(answers.message().await.unwrap().unwrap());
        }
        let tags: Vec<u64> = read.iter().map(|answer| answer.tag).collect();
        assert_eq!(tags, [10, 11, 12, 13, 14, 15]);
        let (whatsapp, created) = streamed(&read[0]);
        assert!(created, "{read:?}");
        assert_eq!(streamed(&read[1]), (known.id.clone(), false));
        assert_invalid(&carried(&read[2]), &["sender.address"]);
        assert_invalid(&carried(&read[3]), &["sender"]);
        assert_invalid(&carried(&read[4]), &["sender.channel"]);
        use tonic_types::StatusExt;
        assert_eq!(
            carried(&read[2])
                .get_error_details()
                .error_info()
                .map(|info| info.reason.clone()),
            Some("INVALID_ARGUMENT".to_owned()),
        );
        // The number created in the burst is found by its SMS form.
        assert_eq!(streamed(&read[5]), (whatsapp.clone(), false));

        // One at a time: each answer before the next sender.
        outgoing
            .send(on_stream(20, Some(sender(pb::Channel::Email, "bo@y.com"))))
            .await
            .unwrap();
        let answer = answers.message().await.unwrap().unwrap();
        assert_eq!(answer.tag, 20);
        let (bo, created) = streamed(&answer);
        assert!(created);
        outgoing
            .send(on_stream(21, Some(sender(pb::Channel::Email, "BO@y.com"))))
            .await
            .unwrap();
        let answer = answers.message().await.unwrap().unwrap();
        assert_eq!((answer.tag, streamed(&answer)), (21, (bo, false)));

        // A burst longer than a batch and than the server's backlog: every
        // answer, in order, each sender its own contact.
        let writer = {
            let outgoing = outgoing.clone();
            tokio::spawn(async move {
                for n in 0..300_u64 {
                    let request = on_stream(
                        100 + n,
                        Some(sender(pb::Channel::Email, &format!("burst{n}@z.com"))),
                    );
                    outgoing.send(request).await.unwrap();
                }
            })
        };
        let mut ids = std::collections::HashSet::new();
        for n in 0..300_u64 {
            let answer = answers.message().await.unwrap().unwrap();
            assert_eq!(answer.tag, 100 + n);
            let (id, created) = streamed(&answer);
            assert!(created, "{answer:?}");
            ids.insert(id);
        }
        writer.await.unwrap();
        assert_eq!(ids.len(), 300);
        assert_eq!(server.list_all().await.len(), 2 + 1 + 300);

        // Closing the caller's side ends the stream once all is answered.
        drop(outgoing);
        assert!(answers.message().await.unwrap().is_none());

        // A key that matches no tenant is refused as the stream opens.
        let (_outgoing, receiver) = tokio::sync::mpsc::channel(1);
        let status = client
            .stream_resolve_senders(crate::harness::with_key(
                tokio_stream::wrappers::ReceiverStream::new(receiver),
                "crm_not_a_key",
            ))
            .await
            .expect_err("a bad key opened a stream");
        assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
    })
    .await;
}
