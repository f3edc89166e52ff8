//! SearchContacts end to end: names by prefix and infix, without regard to
//! case or accents; emails whole, by local part and by domain; phones
//! written any way; external ids; organizations by name and domain; the
//! ranking; paging; read-after-write; deleted contacts; tenant isolation;
//! bad queries.

use crm_proto::v1 as pb;

use crate::fixtures::{assert_invalid, create_org, email, org, phone, with_email};
use crate::harness::{TestServer, on_both, with_key};

async fn search_page(
    server: &TestServer,
    key: &str,
    query: &str,
    page_size: i32,
    page_token: &str,
) -> Result<pb::SearchContactsResponse, tonic::Status> {
    server
        .contacts()
        .await
        .search_contacts(with_key(
            pb::SearchContactsRequest {
                query: query.into(),
                page_size,
                page_token: page_token.into(),
            },
            key,
        ))
        .await
        .map(tonic::Response::into_inner)
}

/// The names of the results of `query` in the server's tenant, in order.
async fn names(server: &TestServer, query: &str) -> Vec<String> {
    search_page(server, &server.key, query, 0, "")
        .await
        .unwrap_or_else(|status| panic!("search {query:?} failed: {status:?}"))
        .results
        .into_iter()
        .map(|result| result.contact.unwrap_or_default().display_name)
        .collect()
}

