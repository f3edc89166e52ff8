//! MergeService end to end: previews that change nothing, merges that move
//! every child record and leave redirecting tombstones, the rules for which
//! values win, version checks, overlapping merges, chains, merge records,
//! bad requests and tenant isolation.

use std::collections::HashMap;

use crm_proto::v1 as pb;
use tonic::Code;

use crate::fixtures::{
    all_pages, assert_code, assert_invalid, assert_merged_into, contact_with_email, create_org,
    email, org, phone, record_conversation, sender, write_note,
};
use crate::harness::{TestServer, on_both, with_key};

async fn preview(
    server: &TestServer,
    survivor: &str,
    duplicates: &[&str],
) -> Result<pb::PreviewMergeContactsResponse, tonic::Status> {
    server
        .merges()
        .await
        .preview_merge_contacts(server.req(pb::PreviewMergeContactsRequest {
            survivor_id: survivor.into(),
            duplicate_ids: duplicates.iter().map(|id| (*id).to_owned()).collect(),
        }))
        .await
        .map(tonic::Response::into_inner)
}

async fn merge_with(
    server: &TestServer,
    request: pb::MergeContactsRequest,
) -> Result<pb::MergeContactsResponse, tonic::Status> {
    server
        .merges()
        .await
        .merge_contacts(server.req(request))
        .await
        .map(tonic::Response::into_inner)
}

/// Previews and merges with the preview's token.
async fn merge(
    server: &TestServer,
    survivor: &str,
    duplicates: &[&str],
) -> pb::MergeContactsResponse {
    let previewed = preview(server, survivor, duplicates)
        .await
        .unwrap_or_else(|status| panic!("preview failed: {status:?}"));
    merge_with(
        server,
        by_token(survivor, duplicates, &previewed.preview_token),
    )
    .await
    .unwrap_or_else(|status| panic!("merge failed: {status:?}"))
}

fn by_token(survivor: &str, duplicates: &[&str], token: &str) -> pb::MergeContactsRequest {
    pb::MergeContactsRequest {
        survivor_id: survivor.into(),
        duplicate_ids: duplicates.iter().map(|id| (*id).to_owned()).collect(),
        preview_token: token.into(),
        merged_by: "ops@acme".into(),
        ..Default::default()
    }
}

async fn list_merges(server: &TestServer, contact: &str) -> Vec<pb::Merge> {
    let client = server.merges().await;
    all_pages(|page_token| {
        let mut client = client.clone();
        let request = server.req(pb::ListMergesRequest {
            contact_id: contact.into(),
            page_size: 1,
            page_token,
        });
        async move {
            let page = client.list_merges(request).await.unwrap().into_inner();
            (page.merges, page.next_page_token)
        }
    })
    .await
}

async fn add_note(server: &TestServer, contact: &str, body: &str) {
    write_note(
        server,
        pb::Note {
            owner: Some(pb::note::Owner::ContactId(contact.into())),
            author: "agent-7".into(),
            body: body.into(),
            ..Default::default()
        },
    )
    .await;
}

async fn add_conversation(server: &TestServer, contact: &str, source_id: &str, csat: i32) {
    record_conversation(server, contact, source_id, pb::Channel::Sms, csat).await;
}

async fn add_attachment(server: &TestServer, contact: &str, name: &str) {
    let data = name.as_bytes().to_vec();
    let messages = vec![
        pb::UploadAttachmentRequest {
            part: Some(pb::upload_attachment_request::Part::Metadata(
                pb::AttachmentMetadata {
                    owner: Some(pb::attachment_metadata::Owner::ContactId(contact.into())),
                    file_name: name.into(),
                    content_type: "text/plain".into(),
                    size: data.len() as u64,
                    uploaded_by: "agent-7".into(),
                    ..Default::default()
                },
            )),
        },
        pb::UploadAttachmentRequest {
            part: Some(pb::upload_attachment_request::Part::Chunk(data)),
        },
    ];
    server
        .attachments()
        .await
        .upload_attachment(server.req(tokio_stream::iter(messages)))
        .await
        .unwrap();
}

async fn note_bodies(server: &TestServer, contact: &str) -> Vec<String> {
    let mut bodies: Vec<String> = server
        .notes()
        .await
        .list_notes(server.req(pb::ListNotesRequest {
            owner: Some(pb::list_notes_request::Owner::ContactId(contact.into())),
            page_size: 100,
            page_token: String::new(),
        }))
        .await
        .unwrap()
        .into_inner()
        .notes
        .into_iter()
        .map(|note| note.body)
        .collect();
    bodies.sort();
    bodies
}

