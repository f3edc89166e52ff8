//! ContactService's standard methods end to end: Create, Get, List, Update
//! and Delete, their validation, etags, idempotent creates and the
//! ALREADY_EXISTS details that name the holder of a claimed address.

use crm_proto::v1 as pb;
use tonic::Code;

use crate::fixtures::{
    assert_claimed_by, assert_code, assert_invalid, contact_with_email, email, identity, mask,
    phone, sender,
};
use crate::harness::on_both;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_sender_is_created_once_and_recognised_after() {
    on_both(|server| async move {
        let mut client = server.contacts().await;
        let first = client
            .resolve_sender(server.req(sender(pb::Channel::Whatsapp, "16502530000")))
            .await
            .unwrap()
            .into_inner();
        assert!(first.created);
        assert_eq!(first.matched_by, pb::MatchedBy::Unspecified as i32);
        let again = client
            .resolve_sender(server.req(sender(pb::Channel::Sms, "(650) 253-0000")))
            .await
            .unwrap()
            .into_inner();
        assert!(!again.created);
        assert_eq!(again.matched_by, pb::MatchedBy::Address as i32);
        assert_eq!(again.contact.unwrap().id, first.contact.unwrap().id);
    })
    .await;
}

fn full_contact() -> pb::Contact {
    pb::Contact {
        display_name: "Ana Souza".into(),
        emails: vec![
            email("Ana@Example.com"),
            pb::EmailAddress {
                address: " Ana.Work@EXAMPLE.org ".into(),
                primary: true,
                ..Default::default()
            },
        ],
        phones: vec![phone("+55 11 98765-4321")],
        identities: vec![identity(pb::IdentityKind::Instagram, "@Ana_S")],
        external_id: "crm-42".into(),
        city: "São Paulo".into(),
        country: "br".into(),
        language: "pt-BR".into(),
        avatar_url: "https://cdn.example.com/ana.png".into(),
        blocked: true,
        lifecycle_stage: pb::LifecycleStage::Customer as i32,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_round_trips_every_field() {
    on_both(|server| async move {
        let created = server.create(full_contact()).await;
        assert!(uuid::Uuid::parse_str(&created.id).is_ok(), "{created:?}");
        assert_eq!(created.display_name, "Ana Souza");
        // Order is checked on its own below; here, what each email holds.
        let mut emails = created.emails.clone();
        emails.sort_by(|a, b| a.address.cmp(&b.address));
        assert_eq!(
            emails,
            [
                pb::EmailAddress {
                    address: "Ana.Work@EXAMPLE.org".into(),
                    normalized_address: "ana.work@example.org".into(),
                    primary: true,
                },
                pb::EmailAddress {
                    address: "Ana@Example.com".into(),
                    normalized_address: "ana@example.com".into(),
                    primary: false,
                },
            ]
        );
        assert_eq!(
            created.phones,
            [pb::PhoneNumber {
                number: "+55 11 98765-4321".into(),
                e164: "+5511987654321".into(),
                primary: true,
            }]
        );
        assert_eq!(
            created.identities,
            [pb::Identity {
                kind: pb::IdentityKind::Instagram as i32,
                value: "@Ana_S".into(),
                normalized_value: "ana_s".into(),
            }]
        );
        assert_eq!(created.external_id, "crm-42");
        assert_eq!(created.city, "São Paulo");
        assert_eq!(created.country, "BR");
        assert_eq!(created.language, "pt-BR");
        assert_eq!(created.avatar_url, "https://cdn.example.com/ana.png");
        assert!(created.blocked);
        assert_eq!(created.lifecycle_stage, pb::LifecycleStage::Customer as i32);
        let create_time = created.create_time.expect("create_time");
        assert!(create_time.seconds > 1_600_000_000, "{create_time:?}");
        assert_eq!(created.update_time, Some(create_time));
        assert!(!created.etag.is_empty());

        // What Get returns is what Create returned.
        assert_eq!(server.get(&created.id).await, created);
    })
    .await;
}

/// A repeated field comes back in the order it was written: a caller that
/// reads the list, edits it and writes it back must not see it reshuffled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emails_and_phones_list_the_primary_first_then_in_written_order() {
    on_both(|server| async move {
        let created = server
            .create(pb::Contact {
                emails: vec![
                    email("carol@example.com"),
                    email("bob@example.com"),
                    pb::EmailAddress {
                        primary: true,
                        ..email("alice@example.com")
                    },
                ],
                phones: vec![phone("+1 650 253 0002"), phone("+1 650 253 0001")],
                ..Default::default()
            })
            .await;
        let emails: Vec<(&str, bool)> = created
            .emails
            .iter()
            .map(|e| (e.normalized_address.as_str(), e.primary))
            .collect();
        assert_eq!(
            emails,
            [
                ("alice@example.com", true),
                ("carol@example.com", false),
                ("bob@example.com", false),
            ]
        );
        let phones: Vec<(&str, bool)> = created
            .phones
            .iter()
            .map(|p| (p.e164.as_str(), p.primary))
            .collect();
        // With none marked, the first is made primary.
        assert_eq!(phones, [("+16502530002", true), ("+16502530001", false)]);
        assert_eq!(server.get(&created.id).await, created);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_contact_gets_the_defaults() {
    on_both(|server| async move {
        let created = server
            .create(pb::Contact {
                emails: vec![email("John.Doe@Example.com")],
                phones: vec![phone("(650) 253-0000")],
                ..Default::default()
            })
            .await;
        // The display name defaults to the email's local part as written.
        assert_eq!(created.display_name, "John.Doe");
        assert_eq!(created.lifecycle_stage, pb::LifecycleStage::Prospect as i32);
        assert!(created.emails[0].primary);
        assert!(created.phones[0].primary);
        // A national number is read in the tenant's region (US).
        assert_eq!(created.phones[0].e164, "+16502530000");
        assert!(!created.blocked);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_fields_are_each_named_and_nothing_is_created() {
    on_both(|server| async move {
        let mut client = server.contacts().await;
        let create = |contact: pb::Contact| {
            server.req(pb::CreateContactRequest {
                contact: Some(contact),
                request_id: String::new(),
            })
        };
        let status = client
            .create_contact(create(pb::Contact {
                emails: vec![email("ana@example.com"), email("not-an-email")],
                phones: vec![phone("12")],
                country: "Brazil".into(),
                language: "not a tag".into(),
                avatar_url: "ftp://example.com/a.png".into(),
                ..Default::default()
            }))
            .await
            .unwrap_err();
        assert_invalid(
            &status,
            &[
                "contact.emails[1].address",
                "contact.phones[0].number",
                "contact.country",
                "contact.language",
                "contact.avatar_url",
            ],
        );

        let status = client
            .create_contact(create(pb::Contact {
                emails: vec![email("ana@example.com")],
                identities: vec![identity(pb::IdentityKind::Unspecified, "ana")],
                ..Default::default()
            }))
            .await
            .unwrap_err();
        assert_invalid(&status, &["contact.identities[0].kind"]);

        let status = client
            .create_contact(create(pb::Contact {
                emails: vec![email("a@example.com"), email("A@Example.com ")],
                ..Default::default()
            }))
            .await
            .unwrap_err();
        assert_invalid(&status, &["contact.emails[1].address"]);

        let status = client
            .create_contact(create(pb::Contact {
                display_name: "x".repeat(257),
                ..Default::default()
            }))
            .await
            .unwrap_err();
        assert_invalid(&status, &["contact.display_name"]);

        let status = client
            .create_contact(create(pb::Contact {
                display_name: "Ana".into(),
                lifecycle_stage: 99,
                ..Default::default()
            }))
            .await
            .unwrap_err();
        assert_invalid(&status, &["contact.lifecycle_stage"]);

        let status = client
            .create_contact(server.req(pb::CreateContactRequest::default()))
            .await
            .unwrap_err();
        assert_invalid(&status, &["contact"]);

        assert_eq!(server.list_all().await, []);
    })
    .await;
}

/// Every bad field is listed in one answer, whichever part of the request
/// it sits in: bad enum values are named beside the bad addresses and
/// fields, so the caller fixes them all at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_enum_values_are_named_beside_the_other_bad_fields() {
    on_both(|server| async move {
        let status = server
            .contacts()
            .await
            .create_contact(server.req(pb::CreateContactRequest {
                contact: Some(pb::Contact {
                    emails: vec![email("ana@example.com"), email("not-an-email")],
                    phones: vec![phone("12")],
                    identities: vec![identity(pb::IdentityKind::Unspecified, "ana")],
                    country: "Brazil".into(),
                    lifecycle_stage: 99,
                    ..Default::default()
                }),
                request_id: String::new(),
            }))
            .await
            .unwrap_err();
        assert_invalid(
            &status,
            &[
                "contact.emails[1].address",
                "contact.phones[0].number",
                "contact.country",
                "contact.identities[0].kind",
                "contact.lifecycle_stage",
            ],
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_held_by_another_contact_is_already_exists_and_writes_nothing() {
    on_both(|server| async move {
        let holder = contact_with_email(&server, "ana@example.com").await;
        let status = server
            .contacts()
            .await
            .create_contact(server.req(pb::CreateContactRequest {
                contact: Some(pb::Contact {
                    display_name: "Impostor".into(),
                    emails: vec![email("other@example.com"), email("ANA@example.com")],
                    phones: vec![phone("+1 650 253 0000")],
                    ..Default::default()
                }),
                request_id: String::new(),
            }))
            .await
            .unwrap_err();
        assert_claimed_by(&status, &holder.id);

        let all = server.list_all().await;
        assert_eq!(all.len(), 1, "{all:?}");
        assert_eq!(all[0], holder);
        // Neither of the refused contact's other addresses was kept.
        for free in [
            sender(pb::Channel::Email, "other@example.com"),
            sender(pb::Channel::Sms, "+16502530000"),
        ] {
            let resolved = server.resolve(free).await;
            assert!(resolved.created, "{resolved:?}");
            assert_ne!(resolved.contact.unwrap().id, holder.id);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_id_held_by_another_contact_is_already_exists() {
    on_both(|server| async move {
        let holder = server
            .create(pb::Contact {
                display_name: "Ana".into(),
                external_id: "crm-42".into(),
                ..Default::default()
            })
            .await;
        let status = server
            .contacts()
            .await
            .create_contact(server.req(pb::CreateContactRequest {
                contact: Some(pb::Contact {
                    display_name: "Bea".into(),
                    external_id: "crm-42".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            }))
            .await
            .unwrap_err();
        assert_claimed_by(&status, &holder.id);
        assert_eq!(server.list_all().await.len(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_request_id_returns_the_first_contact() {
    on_both(|server| async move {
        let mut client = server.contacts().await;
        let request = pb::CreateContactRequest {
            contact: Some(pb::Contact {
                display_name: "Ana".into(),
                emails: vec![email("ana@example.com")],
                ..Default::default()
            }),
            request_id: "7b1f7c1e-retry-1".into(),
        };
        let first = client
            .create_contact(server.req(request.clone()))
            .await
            .unwrap()
            .into_inner();
        let retried = client
            .create_contact(server.req(request))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(retried.id, first.id);
        assert_eq!(retried, first);
        assert_eq!(server.list_all().await, [first]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_id_longer_than_128_characters_is_invalid() {
    on_both(|server| async move {
        let status = server
            .contacts()
            .await
            .create_contact(server.req(pb::CreateContactRequest {
                contact: Some(pb::Contact {
                    display_name: "Ana".into(),
                    ..Default::default()
                }),
                request_id: "r".repeat(129),
            }))
            .await
            .unwrap_err();
        assert_invalid(&status, &["request_id"]);
        assert_eq!(server.list_all().await, []);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_finds_a_contact_and_refuses_unknown_and_malformed_ids() {
    on_both(|server| async move {
        let created = server
            .create(pb::Contact {
                display_name: "Ana".into(),
                ..Default::default()
            })
            .await;
        let mut client = server.contacts().await;
        let found = client
            .get_contact(server.req(pb::GetContactRequest {
                id: created.id.clone(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(found, created);

        let status = client
            .get_contact(server.req(pb::GetContactRequest {
                id: uuid::Uuid::now_v7().to_string(),
            }))
            .await
            .unwrap_err();
        assert_code(&status, Code::NotFound);

        for malformed in ["not-a-uuid", ""] {
            let status = client
                .get_contact(server.req(pb::GetContactRequest {
                    id: malformed.into(),
                }))
                .await
                .unwrap_err();
            assert_invalid(&status, &["id"]);
        }
    })
    .await;
}

async fn create_numbered(server: &crate::harness::TestServer, count: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(count);
    for number in 0..count {
        let created = server
            .create(pb::Contact {
                display_name: format!("Contact {number}"),
                emails: vec![email(&format!("contact{number}@example.com"))],
                ..Default::default()
            })
            .await;
        ids.push(created.id);
    }
    ids
}

async fn list_in_pages(server: &crate::harness::TestServer, page_size: i32) -> Vec<Vec<String>> {
    let mut client = server.contacts().await;
    let mut pages = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_contacts(server.req(pb::ListContactsRequest {
                page_size,
                page_token,
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        pages.push(page.contacts.into_iter().map(|c| c.id).collect());
        assert!(pages.len() < 100, "paging does not end");
        if page.next_page_token.is_empty() {
            return pages;
        }
        page_token = page.next_page_token;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_pages_through_every_contact_once_in_creation_order() {
    on_both(|server| async move {
        assert_eq!(list_in_pages(&server, 3).await, [Vec::<String>::new()]);
        let ids = create_numbered(&server, 7).await;

        let pages = list_in_pages(&server, 3).await;
        let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
        assert_eq!(sizes, [3, 3, 1]);
        assert_eq!(pages.concat(), ids);

        // A last page that is exactly full carries no token to an empty page.
        let pages = list_in_pages(&server, 7).await;
        assert_eq!(pages, std::slice::from_ref(&ids));

        let pages = list_in_pages(&server, 1).await;
        assert_eq!(pages.len(), 7);
        assert_eq!(pages.concat(), ids);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_token_stays_valid_while_contacts_arrive() {
    on_both(|server| async move {
        let mut ids = create_numbered(&server, 4).await;
        let mut client = server.contacts().await;
        let first = client
            .list_contacts(server.req(pb::ListContactsRequest {
                page_size: 2,
                page_token: String::new(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        let newcomer = server
            .create(pb::Contact {
                display_name: "Late".into(),
                ..Default::default()
            })
            .await;
        ids.push(newcomer.id);
        let rest = client
            .list_contacts(server.req(pb::ListContactsRequest {
                page_size: 10,
                page_token: first.next_page_token,
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        let seen: Vec<String> = first
            .contacts
            .into_iter()
            .chain(rest.contacts)
            .map(|c| c.id)
            .collect();
        assert_eq!(seen, ids);
        assert!(rest.next_page_token.is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_refuses_garbage_tokens_and_negative_sizes() {
    on_both(|server| async move {
        create_numbered(&server, 1).await;
        let mut client = server.contacts().await;
        for garbage in ["garbage", "c1.zz", "c1."] {
            let status = client
                .list_contacts(server.req(pb::ListContactsRequest {
                    page_size: 10,
                    page_token: garbage.into(),
                    ..Default::default()
                }))
                .await
                .unwrap_err();
            assert_invalid(&status, &["page_token"]);
        }
        for negative in [-1, i32::MIN] {
            let status = client
                .list_contacts(server.req(pb::ListContactsRequest {
                    page_size: negative,
                    page_token: String::new(),
                    ..Default::default()
                }))
                .await
                .unwrap_err();
            assert_invalid(&status, &["page_size"]);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_defaults_to_50_and_clamps_large_page_sizes() {
    on_both(|server| async move {
        let ids = create_numbered(&server, 51).await;
        let mut client = server.contacts().await;
        let default = client
            .list_contacts(server.req(pb::ListContactsRequest::default()))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(default.contacts.len(), 50);
        assert!(!default.next_page_token.is_empty());
        for large in [1001, 5000, i32::MAX] {
            let page = client
                .list_contacts(server.req(pb::ListContactsRequest {
                    page_size: large,
                    page_token: String::new(),
                    ..Default::default()
                }))
                .await
                .unwrap_or_else(|status| panic!("page_size {large}: {status:?}"))
                .into_inner();
            let listed: Vec<String> = page.contacts.into_iter().map(|c| c.id).collect();
            assert_eq!(listed, ids);
            assert!(page.next_page_token.is_empty());
        }
    })
    .await;
}

fn update(contact: pb::Contact, paths: &[&str], etag: &str) -> pb::UpdateContactRequest {
    pb::UpdateContactRequest {
        contact: Some(contact),
        update_mask: mask(paths),
        etag: etag.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_changes_only_the_fields_in_the_mask() {
    on_both(|server| async move {
        let created = server.create(full_contact()).await;
        let mut client = server.contacts().await;
        let updated = client
            .update_contact(server.req(update(
                pb::Contact {
                    id: created.id.clone(),
                    display_name: "Not this".into(),
                    city: "Porto".into(),
                    language: "pt-PT".into(),
                    blocked: false,
                    lifecycle_stage: pb::LifecycleStage::Vip as i32,
                    ..Default::default()
                },
                &["city", "blocked", "lifecycle_stage"],
                "",
            )))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(updated.city, "Porto");
        assert!(!updated.blocked);
        assert_eq!(updated.lifecycle_stage, pb::LifecycleStage::Vip as i32);
        // Everything outside the mask is as it was.
        assert_eq!(updated.display_name, created.display_name);
        assert_eq!(updated.language, created.language);
        assert_eq!(updated.emails, created.emails);
        assert_eq!(updated.phones, created.phones);
        assert_eq!(updated.identities, created.identities);
        assert_eq!(updated.external_id, created.external_id);
        assert_eq!(updated.country, created.country);
        assert_eq!(updated.avatar_url, created.avatar_url);
        assert_eq!(updated.create_time, created.create_time);
        assert_ne!(updated.etag, created.etag);
        let (before, after) = (created.update_time.unwrap(), updated.update_time.unwrap());
        assert!(
            (after.seconds, after.nanos) >= (before.seconds, before.nanos),
            "{before:?} then {after:?}"
        );
        assert_eq!(server.get(&created.id).await, updated);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_with_an_empty_mask_changes_the_fields_that_are_set() {
    on_both(|server| async move {
        let created = server.create(full_contact()).await;
        let updated = server
            .contacts()
            .await
            .update_contact(server.req(update(
                pb::Contact {
                    id: created.id.clone(),
                    city: "Porto".into(),
                    ..Default::default()
                },
                &[],
                "",
            )))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(updated.city, "Porto");
        assert_eq!(updated.display_name, created.display_name);
        assert_eq!(updated.emails, created.emails);
        // Unset booleans are not implied: blocked stays true.
        assert!(updated.blocked);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updating_emails_replaces_the_list_and_frees_the_removed_ones() {
    on_both(|server| async move {
        let created = server
            .create(pb::Contact {
                display_name: "Ana".into(),
                emails: vec![email("old@example.com"), email("kept@example.com")],
                phones: vec![phone("+1 650 253 0000")],
                ..Default::default()
            })
            .await;
        let updated = server
            .contacts()
            .await
            .update_contact(server.req(update(
                pb::Contact {
                    id: created.id.clone(),
                    emails: vec![email("kept@example.com"), email("New@Example.com")],
                    ..Default::default()
                },
                &["emails"],
                "",
            )))
            .await
            .unwrap()
            .into_inner();
        let addresses: Vec<(&str, bool)> = updated
            .emails
            .iter()
            .map(|e| (e.normalized_address.as_str(), e.primary))
            .collect();
        assert_eq!(
            addresses,
            [("kept@example.com", true), ("new@example.com", false)]
        );
        assert_eq!(updated.phones, created.phones);

        let new = server
            .resolve(sender(pb::Channel::Email, "new@example.com"))
            .await;
        assert!(!new.created);
        assert_eq!(new.contact.unwrap().id, created.id);
        let old = server
            .resolve(sender(pb::Channel::Email, "old@example.com"))
            .await;
        assert!(old.created, "a removed email still resolves: {old:?}");
        assert_ne!(old.contact.unwrap().id, created.id);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_with_a_stale_etag_is_aborted_and_changes_nothing() {
    on_both(|server| async move {
        let created = server
            .create(pb::Contact {
                display_name: "Ana".into(),
                city: "Lisbon".into(),
                ..Default::default()
            })
            .await;
        let mut client = server.contacts().await;
        let first = client
            .update_contact(server.req(update(
                pb::Contact {
                    id: created.id.clone(),
                    city: "Porto".into(),
                    ..Default::default()
                },
                &["city"],
                &created.etag,
            )))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(first.city, "Porto");
        assert_ne!(first.etag, created.etag);

        let status = client
            .update_contact(server.req(update(
                pb::Contact {
                    id: created.id.clone(),
                    city: "Faro".into(),
                    ..Default::default()
                },
                &["city"],
                &created.etag,
            )))
            .await
            .unwrap_err();
        assert_code(&status, Code::Aborted);
        assert_eq!(server.get(&created.id).await, first);

        let second = client
            .update_contact(server.req(update(
                pb::Contact {
                    id: created.id.clone(),
                    city: "Faro".into(),
                    ..Default::default()
                },
                &["city"],
                &first.etag,
            )))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(second.city, "Faro");
        assert_ne!(second.etag, first.etag);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_refuses_unknown_mask_paths_and_bad_values() {
    on_both(|server| async move {
        let created = server
            .create(pb::Contact {
                display_name: "Ana".into(),
                ..Default::default()
            })
            .await;
        let mut client = server.contacts().await;
        let with_city = pb::Contact {
            id: created.id.clone(),
            city: "Porto".into(),
            ..Default::default()
        };
        let status = client
            .update_contact(server.req(update(with_city.clone(), &["nickname"], "")))
            .await
            .unwrap_err();
        assert_invalid(&status, &["update_mask.paths[0]"]);
        let status = client
            .update_contact(server.req(update(with_city.clone(), &["city", "id"], "")))
            .await
            .unwrap_err();
        assert_invalid(&status, &["update_mask.paths[1]"]);

        let status = client
            .update_contact(server.req(update(
                pb::Contact {
                    id: created.id.clone(),
                    country: "Brazil".into(),
                    phones: vec![phone("12")],
                    ..Default::default()
                },
                &["country", "phones"],
                "",
            )))
            .await
            .unwrap_err();
        assert_invalid(&status, &["contact.country", "contact.phones[0].number"]);

        let status = client
            .update_contact(server.req(update(
                pb::Contact {
                    id: "nope".into(),
                    ..with_city.clone()
                },
                &["city"],
                "",
            )))
            .await
            .unwrap_err();
        assert_invalid(&status, &["contact.id"]);

        let status = client
            .update_contact(server.req(pb::UpdateContactRequest {
                contact: None,
                update_mask: mask(&["city"]),
                etag: String::new(),
            }))
            .await
            .unwrap_err();
        assert_invalid(&status, &["contact"]);

        let status = client
            .update_contact(server.req(update(
                pb::Contact {
                    id: uuid::Uuid::now_v7().to_string(),
                    ..with_city
                },
                &["city"],
                "",
            )))
            .await
            .unwrap_err();
        assert_code(&status, Code::NotFound);

        assert_eq!(server.get(&created.id).await, created);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taking_another_contacts_email_by_update_is_already_exists() {
    on_both(|server| async move {
        let holder = contact_with_email(&server, "ana@example.com").await;
        let other = contact_with_email(&server, "bea@example.com").await;
        let status = server
            .contacts()
            .await
            .update_contact(server.req(update(
                pb::Contact {
                    id: other.id.clone(),
                    emails: vec![email("bea@example.com"), email("Ana@Example.com")],
                    ..Default::default()
                },
                &["emails"],
                "",
            )))
            .await
            .unwrap_err();
        assert_claimed_by(&status, &holder.id);
        assert_eq!(server.get(&other.id).await, other);
        assert_eq!(server.get(&holder.id).await, holder);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_contact_is_gone_and_its_addresses_are_free() {
    on_both(|server| async move {
        let created = server
            .create(pb::Contact {
                emails: vec![email("ana@example.com")],
                phones: vec![phone("+1 650 253 0000")],
                identities: vec![identity(pb::IdentityKind::Instagram, "@ana")],
                ..Default::default()
            })
            .await;
        let mut client = server.contacts().await;
        client
            .delete_contact(server.req(pb::DeleteContactRequest {
                id: created.id.clone(),
                etag: created.etag.clone(),
            }))
            .await
            .unwrap();
        let status = client
            .get_contact(server.req(pb::GetContactRequest {
                id: created.id.clone(),
            }))
            .await
            .unwrap_err();
        assert_code(&status, Code::NotFound);
        let status = client
            .delete_contact(server.req(pb::DeleteContactRequest {
                id: created.id.clone(),
                etag: String::new(),
            }))
            .await
            .unwrap_err();
        assert_code(&status, Code::NotFound);
        assert_eq!(server.list_all().await, []);

        for freed in [
            sender(pb::Channel::Email, "ana@example.com"),
            sender(pb::Channel::Whatsapp, "16502530000"),
            sender(pb::Channel::Instagram, "ana"),
        ] {
            let resolved = server.resolve(freed).await;
            assert!(resolved.created, "{resolved:?}");
            assert_ne!(resolved.contact.unwrap().id, created.id);
        }
        // Each freed address now makes a contact of its own.
        assert_eq!(server.list_all().await.len(), 3);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_with_a_stale_etag_is_aborted_and_keeps_the_contact() {
    on_both(|server| async move {
        let created = contact_with_email(&server, "ana@example.com").await;
        let mut client = server.contacts().await;
        let changed = client
            .update_contact(server.req(update(
                pb::Contact {
                    id: created.id.clone(),
                    city: "Porto".into(),
                    ..Default::default()
                },
                &["city"],
                "",
            )))
            .await
            .unwrap()
            .into_inner();
        let status = client
            .delete_contact(server.req(pb::DeleteContactRequest {
                id: created.id.clone(),
                etag: created.etag.clone(),
            }))
            .await
            .unwrap_err();
        assert_code(&status, Code::Aborted);
        assert_eq!(server.get(&created.id).await, changed);
        let status = client
            .delete_contact(server.req(pb::DeleteContactRequest {
                id: "not-a-uuid".into(),
                etag: String::new(),
            }))
            .await
            .unwrap_err();
        assert_invalid(&status, &["id"]);
        let status = client
            .delete_contact(server.req(pb::DeleteContactRequest {
                id: created.id.clone(),
                etag: "garbage".into(),
            }))
            .await
            .unwrap_err();
        assert_invalid(&status, &["etag"]);
        client
            .delete_contact(server.req(pb::DeleteContactRequest {
                id: created.id.clone(),
                etag: changed.etag,
            }))
            .await
            .unwrap();
        assert_eq!(server.list_all().await, []);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emptied_display_name_falls_back_to_the_default() {
    on_both(|server| async move {
        let created = server
            .create(pb::Contact {
                display_name: "Ana".into(),
                emails: vec![email("Ana.Souza@Example.com")],
                ..Default::default()
            })
            .await;
        let updated = server
            .contacts()
            .await
            .update_contact(server.req(update(
                pb::Contact {
                    id: created.id.clone(),
                    ..Default::default()
                },
                &["display_name"],
                "",
            )))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(updated.display_name, "Ana.Souza");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_external_id_can_be_changed_cleared_and_is_unique() {
    on_both(|server| async move {
        let holder = server
            .create(pb::Contact {
                display_name: "Holder".into(),
                external_id: "crm-1".into(),
                ..Default::default()
            })
            .await;
        let contact = server
            .create(pb::Contact {
                display_name: "Ana".into(),
                external_id: "crm-2".into(),
                ..Default::default()
            })
            .await;
        let mut client = server.contacts().await;
        let status = client
            .update_contact(server.req(update(
                pb::Contact {
                    id: contact.id.clone(),
                    external_id: "crm-1".into(),
                    ..Default::default()
                },
                &["external_id"],
                "",
            )))
            .await
            .unwrap_err();
        assert_claimed_by(&status, &holder.id);
        assert_eq!(server.get(&contact.id).await, contact);

        let changed = client
            .update_contact(server.req(update(
                pb::Contact {
                    id: contact.id.clone(),
                    external_id: "crm-3".into(),
                    ..Default::default()
                },
                &["external_id"],
                "",
            )))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(changed.external_id, "crm-3");
        let cleared = client
            .update_contact(server.req(update(
                pb::Contact {
                    id: contact.id.clone(),
                    ..Default::default()
                },
                &["external_id"],
                "",
            )))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(cleared.external_id, "");
        // The old ids are free again: the holder may take crm-3.
        let taken = client
            .update_contact(server.req(update(
                pb::Contact {
                    id: holder.id.clone(),
                    external_id: "crm-3".into(),
                    ..Default::default()
                },
                &["external_id"],
                "",
            )))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(taken.external_id, "crm-3");
        let by_old = server
            .resolve(pb::ResolveSenderRequest {
                external_id: "crm-2".into(),
                ..sender(pb::Channel::Webchat, "visitor-9")
            })
            .await;
        assert!(by_old.created, "{by_old:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_id_is_free_again_once_its_contact_is_deleted() {
    on_both(|server| async move {
        let mut client = server.contacts().await;
        let request = pb::CreateContactRequest {
            contact: Some(pb::Contact {
                emails: vec![email("ana@example.com")],
                ..Default::default()
            }),
            request_id: "retry-after-delete".into(),
        };
        let first = client
            .create_contact(server.req(request.clone()))
            .await
            .unwrap()
            .into_inner();
        client
            .delete_contact(server.req(pb::DeleteContactRequest {
                id: first.id.clone(),
                etag: String::new(),
            }))
            .await
            .unwrap();
        let second = client
            .create_contact(server.req(request))
            .await
            .unwrap()
            .into_inner();
        assert_ne!(second.id, first.id);
        assert_eq!(server.list_all().await, [second]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn international_email_domains_are_stored_in_ascii() {
    on_both(|server| async move {
        let created = contact_with_email(&server, "Ana@Bücher.Example").await;
        assert_eq!(created.emails[0].address, "Ana@Bücher.Example");
        assert_eq!(
            created.emails[0].normalized_address,
            "ana@xn--bcher-kva.example"
        );
        let resolved = server
            .resolve(sender(pb::Channel::Email, "ana@xn--bcher-kva.example"))
            .await;
        assert_eq!(resolved.contact.unwrap().id, created.id);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_holds_at_most_100_addresses() {
    on_both(|server| async move {
        let emails = |count: usize| -> Vec<pb::EmailAddress> {
            (0..count)
                .map(|n| email(&format!("ana{n}@example.com")))
                .collect()
        };
        let mut client = server.contacts().await;
        let status = client
            .create_contact(server.req(pb::CreateContactRequest {
                contact: Some(pb::Contact {
                    emails: emails(101),
                    ..Default::default()
                }),
                request_id: String::new(),
            }))
            .await
            .unwrap_err();
        assert_code(&status, Code::InvalidArgument);
        assert_eq!(server.list_all().await, []);

        let full = server
            .create(pb::Contact {
                emails: emails(100),
                ..Default::default()
            })
            .await;
        assert_eq!(full.emails.len(), 100);
        let status = client
            .add_identity(server.req(pb::AddIdentityRequest {
                contact_id: full.id.clone(),
                identity: Some(identity(pb::IdentityKind::Instagram, "ana")),
                primary: false,
                etag: String::new(),
            }))
            .await
            .unwrap_err();
        assert_invalid(&status, &["identity"]);
        assert_eq!(server.get(&full.id).await, full);
    })
    .await;
}

/// A full contact still resolves by its addresses; a hint that no longer
/// fits is not attached, so the contact stays within its limit and can
/// still be edited afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolution_never_grows_a_contact_past_its_address_limit() {
    on_both(|server| async move {
        let full = server
            .create(pb::Contact {
                emails: (0..100)
                    .map(|n| email(&format!("ana{n}@example.com")))
                    .collect(),
                ..Default::default()
            })
            .await;
        let resolved = server
            .contacts()
            .await
            .resolve_sender(server.req(pb::ResolveSenderRequest {
                phone: "+1 650 253 0000".into(),
                ..sender(pb::Channel::Email, "ana0@example.com")
            }))
            .await;
        let held = resolved.ok().map(|resolved| {
            let contact = resolved.into_inner().contact.unwrap();
            assert_eq!(contact.id, full.id);
            contact.emails.len() + contact.phones.len()
        });
        // Whatever resolution did, ordinary edits still work.
        let updated = server
            .contacts()
            .await
            .update_contact(server.req(update(
                pb::Contact {
                    id: full.id.clone(),
                    city: "Porto".into(),
                    ..Default::default()
                },
                &["city"],
                "",
            )))
            .await
            .unwrap_or_else(|status| {
                panic!("after resolution ({held:?} addresses) it cannot be edited: {status:?}")
            })
            .into_inner();
        assert_eq!(updated.city, "Porto");
        if let Some(held) = held {
            assert!(
                held <= 100,
                "resolution grew the contact to {held} addresses"
            );
        }
    })
    .await;
}

/// Emails and phones have lists of their own; an email sent among the
/// channel identities is refused on create exactly as on update.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_among_the_channel_identities_is_refused() {
    on_both(|server| async move {
        let mut client = server.contacts().await;
        let created = server
            .create(pb::Contact {
                display_name: "Ana".into(),
                ..Default::default()
            })
            .await;
        let status = client
            .update_contact(server.req(update(
                pb::Contact {
                    id: created.id.clone(),
                    identities: vec![identity(pb::IdentityKind::Email, "ana@example.com")],
                    ..Default::default()
                },
                &["identities"],
                "",
            )))
            .await
            .unwrap_err();
        assert_invalid(&status, &["contact.identities[0].kind"]);
        let status = client
            .create_contact(server.req(pb::CreateContactRequest {
                contact: Some(pb::Contact {
                    identities: vec![identity(pb::IdentityKind::Email, "ana@example.com")],
                    ..Default::default()
                }),
                request_id: String::new(),
            }))
            .await
            .unwrap_err();
        assert_invalid(&status, &["contact.identities[0].kind"]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_with_a_star_mask_replaces_every_field() {
    on_both(|server| async move {
        let created = server.create(full_contact()).await;
        let updated = server
            .contacts()
            .await
            .update_contact(server.req(update(
                pb::Contact {
                    id: created.id.clone(),
                    display_name: "Bea".into(),
                    emails: vec![email("bea@example.com")],
                    lifecycle_stage: pb::LifecycleStage::Active as i32,
                    ..Default::default()
                },
                &["*"],
                &created.etag,
            )))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(updated.display_name, "Bea");
        assert_eq!(updated.emails.len(), 1);
        assert_eq!(updated.emails[0].normalized_address, "bea@example.com");
        assert_eq!(updated.phones, []);
        assert_eq!(updated.identities, []);
        assert_eq!(updated.external_id, "");
        assert_eq!(updated.city, "");
        assert_eq!(updated.country, "");
        assert_eq!(updated.language, "");
        assert_eq!(updated.avatar_url, "");
        assert!(!updated.blocked);
        assert_eq!(updated.lifecycle_stage, pb::LifecycleStage::Active as i32);
        assert_eq!(server.get(&created.id).await, updated);
        // What the star cleared is free for others.
        let freed = server
            .resolve(sender(pb::Channel::Instagram, "ana_s"))
            .await;
        assert!(freed.created);
    })
    .await;
}