/// What matched in the first result of `query`, as (field, type) pairs.
async fn first_matches(
    server: &TestServer,
    query: &str,
) -> Vec<(pb::SearchField, pb::SearchMatchType)> {
    let page = search_page(server, &server.key, query, 0, "")
        .await
        .unwrap();
    page.results[0]
        .matches
        .iter()
        .map(|found| (found.field(), found.r#type()))
        .collect()
}

async fn person(server: &TestServer, name: &str, contact: pb::Contact) -> pb::Contact {
    server
        .create(pb::Contact {
            display_name: name.into(),
            ..contact
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_box_finds_contacts_by_name_address_phone_id_and_organization() {
    on_both(|server| async move {
        use pb::SearchField as F;
        use pb::SearchMatchType as T;
        create_org(&server, org("Acme Corp", &["acme.com"])).await;
        let ana = person(
            &server,
            "Ana Silva",
            pb::Contact {
                emails: vec![email("ana.silva@acme.com")],
                phones: vec![phone("+1 650 253 0000")],
                ..Default::default()
            },
        )
        .await;
        person(
            &server,
            "José Santos",
            pb::Contact {
                external_id: "CRM-0042".into(),
                ..with_email("jose@gmail.com")
            },
        )
        .await;
        let silvia = person(&server, "Silvia Prado", with_email("silvia@example.org")).await;
        let bruno = person(&server, "Bruno Costa", with_email("bruno@acme.com")).await;
        person(
            &server,
            "Silva Exact",
            pb::Contact {
                external_id: "silv".into(),
                ..Default::default()
            },
        )
        .await;

        // Exact address first, then names that start with the query, then
        // names with a later word that does, by name; what matched is said.
        assert_eq!(
            names(&server, "silv").await,
            ["Silva Exact", "Silvia Prado", "Ana Silva"]
        );
        assert_eq!(
            first_matches(&server, "silv").await[0],
            (F::Name, T::Prefix)
        );
        assert!(
            first_matches(&server, "silv")
                .await
                .contains(&(F::ExternalId, T::Exact))
        );
        // Case and accents do not matter, either way round.
        assert_eq!(names(&server, "jose").await, ["José Santos"]);
        assert_eq!(names(&server, "JOSÉ").await, ["José Santos"]);
        assert_eq!(names(&server, "ilvi").await, ["Silvia Prado"]);
        // Emails: whole, local part, domain.
        assert_eq!(names(&server, "Ana.Silva@ACME.com").await, ["Ana Silva"]);
        assert_eq!(
            first_matches(&server, "ana.silva@acme.com").await,
            [(F::Email, T::Exact)]
        );
        assert_eq!(names(&server, "ana.silva").await, ["Ana Silva"]);
        assert_eq!(names(&server, "gmail.com").await, ["José Santos"]);
        // Organizations by domain and by name (both members, by name).
        assert_eq!(
            names(&server, "acme.com").await,
            ["Ana Silva", "Bruno Costa"]
        );
        assert_eq!(
            names(&server, "acme corp").await,
            ["Ana Silva", "Bruno Costa"]
        );
        assert!(
            first_matches(&server, "acme corp")
                .await
                .contains(&(F::Organization, T::Infix))
        );
        // Phones written any way.
        for written in ["+1 650 253 0000", "(650) 253-0000", "16502530000"] {
            assert_eq!(names(&server, written).await, ["Ana Silva"], "{written}");
        }
        assert_eq!(
            first_matches(&server, "(650) 253-0000").await,
            [(F::Phone, T::Exact)]
        );
        assert_eq!(names(&server, "253 00").await, ["Ana Silva"]);
        assert_eq!(
            first_matches(&server, "253 00").await,
            [(F::Phone, T::Infix)]
        );
        // External ids, exactly or in part, in any case.
        assert_eq!(names(&server, "CRM-0042").await, ["José Santos"]);
        assert_eq!(names(&server, "crm-00").await, ["José Santos"]);
        // Two characters: name prefixes only.
        assert_eq!(names(&server, "an").await, ["Ana Silva"]);
        assert!(names(&server, "zzz").await.is_empty());

        // Read-after-write: a rename is searchable the moment it returns.
        let mut client = server.contacts().await;
        client
            .update_contact(server.req(pb::UpdateContactRequest {
                contact: Some(pb::Contact {
                    id: silvia.id.clone(),
                    display_name: "Célia Prado".into(),
                    ..Default::default()
                }),
                update_mask: crate::fixtures::mask(&["display_name"]),
                etag: String::new(),
            }))
            .await
            .unwrap();
        assert_eq!(names(&server, "celia").await, ["Célia Prado"]);
        // The old name no longer matches; only the email still does.
        assert_eq!(
            first_matches(&server, "silvia").await,
            [(F::Email, T::Prefix)]
        );
        // A deleted contact is gone from search at once.
        client
            .delete_contact(server.req(pb::DeleteContactRequest {
                id: bruno.id.clone(),
                etag: String::new(),
            }))
            .await
            .unwrap();
        assert_eq!(names(&server, "acme.com").await, ["Ana Silva"]);
        assert!(names(&server, "bruno").await.is_empty());

        // Another tenant sees none of it, and its own.
        let other = server.new_tenant("US").await;
        let theirs = search_page(&server, &other, "silv", 0, "").await.unwrap();
        assert!(theirs.results.is_empty(), "{theirs:?}");
        assert_eq!(theirs.total_size, 0);
        server
            .create_with_key(
                pb::Contact {
                    display_name: "Silvio Outro".into(),
                    ..with_email("ana.silva@acme.com")
                },
                &other,
            )
            .await;
        assert_eq!(names(&server, "silvio").await, Vec::<String>::new());
        assert_eq!(names(&server, "ana.silva@acme.com").await, ["Ana Silva"]);
        assert_eq!(ana.display_name, "Ana Silva");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_follow_the_ranking_and_bad_queries_name_the_field() {
    on_both(|server| async move {
        for name in [
            "Maria Lima",
            "Mariana Costa",
            "Ana Maria Souza",
            "Rosa Mariano",
        ] {
            person(&server, name, pb::Contact::default()).await;
        }
        // Names that start with the query, then those with a later word
        // that does.
        let all = names(&server, "maria").await;
        assert_eq!(
            all,
            [
                "Maria Lima",
                "Mariana Costa",
                "Ana Maria Souza",
                "Rosa Mariano"
            ]
        );
        // One at a time through every page: the same order as one page.
        // While the names that start with the query fill the page, the
        // infix sources do not run and the total is a lower bound.
        let mut paged = Vec::new();
        let mut totals = Vec::new();
        let mut token = String::new();
        loop {
            let page = search_page(&server, &server.key, "maria", 1, &token)
                .await
                .unwrap();
            totals.push((page.total_size, page.total_size_is_lower_bound));
            paged.extend(
                page.results
                    .into_iter()
                    .map(|r| r.contact.unwrap().display_name),
            );
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
            assert!(paged.len() < 10, "paging never ends");
        }
        assert_eq!(paged, all);
        assert_eq!(totals, [(2, true), (2, true), (4, false), (4, false)]);

        // A token is bound to its query.
        let first = search_page(&server, &server.key, "maria", 1, "")
            .await
            .unwrap();
        let status = search_page(&server, &server.key, "ana", 1, &first.next_page_token)
            .await
            .unwrap_err();
        assert_invalid(&status, &["page_token"]);
        let status = search_page(&server, &server.key, "maria", 1, "forged")
            .await
            .unwrap_err();
        assert_invalid(&status, &["page_token"]);
        // Bad queries and sizes, each named; a long query is not echoed.
        for bad in ["", "   ", "--"] {
            let status = search_page(&server, &server.key, bad, 0, "")
                .await
                .unwrap_err();
            assert_invalid(&status, &["query"]);
        }
        let long = "x".repeat(100_000);
        let status = search_page(&server, &server.key, &long, 0, "")
            .await
            .unwrap_err();
        assert_invalid(&status, &["query"]);
        assert!(status.message().len() < 200, "{}", status.message());
        let status = search_page(&server, &server.key, "maria", -1, "")
            .await
            .unwrap_err();
        assert_invalid(&status, &["page_size"]);
    })
    .await;
}