async fn conversation_count(server: &TestServer, contact: &str) -> usize {
    server
        .conversations()
        .await
        .list_contact_conversations(server.req(pb::ListContactConversationsRequest {
            contact_id: contact.into(),
            page_size: 100,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .conversations
        .len()
}

async fn attachment_names(server: &TestServer, contact: &str) -> Vec<String> {
    let mut names: Vec<String> = server
        .attachments()
        .await
        .list_attachments(server.req(pb::ListAttachmentsRequest {
            owner: Some(pb::list_attachments_request::Owner::ContactId(
                contact.into(),
            )),
            page_size: 100,
            page_token: String::new(),
        }))
        .await
        .unwrap()
        .into_inner()
        .attachments
        .into_iter()
        .map(|attachment| attachment.file_name)
        .collect();
    names.sort();
    names
}

fn counts(pairs: &[(&str, i64)]) -> HashMap<String, i64> {
    pairs
        .iter()
        .map(|(kind, count)| ((*kind).to_owned(), *count))
        .collect()
}

fn emails_of(contact: &pb::Contact) -> Vec<String> {
    let mut emails: Vec<String> = contact.emails.iter().map(|e| e.address.clone()).collect();
    emails.sort();
    emails
}

/// Ana, written in twice: once by email, once by phone from her work address.
async fn ana_twice(server: &TestServer) -> (pb::Contact, pb::Contact) {
    let survivor = server
        .create(pb::Contact {
            display_name: "Ana Souza".into(),
            emails: vec![email("ana@x.com")],
            tags: vec!["vip".into()],
            lifecycle_stage: pb::LifecycleStage::Customer as i32,
            ..Default::default()
        })
        .await;
    let duplicate = server
        .create(pb::Contact {
            display_name: "A. Souza".into(),
            emails: vec![email("ana@work.com")],
            phones: vec![phone("+5511987654321")],
            city: "Lisbon".into(),
            tags: vec!["lead".into()],
            lifecycle_stage: pb::LifecycleStage::Active as i32,
            ..Default::default()
        })
        .await;
    (survivor, duplicate)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_moves_everything_and_old_ids_keep_working() {
    on_both(|server| async move {
        let (ana, dup) = ana_twice(&server).await;
        add_note(&server, &dup.id, "prefers WhatsApp").await;
        add_note(&server, &ana.id, "renewal in May").await;
        add_conversation(&server, &dup.id, "T-1", 5).await;
        add_conversation(&server, &dup.id, "T-2", 0).await;
        add_conversation(&server, &ana.id, "T-3", 3).await;
        add_attachment(&server, &dup.id, "contract.txt").await;
        let dup = server.get(&dup.id).await;

        // The preview shows the outcome and changes nothing.
        let previewed = preview(&server, &ana.id, &[&dup.id]).await.unwrap();
        let after = previewed.contact.clone().unwrap();
        assert_eq!(after.id, ana.id);
        assert_eq!(after.display_name, "Ana Souza");
        assert_eq!(after.city, "Lisbon");
        assert_eq!(emails_of(&after), ["ana@work.com", "ana@x.com"]);
        assert_eq!(after.phones.len(), 1);
        assert_eq!(after.tags, ["lead", "vip"]);
        assert_eq!(after.lifecycle_stage, pb::LifecycleStage::Active as i32);
        let engagement = after.engagement.clone().unwrap();
        assert_eq!(engagement.conversation_count, 3);
        let moved = counts(&[
            ("identities", 2),
            ("tags", 1),
            ("conversations", 2),
            ("notes", 1),
            ("attachments", 1),
        ]);
        assert_eq!(previewed.moved, moved);
        let display = previewed
            .winners
            .iter()
            .find(|winner| winner.field == "display_name")
            .unwrap();
        assert_eq!(
            (display.source_contact_id.as_str(), display.value.as_str()),
            (ana.id.as_str(), "Ana Souza")
        );
        assert_eq!(display.overruled[0].value, "A. Souza");
        assert_eq!(display.overruled[0].source_contact_id, dup.id);
        assert_eq!(server.get(&ana.id).await.etag, ana.etag);
        assert_eq!(server.get(&dup.id).await, dup);

        let merged = merge_with(
            &server,
            by_token(&ana.id, &[&dup.id], &previewed.preview_token),
        )
        .await
        .unwrap();
        let survivor = merged.contact.unwrap();
        assert_eq!(survivor.city, "Lisbon");
        assert_eq!(survivor.tags, ["lead", "vip"]);
        assert_eq!(survivor.engagement.as_ref().unwrap().conversation_count, 3);
        assert_eq!(survivor.engagement.as_ref().unwrap().csat_rating_count, 2);
        assert_ne!(survivor.etag, ana.etag);
        let record = merged.merge.unwrap();
        assert_eq!(record.survivor_id, ana.id);
        assert_eq!(record.duplicate_ids, std::slice::from_ref(&dup.id));
        assert_eq!(record.merged_by, "ops@acme");
        assert_eq!(record.moved, moved);
        assert!(record.winners.iter().any(|w| w.field == "lifecycle_stage"));
        assert!(
            !record.winners.iter().any(|w| w.field == "city"),
            "a filled field did not compete"
        );

        // Everything is on the survivor now.
        assert_eq!(
            note_bodies(&server, &ana.id).await,
            ["prefers WhatsApp", "renewal in May"]
        );
        assert_eq!(conversation_count(&server, &ana.id).await, 3);
        assert_eq!(attachment_names(&server, &ana.id).await, ["contract.txt"]);

        // The old id redirects; its addresses resolve to the survivor; lists hide it.
        let redirected = server.get(&dup.id).await;
        assert_eq!(redirected.id, ana.id);
        assert_eq!(redirected.redirected_from, dup.id);
        assert_eq!(server.get(&ana.id).await.redirected_from, "");
        for request in [
            sender(pb::Channel::Whatsapp, "+5511987654321"),
            sender(pb::Channel::Email, "ana@work.com"),
        ] {
            let resolved = server.resolve(request).await;
            assert!(!resolved.created);
            assert_eq!(resolved.contact.unwrap().id, ana.id);
        }
        let listed: Vec<String> = server.list_all().await.into_iter().map(|c| c.id).collect();
        assert_eq!(listed, std::slice::from_ref(&ana.id));

        // Writes by the old id are refused; the merge record is readable by both ids.
        let mut notes = server.notes().await;
        let refused = notes
            .create_note(server.req(pb::CreateNoteRequest {
                note: Some(pb::Note {
                    owner: Some(pb::note::Owner::ContactId(dup.id.clone())),
                    author: "agent-7".into(),
                    body: "late".into(),
                    ..Default::default()
                }),
            }))
            .await
            .unwrap_err();
        assert_merged_into(&refused, &dup.id, &ana.id);
        for id in [&ana.id, &dup.id] {
            let history = list_merges(&server, id).await;
            assert_eq!(history.len(), 1);
            assert_eq!(history[0].id, record.id);
        }

        // Merging it again is refused, saying where it went.
        let again = preview(&server, &ana.id, &[&dup.id]).await.unwrap_err();
        assert_merged_into(&again, &dup.id, &ana.id);
        let replay = merge_with(
            &server,
            by_token(&ana.id, &[&dup.id], &previewed.preview_token),
        )
        .await
        .unwrap_err();
        assert_code(&replay, Code::Aborted);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_merged_away_ids_get_one_answer_from_every_call() {
    on_both(|server| async move {
        let (ana, dup) = ana_twice(&server).await;
        merge(&server, &ana.id, &[&dup.id]).await;
        let unknown = uuid::Uuid::now_v7().to_string();
        let mut notes = server.notes().await;
        let mut files = server.attachments().await;
        let mut conversations = server.conversations().await;
        let mut contacts = server.contacts().await;
        let mut tiers = server.tiers().await;
        let mut organizations = server.organizations().await;
        let acme = create_org(&server, org("Acme", &[])).await;

        // Each call, with a contact id that never existed and with the
        // merged-away one: NOT_FOUND, the latter naming the survivor.
        for (id, merged) in [(unknown.as_str(), false), (dup.id.as_str(), true)] {
            let contact_id = || id.to_owned();
            let answers: Vec<(&str, tonic::Status)> = vec![
                (
                    "ListNotes",
                    notes
                        .list_notes(server.req(pb::ListNotesRequest {
                            owner: Some(pb::list_notes_request::Owner::ContactId(contact_id())),
                            page_size: 0,
                            page_token: String::new(),
                        }))
                        .await
                        .unwrap_err(),
                ),
                (
                    "ListAttachments",
                    files
                        .list_attachments(server.req(pb::ListAttachmentsRequest {
                            owner: Some(pb::list_attachments_request::Owner::ContactId(
                                contact_id(),
                            )),
                            page_size: 0,
                            page_token: String::new(),
                        }))
                        .await
                        .unwrap_err(),
                ),
                (
                    "ListContactConversations",
                    conversations
                        .list_contact_conversations(server.req(
                            pb::ListContactConversationsRequest {
                                contact_id: contact_id(),
                                ..Default::default()
                            },
                        ))
                        .await
                        .unwrap_err(),
                ),
                (
                    "AddContactTags",
                    contacts
                        .add_contact_tags(server.req(pb::AddContactTagsRequest {
                            contact_id: contact_id(),
                            tags: vec!["x".into()],
                            etag: String::new(),
                        }))
                        .await
                        .unwrap_err(),
                ),
                (
                    "SetContactTier",
                    tiers
                        .set_contact_tier(server.req(pb::SetContactTierRequest {
                            contact_id: contact_id(),
                            tier_id: String::new(),
                            etag: String::new(),
                        }))
                        .await
                        .unwrap_err(),
                ),
                (
                    "AddOrganizationMember",
                    organizations
                        .add_organization_member(server.req(pb::AddOrganizationMemberRequest {
                            organization_id: acme.id.clone(),
                            contact_id: contact_id(),
                            etag: String::new(),
                        }))
                        .await
                        .unwrap_err(),
                ),
                (
                    "PreviewMergeContacts",
                    preview(&server, &ana.id, &[id]).await.unwrap_err(),
                ),
            ];
            for (call, status) in answers {
                if merged {
                    assert_merged_into(&status, id, &ana.id);
                } else {
                    assert_code(&status, Code::NotFound);
                }
                assert!(
                    status.message().contains(id),
                    "{call}: {}",
                    status.message()
                );
            }
        }
        // GetContact and ListMerges follow the redirect.
        assert_eq!(server.get(&dup.id).await.id, ana.id);
        assert_eq!(list_merges(&server, &dup.id).await.len(), 1);

        // An unknown organization is NOT_FOUND for membership calls too.
        let nowhere = uuid::Uuid::now_v7().to_string();
        let added = organizations
            .add_organization_member(server.req(pb::AddOrganizationMemberRequest {
                organization_id: nowhere.clone(),
                contact_id: ana.id.clone(),
                etag: String::new(),
            }))
            .await
            .unwrap_err();
        assert_code(&added, Code::NotFound);
        let removed = organizations
            .remove_organization_member(server.req(pb::RemoveOrganizationMemberRequest {
                organization_id: nowhere,
                contact_id: ana.id.clone(),
                etag: String::new(),
            }))
            .await
            .unwrap_err();
        assert_code(&removed, Code::NotFound);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_survivor_keeps_its_external_id_and_the_duplicates_still_resolve() {
    on_both(|server| async move {
        // The duplicate is the older record, so its address rows come first.
        let dup = server
            .create(pb::Contact {
                external_id: "crm-a-souza".into(),
                emails: vec![email("ana@work.com")],
                ..Default::default()
            })
            .await;
        let ana = server
            .create(pb::Contact {
                external_id: "crm-ana".into(),
                emails: vec![email("ana@x.com")],
                ..Default::default()
            })
            .await;
        let previewed = preview(&server, &ana.id, &[&dup.id]).await.unwrap();
        assert_eq!(previewed.contact.unwrap().external_id, "crm-ana");
        let merged = merge(&server, &ana.id, &[&dup.id]).await;
        let merged = merged.contact.unwrap();
        assert_eq!(merged.external_id, "crm-ana");
        assert_eq!(merged.emails[0].address, "ana@x.com");
        assert!(merged.emails[0].primary);
        assert_eq!(server.get(&ana.id).await.external_id, "crm-ana");
        // The duplicate's external id still finds the survivor.
        let found = server
            .resolve(pb::ResolveSenderRequest {
                channel: pb::Channel::Webchat as i32,
                address: "visitor-1".into(),
                external_id: "crm-a-souza".into(),
                ..Default::default()
            })
            .await
            .contact
            .unwrap();
        assert_eq!(found.id, ana.id);
        assert_eq!(found.external_id, "crm-ana");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tier_stage_organization_and_custom_fields_follow_the_rules() {
    on_both(|server| async move {
        let mut tiers = server.tiers().await;
        let mut tier = async |name: &str, color: &str| {
            tiers
                .create_tier(server.req(pb::CreateTierRequest {
                    tier: Some(pb::Tier {
                        name: name.into(),
                        color: color.into(),
                        ..Default::default()
                    }),
                }))
                .await
                .unwrap()
                .into_inner()
        };
        // Created first, so ranked first.
        let gold = tier("Gold", "#FFD700").await;
        let silver = tier("Silver", "#C0C0C0").await;
        let acme = create_org(&server, org("Acme", &[])).await;
        let mut fields = server.fields().await;
        let channels = fields
            .create_custom_field(
                server.req(pb::CreateCustomFieldRequest {
                    field: Some(pb::CustomField {
                        record_type: pb::RecordType::Contact as i32,
                        key: "channels".into(),
                        display_name: "Channels".into(),
                        r#type: pb::CustomFieldType::MultiSelect as i32,
                        options: ["Email", "Phone", "Chat"]
                            .iter()
                            .map(|label| pb::SelectOption {
                                label: (*label).into(),
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    }),
                }),
            )
            .await
            .unwrap()
            .into_inner();
        let keys: Vec<String> = channels.options.iter().map(|o| o.key.clone()).collect();
        fields
            .create_custom_field(server.req(pb::CreateCustomFieldRequest {
                field: Some(pb::CustomField {
                    record_type: pb::RecordType::Contact as i32,
                    key: "plan".into(),
                    display_name: "Plan".into(),
                    r#type: pb::CustomFieldType::Text as i32,
                    ..Default::default()
                }),
            }))
            .await
            .unwrap();
        let multi = |picked: &[&String]| pb::CustomFieldValue {
            value: Some(pb::custom_field_value::Value::MultiSelectValue(
                pb::OptionKeys {
                    keys: picked.iter().map(|key| (*key).clone()).collect(),
                },
            )),
        };
        let text = |text: &str| pb::CustomFieldValue {
            value: Some(pb::custom_field_value::Value::TextValue(text.into())),
        };
        let survivor = server
            .create(pb::Contact {
                emails: vec![email("bo@x.com")],
                tier_id: silver.id.clone(),
                lifecycle_stage: pb::LifecycleStage::Churned as i32,
                custom_fields: [
                    ("channels".to_owned(), multi(&[&keys[0]])),
                    ("plan".to_owned(), text("pro")),
                ]
                .into(),
                ..Default::default()
            })
            .await;
        let first = server
            .create(pb::Contact {
                emails: vec![email("bo@y.com")],
                organization_id: acme.id.clone(),
                lifecycle_stage: pb::LifecycleStage::Customer as i32,
                blocked: true,
                custom_fields: [
                    ("channels".to_owned(), multi(&[&keys[2], &keys[0]])),
                    ("plan".to_owned(), text("free")),
                ]
                .into(),
                ..Default::default()
            })
            .await;
        let second = server
            .create(pb::Contact {
                emails: vec![email("bo@z.com")],
                tier_id: gold.id.clone(),
                lifecycle_stage: pb::LifecycleStage::Vip as i32,
                ..Default::default()
            })
            .await;

        let merged = merge(&server, &survivor.id, &[&first.id, &second.id])
            .await
            .contact
            .unwrap();
        assert_eq!(merged.tier_id, gold.id, "the highest-ranked tier wins");
        assert_eq!(merged.lifecycle_stage, pb::LifecycleStage::Vip as i32);
        assert_eq!(merged.organization_id, acme.id, "the first duplicate's");
        assert!(merged.blocked, "blocked if any is");
        assert_eq!(
            merged.custom_fields["channels"],
            multi(&[&keys[0], &keys[2]]),
            "multi-select values are united"
        );
        assert_eq!(
            merged.custom_fields["plan"],
            text("pro"),
            "the survivor wins"
        );
        assert_eq!(emails_of(&merged), ["bo@x.com", "bo@y.com", "bo@z.com"]);
        assert_eq!(
            merged.emails.iter().filter(|e| e.primary).count(),
            1,
            "one primary email: the survivor's"
        );
        assert!(
            merged
                .emails
                .iter()
                .any(|e| e.primary && e.address == "bo@x.com")
        );
        assert_eq!(server.get(&merged.id).await, merged);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_since_the_preview_aborts_and_changes_nothing() {
    on_both(|server| async move {
        let (ana, dup) = ana_twice(&server).await;
        let previewed = preview(&server, &ana.id, &[&dup.id]).await.unwrap();
        server
            .contacts()
            .await
            .add_contact_tags(server.req(pb::AddContactTagsRequest {
                contact_id: dup.id.clone(),
                tags: vec!["late".into()],
                etag: String::new(),
            }))
            .await
            .unwrap();
        let aborted = merge_with(
            &server,
            by_token(&ana.id, &[&dup.id], &previewed.preview_token),
        )
        .await
        .unwrap_err();
        assert_code(&aborted, Code::Aborted);
        assert_eq!(server.get(&ana.id).await, ana);
        assert_eq!(server.get(&dup.id).await.tags, ["late", "lead"]);
        assert!(list_merges(&server, &ana.id).await.is_empty());

        // By etags: stale ones abort, current ones merge.
        let dup = server.get(&dup.id).await;
        let by_etags = |survivor_etag: &str, duplicate_etag: &str| pb::MergeContactsRequest {
            survivor_id: ana.id.clone(),
            duplicate_ids: vec![dup.id.clone()],
            survivor_etag: survivor_etag.into(),
            duplicate_etags: vec![duplicate_etag.into()],
            merged_by: "ops@acme".into(),
            ..Default::default()
        };
        let stale = merge_with(&server, by_etags(&ana.etag, "W/\"1\""))
            .await
            .unwrap_err();
        assert_code(&stale, Code::Aborted);
        let merged = merge_with(&server, by_etags(&ana.etag, &dup.etag))
            .await
            .unwrap();
        assert_eq!(merged.contact.unwrap().tags, ["late", "lead", "vip"]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_merges_have_one_winner_and_lose_nothing() {
    on_both(|server| async move {
        for round in 0..3 {
            let left = server
                .create(pb::Contact {
                    emails: vec![email(&format!("left{round}@x.com"))],
                    ..Default::default()
                })
                .await;
            let right = server
                .create(pb::Contact {
                    emails: vec![email(&format!("right{round}@x.com"))],
                    ..Default::default()
                })
                .await;
            let shared = server
                .create(pb::Contact {
                    emails: vec![email(&format!("shared{round}@x.com"))],
                    ..Default::default()
                })
                .await;
            add_note(&server, &shared.id, "history").await;
            let into_left = preview(&server, &left.id, &[&shared.id]).await.unwrap();
            let into_right = preview(&server, &right.id, &[&shared.id]).await.unwrap();
            let (a, b) = tokio::join!(
                merge_with(
                    &server,
                    by_token(&left.id, &[&shared.id], &into_left.preview_token)
                ),
                merge_with(
                    &server,
                    by_token(&right.id, &[&shared.id], &into_right.preview_token)
                ),
            );
            let (winner, loser) = match (a, b) {
                (Ok(won), Err(lost)) | (Err(lost), Ok(won)) => (won, lost),
                other => panic!("expected one winner: {other:?}"),
            };
            assert_code(&loser, Code::Aborted);
            let survivor = winner.contact.unwrap();
            assert_eq!(note_bodies(&server, &survivor.id).await, ["history"]);
            assert_eq!(server.get(&shared.id).await.id, survivor.id);
            let resolved = server
                .resolve(sender(pb::Channel::Email, &format!("shared{round}@x.com")))
                .await;
            assert_eq!(resolved.contact.unwrap().id, survivor.id);
            assert_eq!(server.list_all().await.len(), 2 * (round + 1));
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chains_resolve_to_the_last_survivor() {
    on_both(|server| async move {
        let a = contact_with_email(&server, "a@x.com").await;
        let b = contact_with_email(&server, "b@x.com").await;
        let c = contact_with_email(&server, "c@x.com").await;
        merge(&server, &b.id, &[&a.id]).await;
        let last = merge(&server, &c.id, &[&b.id]).await.contact.unwrap();
        assert_eq!(emails_of(&last), ["a@x.com", "b@x.com", "c@x.com"]);
        let found = server.get(&a.id).await;
        assert_eq!(
            (found.id.as_str(), found.redirected_from.as_str()),
            (c.id.as_str(), a.id.as_str())
        );
        assert_eq!(server.get(&b.id).await.id, c.id);
        assert_eq!(
            list_merges(&server, &c.id).await.len(),
            2,
            "both merges folded into C"
        );
        assert_eq!(list_merges(&server, &a.id).await.len(), 1);
        let resolved = server.resolve(sender(pb::Channel::Email, "a@x.com")).await;
        assert_eq!(resolved.contact.unwrap().id, c.id);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_merges_get_clear_errors_and_change_nothing() {
    on_both(|server| async move {
        let (ana, dup) = ana_twice(&server).await;
        let itself = preview(&server, &ana.id, &[&ana.id]).await.unwrap_err();
        assert_invalid(&itself, &["duplicate_ids[0]"]);
        let twice = preview(&server, &ana.id, &[&dup.id, &dup.id])
            .await
            .unwrap_err();
        assert_invalid(&twice, &["duplicate_ids[1]"]);
        let none = preview(&server, &ana.id, &[]).await.unwrap_err();
        assert_invalid(&none, &["duplicate_ids"]);
        let ids: Vec<String> = (0..11).map(|_| uuid::Uuid::now_v7().to_string()).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let many = preview(&server, &ana.id, &refs).await.unwrap_err();
        assert_invalid(&many, &["duplicate_ids"]);
        let garbled = preview(&server, "nope", &[&dup.id, "x"]).await.unwrap_err();
        assert_invalid(&garbled, &["survivor_id", "duplicate_ids[1]"]);
        let unknown = uuid::Uuid::now_v7().to_string();
        let missing = preview(&server, &ana.id, &[&unknown]).await.unwrap_err();
        assert_code(&missing, Code::NotFound);

        let previewed = preview(&server, &ana.id, &[&dup.id]).await.unwrap();
        let mut request = by_token(&ana.id, &[&dup.id], &previewed.preview_token);
        request.merged_by = String::new();
        assert_invalid(
            &merge_with(&server, request).await.unwrap_err(),
            &["merged_by"],
        );
        let mut request = by_token(&ana.id, &[&dup.id], "");
        assert_invalid(
            &merge_with(&server, request.clone()).await.unwrap_err(),
            &["preview_token"],
        );
        request.preview_token = "forged".into();
        assert_invalid(
            &merge_with(&server, request).await.unwrap_err(),
            &["preview_token"],
        );
        let swapped = by_token(&dup.id, &[&ana.id], &previewed.preview_token);
        assert_invalid(
            &merge_with(&server, swapped).await.unwrap_err(),
            &["preview_token"],
        );
        let mut both = by_token(&ana.id, &[&dup.id], &previewed.preview_token);
        both.survivor_etag = ana.etag.clone();
        assert_invalid(
            &merge_with(&server, both).await.unwrap_err(),
            &["preview_token"],
        );

        // Another tenant's contacts do not exist for this one.
        let other = server.new_tenant("US").await;
        let stranger = server
            .create_with_key(
                pb::Contact {
                    emails: vec![email("ana@x.com")],
                    ..Default::default()
                },
                &other,
            )
            .await;
        let foreign = preview(&server, &ana.id, &[&stranger.id])
            .await
            .unwrap_err();
        assert_code(&foreign, Code::NotFound);
        let from_other = server
            .merges()
            .await
            .preview_merge_contacts(with_key(
                pb::PreviewMergeContactsRequest {
                    survivor_id: stranger.id.clone(),
                    duplicate_ids: vec![dup.id.clone()],
                },
                &other,
            ))
            .await
            .unwrap_err();
        assert_code(&from_other, Code::NotFound);
        let history = server
            .merges()
            .await
            .list_merges(with_key(
                pb::ListMergesRequest {
                    contact_id: ana.id.clone(),
                    ..Default::default()
                },
                &other,
            ))
            .await
            .unwrap_err();
        assert_code(&history, Code::NotFound);
        let unauthenticated = server
            .merges()
            .await
            .list_merges(tonic::Request::new(pb::ListMergesRequest {
                contact_id: ana.id.clone(),
                ..Default::default()
            }))
            .await
            .unwrap_err();
        assert_code(&unauthenticated, Code::Unauthenticated);

        // Nothing changed.
        assert_eq!(server.get(&ana.id).await, ana);
        assert_eq!(server.get(&dup.id).await, dup);
        assert_eq!(server.list_all().await.len(), 2);
    })
    .await;
}

async fn find_groups(server: &TestServer) -> Vec<pb::DuplicateGroup> {
    let client = server.merges().await;
    all_pages(|page_token| {
        let mut client = client.clone();
        let request = server.req(pb::FindDuplicateContactsRequest {
            page_size: 1,
            page_token,
        });
        async move {
            let page = client
                .find_duplicate_contacts(request)
                .await
                .unwrap()
                .into_inner();
            assert_eq!(page.pending_contacts, 0, "every write is taken in");
            (page.groups, page.next_page_token)
        }
    })
    .await
}

async fn mark(server: &TestServer, ids: &[&str], by: &str) -> Result<(), tonic::Status> {
    server
        .merges()
        .await
        .mark_not_duplicates(server.req(pb::MarkNotDuplicatesRequest {
            contact_ids: ids.iter().map(|id| (*id).to_owned()).collect(),
            marked_by: by.into(),
        }))
        .await
        .map(drop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_are_found_with_reasons_and_scores_and_can_be_dismissed() {
    on_both(|server| async move {
        let acme = create_org(&server, org("Acme", &[])).await;
        server
            .fields()
            .await
            .create_custom_field(server.req(pb::CreateCustomFieldRequest {
                field: Some(pb::CustomField {
                    record_type: pb::RecordType::Contact as i32,
                    key: "backup_email".into(),
                    display_name: "Backup email".into(),
                    r#type: pb::CustomFieldType::Email as i32,
                    ..Default::default()
                }),
            }))
            .await
            .unwrap();
        let person = |name: &str, address: &str| pb::Contact {
            display_name: name.into(),
            emails: vec![email(address)],
            ..Default::default()
        };
        let backup = |address: &str| {
            [(
                "backup_email".to_owned(),
                pb::CustomFieldValue {
                    value: Some(pb::custom_field_value::Value::EmailValue(address.into())),
                },
            )]
            .into()
        };
        let ana = server
            .create(pb::Contact {
                organization_id: acme.id.clone(),
                ..person("Ana Souza", "ana@one.example")
            })
            .await;
        let ana_again = server
            .create(pb::Contact {
                organization_id: acme.id.clone(),
                ..person("SOUZA,  Ána", "asouza@two.example")
            })
            .await;
        let bruno = server
            .create(person("Bruno Lima", "bruno@globex.com"))
            .await;
        let bruno_again = server
            .create(person("Lima Bruno", "b.lima@globex.com"))
            .await;
        server.create(person("Carla Dias", "carla@gmail.com")).await;
        server
            .create(person("Carla Dias", "carla.d@gmail.com"))
            .await;
        let dan = server
            .create(pb::Contact {
                custom_fields: backup("dan.home@three.example"),
                ..person("Dan Reis", "dan@work.example")
            })
            .await;
        let daniel = server
            .create(person("Daniel", "dan.home@three.example"))
            .await;
        let eva = server
            .create(pb::Contact {
                city: "Porto".into(),
                ..person("Eva Mendes", "eva@four.example")
            })
            .await;
        let eva_again = server
            .create(pb::Contact {
                city: "porto ".into(),
                ..person("Eva Mendez", "em@five.example")
            })
            .await;
        // A team inbox kept in a field, but the tenant lists it as shared.
        server
            .create(pb::Contact {
                custom_fields: backup("team@six.example"),
                ..person("Fay", "fay@six.example")
            })
            .await;
        server.create(person("Team", "team@six.example")).await;
        server
            .tenants()
            .await
            .update_tenant_settings(server.req(pb::UpdateTenantSettingsRequest {
                settings: Some(pb::TenantSettings {
                    shared_addresses: vec![pb::SharedAddress {
                        kind: pb::IdentityKind::Email as i32,
                        value: "team@six.example".into(),
                        address_use: pb::AddressUse::Shared as i32,
                    }],
                    ..Default::default()
                }),
                update_mask: crate::fixtures::mask(&["shared_addresses"]),
                etag: String::new(),
            }))
            .await
            .unwrap();

        let sorted = |ids: &[&pb::Contact]| {
            let mut ids: Vec<String> = ids.iter().map(|c| c.id.clone()).collect();
            ids.sort();
            ids
        };
        let groups = find_groups(&server).await;
        let found: Vec<(Vec<String>, f64, Vec<i32>)> = groups
            .iter()
            .map(|group| {
                (
                    group.contact_ids.clone(),
                    group.score,
                    group.evidence.iter().map(|e| e.reason).collect(),
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                (
                    sorted(&[&dan, &daniel]),
                    0.95,
                    vec![pb::DuplicateReason::AddressInField as i32]
                ),
                (
                    sorted(&[&ana, &ana_again]),
                    0.9,
                    vec![pb::DuplicateReason::SameNameSameOrganization as i32]
                ),
                (
                    sorted(&[&bruno, &bruno_again]),
                    0.85,
                    vec![pb::DuplicateReason::SameNameSameEmailDomain as i32]
                ),
                (
                    sorted(&[&eva, &eva_again]),
                    0.6,
                    vec![pb::DuplicateReason::SimilarNameSameCity as i32]
                ),
            ]
        );
        assert_eq!(
            groups[0].evidence[0].detail,
            "custom_fields.backup_email: dan.home@three.example"
        );

        // Dismissed and merged groups stop appearing.
        mark(&server, &[&bruno.id, &bruno_again.id], "ops@acme")
            .await
            .unwrap();
        merge(&server, &ana.id, &[&ana_again.id]).await;
        let left: Vec<Vec<String>> = find_groups(&server)
            .await
            .into_iter()
            .map(|group| group.contact_ids)
            .collect();
        assert_eq!(
            left,
            [sorted(&[&dan, &daniel]), sorted(&[&eva, &eva_again])]
        );

        let one = mark(&server, &[&dan.id], "ops").await.unwrap_err();
        assert_invalid(&one, &["contact_ids"]);
        let anonymous = mark(&server, &[&dan.id, &daniel.id], " ")
            .await
            .unwrap_err();
        assert_invalid(&anonymous, &["marked_by"]);
        let garbled = mark(&server, &[&dan.id, "nope"], "ops").await.unwrap_err();
        assert_invalid(&garbled, &["contact_ids[1]"]);
        let unknown = uuid::Uuid::now_v7().to_string();
        let missing = mark(&server, &[&dan.id, &unknown], "ops")
            .await
            .unwrap_err();
        assert_code(&missing, Code::NotFound);
        let forged = server
            .merges()
            .await
            .find_duplicate_contacts(server.req(pb::FindDuplicateContactsRequest {
                page_size: 1,
                page_token: "g1.x".into(),
            }))
            .await
            .unwrap_err();
        assert_invalid(&forged, &["page_token"]);
    })
    .await;
}
