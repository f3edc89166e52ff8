//! ListContacts with an AIP-160 filter and CountContacts: tags, channels,
//! engagement, times, stages, NOT over contacts never contacted, page
//! tokens bound to their filter, bad filters named with their position.

use crm_proto::v1 as pb;
use pb::custom_field_value::Value;

use crate::fixtures::{
    all_pages, assert_invalid, contact_field, contact_with_email, record_conversation as record,
};
use crate::harness::{TestServer, on_both};

/// Every contact `ListContacts(filter, order_by)` returns, page by page.
async fn every_page(
    server: &TestServer,
    filter: &str,
    order_by: &str,
    page_size: i32,
) -> Vec<pb::Contact> {
    let client = server.contacts().await;
    all_pages(|page_token| {
        let mut client = client.clone();
        let request = server.req(pb::ListContactsRequest {
            page_size,
            page_token,
            filter: filter.into(),
            order_by: order_by.into(),
            ..Default::default()
        });
        async move {
            let page = client
                .list_contacts(request)
                .await
                .unwrap_or_else(|status| panic!("{filter} {order_by}: {status:?}"))
                .into_inner();
            (page.contacts, page.next_page_token)
        }
    })
    .await
}

/// The first email of every contact `filter` selects, sorted.
async fn listed(server: &TestServer, filter: &str, page_size: i32) -> Vec<String> {
    let mut names: Vec<String> = every_page(server, filter, "", page_size)
        .await
        .into_iter()
        .map(|contact| contact.emails[0].address.clone())
        .collect();
    names.sort();
    names
}

async fn counted(server: &TestServer, filter: &str) -> (i64, bool) {
    let counted = server
        .contacts()
        .await
        .count_contacts(server.req(pb::CountContactsRequest {
            filter: filter.into(),
            ..Default::default()
        }))
        .await
        .unwrap_or_else(|status| panic!("{filter}: {status:?}"))
        .into_inner();
    (counted.count, counted.count_is_lower_bound)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_select_by_tags_channels_engagement_and_time_and_counts_agree() {
    on_both(|server| async move {
        let ana = contact_with_email(&server, "ana@x.com").await;
        let bo = contact_with_email(&server, "bo@x.com").await;
        let cy = contact_with_email(&server, "cy@x.com").await;
        contact_with_email(&server, "di@x.com").await;
        let mut contacts = server.contacts().await;
        for contact in [&ana, &bo] {
            contacts
                .add_contact_tags(server.req(pb::AddContactTagsRequest {
                    contact_id: contact.id.clone(),
                    tags: vec!["VIP".into()],
                    etag: String::new(),
                }))
                .await
                .unwrap();
        }
        for n in 0..5 {
            record(
                &server,
                &ana.id,
                &format!("A-{n}"),
                pb::Channel::Whatsapp,
                5,
            )
            .await;
        }
        record(&server, &bo.id, "B-1", pb::Channel::Email, 2).await;
        record(&server, &cy.id, "C-1", pb::Channel::Whatsapp, 0).await;

        let cases: [(&str, &[&str]); 9] = [
            ("", &["ana@x.com", "bo@x.com", "cy@x.com", "di@x.com"]),
            ("tags:vip", &["ana@x.com", "bo@x.com"]),
            (
                "channels:whatsapp AND tags:vip AND engagement.conversation_count >= 5",
                &["ana@x.com"],
            ),
            (
                "tags:vip channels:email OR channels:whatsapp",
                &["ana@x.com", "bo@x.com"],
            ),
            ("-tags:vip", &["cy@x.com", "di@x.com"]),
            ("engagement.csat_average > 4.5", &["ana@x.com"]),
            (
                "NOT engagement.last_contact_time >= \"2026-01-01\"",
                &["di@x.com"],
            ),
            (
                "create_time >= \"2020-01-01T00:00:00Z\" AND lifecycle_stage = prospect",
                &["ana@x.com", "bo@x.com", "cy@x.com", "di@x.com"],
            ),
            (
                "(tags:vip OR channels:whatsapp) AND NOT blocked = true",
                &["ana@x.com", "bo@x.com", "cy@x.com"],
            ),
        ];
        for (filter, expected) in cases {
            assert_eq!(listed(&server, filter, 1).await, expected, "{filter}");
            assert_eq!(
                counted(&server, filter).await,
                (i64::try_from(expected.len()).unwrap(), false),
                "{filter}"
            );
        }

        // A token is bound to its filter.
        let first = contacts
            .list_contacts(server.req(pb::ListContactsRequest {
                page_size: 1,
                filter: "tags:vip".into(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        let status = contacts
            .list_contacts(server.req(pb::ListContactsRequest {
                page_size: 1,
                page_token: first.next_page_token,
                filter: "channels:whatsapp".into(),
                ..Default::default()
            }))
            .await
            .unwrap_err();
        assert_invalid(&status, &["page_token"]);

        // Bad filters say what and where; nothing long is echoed.
        for (bad, says) in [
            ("colour = red", "at position 0: unknown field `colour`"),
            (
                "tags:vip AND city",
                "at position 13: `city` needs a comparator",
            ),
            ("engagement.conversation_count >= lots", "whole number"),
        ] {
            let status = contacts
                .list_contacts(server.req(pb::ListContactsRequest {
                    filter: bad.into(),
                    ..Default::default()
                }))
                .await
                .unwrap_err();
            assert_invalid(&status, &["filter"]);
            assert!(
                status.message().contains(says),
                "{bad}: {}",
                status.message()
            );
            let status = contacts
                .count_contacts(server.req(pb::CountContactsRequest {
                    filter: bad.into(),
                    ..Default::default()
                }))
                .await
                .unwrap_err();
            assert_invalid(&status, &["filter"]);
        }
        let many = vec!["tags:a"; 26].join(" AND ");
        let status = contacts
            .count_contacts(server.req(pb::CountContactsRequest {
                filter: many,
                ..Default::default()
            }))
            .await
            .unwrap_err();
        assert!(
            status.message().contains("at most 25"),
            "{}",
            status.message()
        );
        let status = contacts
            .count_contacts(server.req(pb::CountContactsRequest {
                filter: format!("{} = 1", "x".repeat(1900)),
                ..Default::default()
            }))
            .await
            .unwrap_err();
        assert!(status.message().len() < 300, "{}", status.message());

        // Another tenant counts none of them.
        let other = server.new_tenant("US").await;
        let theirs = contacts
            .count_contacts(crate::harness::with_key(
                pb::CountContactsRequest::default(),
                &other,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(theirs.count, 0);
    })
    .await;
}

fn valued(value: Value) -> pb::CustomFieldValue {
    pb::CustomFieldValue { value: Some(value) }
}

fn date(year: i32, month: i32, day: i32) -> Value {
    Value::DateValue(pb::Date { year, month, day })
}

async fn with_values(
    server: &TestServer,
    address: &str,
    values: Vec<(&str, Value)>,
) -> pb::Contact {
    server
        .create(pb::Contact {
            custom_fields: values
                .into_iter()
                .map(|(key, value)| (key.to_owned(), valued(value)))
                .collect(),
            ..crate::fixtures::with_email(address)
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_fields_filter_by_their_type_from_the_moment_they_are_written() {
    on_both(|server| async move {
        for field in [
            contact_field("Plan", pb::CustomFieldType::SingleSelect, &["Free", "Pro"]),
            contact_field(
                "Products",
                pb::CustomFieldType::MultiSelect,
                &["CRM", "Chat"],
            ),
            contact_field("Renewal date", pb::CustomFieldType::Date, &[]),
            contact_field("Seats", pb::CustomFieldType::Number, &[]),
            contact_field("Company", pb::CustomFieldType::Text, &[]),
        ] {
            crate::fixtures::define_field(&server, field).await;
        }
        let ana = with_values(
            &server,
            "ana@x.com",
            vec![
                ("plan", Value::SelectValue("pro".into())),
                (
                    "products",
                    Value::MultiSelectValue(pb::OptionKeys {
                        keys: vec!["crm".into(), "chat".into()],
                    }),
                ),
                ("renewal_date", date(2026, 12, 31)),
                ("seats", Value::NumberValue("9.5".into())),
                ("company", Value::TextValue("Acme Ltda".into())),
            ],
        )
        .await;
        with_values(
            &server,
            "bo@x.com",
            vec![
                ("plan", Value::SelectValue("free".into())),
                (
                    "products",
                    Value::MultiSelectValue(pb::OptionKeys {
                        keys: vec!["chat".into()],
                    }),
                ),
                ("renewal_date", date(2027, 3, 1)),
                ("seats", Value::NumberValue("10".into())),
            ],
        )
        .await;
        with_values(
            &server,
            "cy@x.com",
            vec![("seats", Value::NumberValue("-2".into()))],
        )
        .await;

        let cases: [(&str, &[&str]); 10] = [
            ("custom_fields.plan = \"pro\"", &["ana@x.com"]),
            ("custom_fields.plan != pro", &["bo@x.com"]),
            ("NOT custom_fields.plan = pro", &["bo@x.com", "cy@x.com"]),
            ("custom_fields.products:chat", &["ana@x.com", "bo@x.com"]),
            ("custom_fields.products:crm", &["ana@x.com"]),
            (
                "custom_fields.renewal_date < \"2027-01-01\"",
                &["ana@x.com"],
            ),
            // Numbers compare as numbers, not as text ("9.5" < "10").
            ("custom_fields.seats > 9.75", &["bo@x.com"]),
            ("custom_fields.seats <= 9.5", &["ana@x.com", "cy@x.com"]),
            ("custom_fields.plan:*", &["ana@x.com", "bo@x.com"]),
            (
                "custom_fields.company = \"Acme Ltda\" OR custom_fields.seats < 0",
                &["ana@x.com", "cy@x.com"],
            ),
        ];
        for (filter, expected) in cases {
            assert_eq!(listed(&server, filter, 1).await, expected, "{filter}");
            assert_eq!(
                counted(&server, filter).await,
                (i64::try_from(expected.len()).unwrap(), false),
                "{filter}"
            );
        }

        // A changed value is filtered by its new value as soon as the
        // update returns; the old one no longer matches.
        let mut contacts = server.contacts().await;
        contacts
            .update_contact(server.req(pb::UpdateContactRequest {
                contact: Some(pb::Contact {
                    id: ana.id.clone(),
                    custom_fields:
                        [("plan".to_owned(), valued(Value::SelectValue("free".into())))].into(),
                    ..Default::default()
                }),
                update_mask: crate::fixtures::mask(&["custom_fields.plan"]),
                etag: String::new(),
            }))
            .await
            .unwrap();
        assert_eq!(
            listed(&server, "custom_fields.plan = free", 10).await,
            ["ana@x.com", "bo@x.com"]
        );
        assert!(
            listed(&server, "custom_fields.plan = pro", 10)
                .await
                .is_empty()
        );

        // Values that do not fit the field, and unknown keys, are named.
        for (bad, says) in [
            ("custom_fields.plan = gold", "not an option"),
            ("custom_fields.seats > many", "takes a number"),
            ("custom_fields.renewal_date < soon", "takes a date"),
            ("custom_fields.products = crm", "takes `:`"),
            (
                "tags:vip AND custom_fields.colour = red",
                "at position 13: unknown custom field `colour`",
            ),
            ("custom_fields.Bad-Key = 1", "not a custom field key"),
        ] {
            let status = contacts
                .count_contacts(server.req(pb::CountContactsRequest {
                    filter: bad.into(),
                    ..Default::default()
                }))
                .await
                .unwrap_err();
            assert_invalid(&status, &["filter"]);
            assert!(
                status.message().contains(says),
                "{bad}: {}",
                status.message()
            );
        }

        // A deleted contact leaves no value behind to match.
        contacts
            .delete_contact(server.req(pb::DeleteContactRequest {
                id: ana.id.clone(),
                etag: String::new(),
            }))
            .await
            .unwrap();
        assert_eq!(
            listed(
                &server,
                "custom_fields.products:crm OR custom_fields.seats = 9.5",
                10
            )
            .await,
            Vec::<String>::new()
        );
    })
    .await;
}

async fn ordered_names(server: &TestServer, filter: &str, order_by: &str) -> Vec<String> {
    every_page(server, filter, order_by, 2)
        .await
        .into_iter()
        .map(|contact| contact.display_name)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_follow_their_order_page_after_page() {
    on_both(|server| async move {
        let names = ["bruno", "Álvaro", "Carla", "ana", "Ana", "Davi"];
        for (index, name) in names.iter().enumerate() {
            server
                .create(pb::Contact {
                    display_name: (*name).into(),
                    ..crate::fixtures::with_email(&format!("c{index}@x.com"))
                })
                .await;
        }
        let by_name = ordered_names(&server, "", "display_name").await;
        assert_eq!(by_name[0], "Álvaro", "accents do not sort apart");
        assert!(
            by_name[1..3]
                .iter()
                .all(|name| name.eq_ignore_ascii_case("ana"))
        );
        assert_eq!(by_name[3..], ["bruno", "Carla", "Davi"], "nor does case");
        let mut backwards = ordered_names(&server, "", "display_name desc").await;
        backwards.reverse();
        assert_eq!(backwards, by_name, "desc is asc reversed, ties included");
        assert_eq!(
            ordered_names(&server, "", "create_time desc").await,
            ["Davi", "Ana", "ana", "Carla", "Álvaro", "bruno"]
        );
        assert_eq!(ordered_names(&server, "", "create_time").await, names);
        assert_eq!(
            ordered_names(&server, "display_name != Davi", "display_name desc").await[..2],
            ["Carla", "bruno"]
        );

        // A token is bound to its order; a bad order is named.
        let mut contacts = server.contacts().await;
        let first = contacts
            .list_contacts(server.req(pb::ListContactsRequest {
                page_size: 1,
                order_by: "display_name".into(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        let replayed = contacts
            .list_contacts(server.req(pb::ListContactsRequest {
                page_size: 1,
                page_token: first.next_page_token,
                order_by: "create_time".into(),
                ..Default::default()
            }))
            .await
            .unwrap_err();
        assert_invalid(&replayed, &["page_token"]);
        for bad in ["update_time", "display_name sideways", "display_name, id"] {
            let status = contacts
                .list_contacts(server.req(pb::ListContactsRequest {
                    order_by: bad.into(),
                    ..Default::default()
                }))
                .await
                .unwrap_err();
            assert_invalid(&status, &["order_by"]);
        }
    })
    .await;
}
