//! CustomFieldService end to end: defining fields (generated keys, every
//! type's checks), writing values through CreateContact/UpdateContact and
//! ResolveSender, changing and deleting fields, and shaping the layout.

use crm_proto::v1 as pb;
use pb::custom_field_value::Value;

use crate::fixtures::{assert_code, assert_invalid, define_field, email, mask, sender};
use crate::harness::{TestServer, on_both, with_key};

const CONTACT: i32 = pb::RecordType::Contact as i32;

/// Tab names with their sections' names and field keys.
type Shape = Vec<(String, Vec<(String, Vec<String>)>)>;

fn field(name: &str, kind: pb::CustomFieldType) -> pb::CustomField {
    pb::CustomField {
        record_type: CONTACT,
        display_name: name.into(),
        r#type: kind as i32,
        ..Default::default()
    }
}

fn option(label: &str) -> pb::SelectOption {
    pb::SelectOption {
        key: String::new(),
        label: label.into(),
        archived: false,
    }
}

fn value(value: Value) -> pb::CustomFieldValue {
    pb::CustomFieldValue { value: Some(value) }
}

fn text(text: &str) -> pb::CustomFieldValue {
    value(Value::TextValue(text.into()))
}

fn with_values(address: &str, values: &[(&str, pb::CustomFieldValue)]) -> pb::Contact {
    pb::Contact {
        emails: vec![email(address)],
        custom_fields: values
            .iter()
            .map(|(key, value)| ((*key).to_owned(), value.clone()))
            .collect(),
        ..Default::default()
    }
}

async fn create_contact(
    server: &TestServer,
    contact: pb::Contact,
) -> Result<pb::Contact, tonic::Status> {
    server
        .contacts()
        .await
        .create_contact(server.req(pb::CreateContactRequest {
            contact: Some(contact),
            request_id: String::new(),
        }))
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_generated_stable_and_never_clash() {
    on_both(|server| async move {
        let mut client = server.fields().await;
        let renewal = define_field(&server, field("Renewal date", pb::CustomFieldType::Date)).await;
        assert_eq!(renewal.key, "renewal_date");
        let again = define_field(&server, field("Renewal  Date!", pb::CustomFieldType::Date)).await;
        assert_eq!(again.key, "renewal_date_2");
        let city = define_field(&server, field("City", pb::CustomFieldType::Text)).await;
        assert_eq!(city.key, "city_2", "a standard field's name is never a key");

        // Renaming keeps the key.
        let renamed = client
            .update_custom_field(server.req(pb::UpdateCustomFieldRequest {
                field: Some(pb::CustomField {
                    id: renewal.id.clone(),
                    display_name: "Contract renewal".into(),
                    ..Default::default()
                }),
                update_mask: mask(&["display_name"]),
                etag: renewal.etag.clone(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (renamed.key.as_str(), renamed.display_name.as_str()),
            ("renewal_date", "Contract renewal")
        );

        // A chosen key must be free and well formed.
        let mut chosen = field("Account", pb::CustomFieldType::Text);
        chosen.key = "renewal_date".into();
        let clash = client
            .create_custom_field(server.req(pb::CreateCustomFieldRequest {
                field: Some(chosen.clone()),
            }))
            .await
            .unwrap_err();
        assert_code(&clash, tonic::Code::AlreadyExists);
        chosen.key = "Bad Key".into();
        let bad = client
            .create_custom_field(server.req(pb::CreateCustomFieldRequest {
                field: Some(chosen.clone()),
            }))
            .await
            .unwrap_err();
        assert_invalid(&bad, &["field.key"]);
        chosen.key = "tags".into();
        let reserved = client
            .create_custom_field(server.req(pb::CreateCustomFieldRequest {
                field: Some(chosen),
            }))
            .await
            .unwrap_err();
        assert_invalid(&reserved, &["field.key"]);

        let got = client
            .get_custom_field(server.req(pb::GetCustomFieldRequest {
                id: renewal.id.clone(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got, renamed);
        let mut listed = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = client
                .list_custom_fields(server.req(pb::ListCustomFieldsRequest {
                    record_type: CONTACT,
                    page_size: 2,
                    page_token,
                }))
                .await
                .unwrap()
                .into_inner();
            listed.extend(page.fields.into_iter().map(|f| f.key));
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        assert_eq!(listed, ["renewal_date", "renewal_date_2", "city_2"]);
        let unspecified = client
            .list_custom_fields(server.req(pb::ListCustomFieldsRequest::default()))
            .await
            .unwrap_err();
        assert_invalid(&unspecified, &["record_type"]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_definitions_are_named_field_by_field() {
    on_both(|server| async move {
        let mut client = server.fields().await;
        let mut bad = field(" ", pb::CustomFieldType::Number);
        bad.validation = Some(pb::CustomFieldValidation {
            pattern: "(".into(),
            min: "5".into(),
            max: "1".into(),
            ..Default::default()
        });
        bad.options = vec![option("A")];
        let refused = client
            .create_custom_field(server.req(pb::CreateCustomFieldRequest { field: Some(bad) }))
            .await
            .unwrap_err();
        assert_invalid(
            &refused,
            &[
                "field.display_name",
                "field.validation.pattern",
                "field.validation.max",
                "field.options",
            ],
        );
        let mut untyped = field("X", pb::CustomFieldType::Unspecified);
        untyped.record_type = 0;
        let refused = client
            .create_custom_field(server.req(pb::CreateCustomFieldRequest {
                field: Some(untyped),
            }))
            .await
            .unwrap_err();
        assert_invalid(&refused, &["field.record_type", "field.type"]);
        let mut select = field("Plan", pb::CustomFieldType::SingleSelect);
        select.options = vec![option("Free")];
        select.default_value = Some(value(Value::SelectValue("gold".into())));
        let refused = client
            .create_custom_field(server.req(pb::CreateCustomFieldRequest {
                field: Some(select),
            }))
            .await
            .unwrap_err();
        assert_invalid(&refused, &["field.default_value"]);
        let missing = client
            .get_custom_field(server.req(pb::GetCustomFieldRequest {
                id: uuid::Uuid::now_v7().to_string(),
            }))
            .await
            .unwrap_err();
        assert_code(&missing, tonic::Code::NotFound);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_are_validated_on_every_write_and_named_by_key() {
    on_both(|server| async move {
        let mut account = field("Account ID", pb::CustomFieldType::Text);
        account.required = true;
        account.validation = Some(pb::CustomFieldValidation {
            pattern: "[A-Z]{3}-[0-9]{5}".into(),
            pattern_hint: "like ABC-12345".into(),
            ..Default::default()
        });
        define_field(&server, account).await;
        let mut plan = field("Plan", pb::CustomFieldType::SingleSelect);
        plan.options = vec![option("Free"), option("Pro"), option("Legacy")];
        plan.default_value = Some(value(Value::SelectValue("free".into())));
        let plan = define_field(&server, plan).await;
        let mut score = field("NPS", pb::CustomFieldType::Number);
        score.validation = Some(pb::CustomFieldValidation {
            min: "0".into(),
            max: "10".into(),
            ..Default::default()
        });
        define_field(&server, score).await;
        define_field(&server, field("ARR", pb::CustomFieldType::Currency)).await;
        define_field(&server, field("Renewal", pb::CustomFieldType::Date)).await;
        define_field(&server, field("Marketing", pb::CustomFieldType::Checkbox)).await;
        define_field(&server, field("Second phone", pb::CustomFieldType::Phone)).await;

        // A value that cannot even be read is refused first...
        let unreadable = create_contact(
            &server,
            with_values(
                "ana@x.com",
                &[(
                    "renewal",
                    value(Value::DateValue(pb::Date {
                        year: 2026,
                        month: 2,
                        day: 30,
                    })),
                )],
            ),
        )
        .await
        .unwrap_err();
        assert_invalid(&unreadable, &["contact.custom_fields.renewal"]);
        // ...then every other kind of mistake at once, each named by its key.
        let refused = create_contact(
            &server,
            with_values(
                "ana@x.com",
                &[
                    ("account_id", text("abc")),
                    ("nps", value(Value::NumberValue("11".into()))),
                    ("marketing", text("yes")),
                    ("nope", text("x")),
                ],
            ),
        )
        .await
        .unwrap_err();
        assert_invalid(
            &refused,
            &[
                "contact.custom_fields.account_id",
                "contact.custom_fields.nps",
                "contact.custom_fields.marketing",
                "contact.custom_fields.nope",
            ],
        );
        let missing = create_contact(&server, with_values("ana@x.com", &[]))
            .await
            .unwrap_err();
        assert_invalid(&missing, &["contact.custom_fields.account_id"]);
        assert!(
            server.list_all().await.is_empty(),
            "a refused write keeps nothing"
        );

        let ana = create_contact(
            &server,
            with_values(
                "ana@x.com",
                &[
                    ("account_id", text("ABC-12345")),
                    (
                        "arr",
                        value(Value::CurrencyValue(pb::Money {
                            currency_code: "brl".into(),
                            units: 1200,
                            nanos: 500_000_000,
                        })),
                    ),
                    (
                        "second_phone",
                        value(Value::PhoneValue("(650) 253-0000".into())),
                    ),
                ],
            ),
        )
        .await
        .unwrap();
        let values = &ana.custom_fields;
        assert_eq!(
            values.get("plan"),
            Some(&value(Value::SelectValue("free".into()))),
            "defaults fill in"
        );
        assert_eq!(
            values.get("second_phone"),
            Some(&value(Value::PhoneValue("+16502530000".into())))
        );
        let Some(Value::CurrencyValue(money)) = values.get("arr").and_then(|v| v.value.clone())
        else {
            panic!("no money: {values:?}");
        };
        assert_eq!(
            (money.currency_code.as_str(), money.units, money.nanos),
            ("BRL", 1200, 500_000_000)
        );
        assert_eq!(server.get(&ana.id).await.custom_fields, ana.custom_fields);

        // An archived option cannot be chosen anew but stays where it is.
        let mut contacts = server.contacts().await;
        let legacy = contacts
            .update_contact(server.req(pb::UpdateContactRequest {
                contact: Some(with_values(
                    "",
                    &[("plan", value(Value::SelectValue("legacy".into())))],
                )),
                update_mask: mask(&["custom_fields.plan"]),
                etag: String::new(),
            }))
            .await;
        assert_invalid(&legacy.unwrap_err(), &["contact.id"]);
        let on_legacy = contacts
            .update_contact(server.req(pb::UpdateContactRequest {
                contact: Some(pb::Contact {
                    id: ana.id.clone(),
                    ..with_values("", &[("plan", value(Value::SelectValue("legacy".into())))])
                }),
                update_mask: mask(&["custom_fields.plan"]),
                etag: String::new(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            on_legacy.custom_fields.get("plan"),
            Some(&value(Value::SelectValue("legacy".into())))
        );
        let mut fields = server.fields().await;
        let archived = fields
            .update_custom_field(
                server.req(pb::UpdateCustomFieldRequest {
                    field: Some(pb::CustomField {
                        id: plan.id.clone(),
                        options: plan
                            .options
                            .iter()
                            .map(|o| pb::SelectOption {
                                archived: o.key == "legacy",
                                ..o.clone()
                            })
                            .collect(),
                        ..Default::default()
                    }),
                    update_mask: mask(&["options"]),
                    etag: String::new(),
                }),
            )
            .await
            .unwrap()
            .into_inner();
        assert!(
            archived
                .options
                .iter()
                .any(|o| o.key == "legacy" && o.archived)
        );
        assert_eq!(
            server.get(&ana.id).await.custom_fields.get("plan"),
            on_legacy.custom_fields.get("plan")
        );
        let bob = create_contact(
            &server,
            with_values(
                "bob@x.com",
                &[
                    ("account_id", text("BOB-00001")),
                    ("plan", value(Value::SelectValue("legacy".into()))),
                ],
            ),
        )
        .await
        .unwrap_err();
        assert_invalid(&bob, &["contact.custom_fields.plan"]);

        // Clearing a required value is refused; clearing another one works.
        let cleared = contacts
            .update_contact(server.req(pb::UpdateContactRequest {
                contact: Some(pb::Contact {
                    id: ana.id.clone(),
                    ..Default::default()
                }),
                update_mask: mask(&["custom_fields.account_id"]),
                etag: String::new(),
            }))
            .await
            .unwrap_err();
        assert_invalid(&cleared, &["contact.custom_fields.account_id"]);
        let without_arr = contacts
            .update_contact(server.req(pb::UpdateContactRequest {
                contact: Some(pb::Contact {
                    id: ana.id.clone(),
                    ..Default::default()
                }),
                update_mask: mask(&["custom_fields.arr"]),
                etag: String::new(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(!without_arr.custom_fields.contains_key("arr"));
        assert!(without_arr.custom_fields.contains_key("account_id"));

        // Contacts that senders create get the defaults too.
        let resolved = server
            .resolve(sender(pb::Channel::Email, "new@x.com"))
            .await;
        assert_eq!(
            resolved.contact.unwrap().custom_fields.get("plan"),
            Some(&value(Value::SelectValue("free".into())))
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_with_values_keeps_its_type_and_takes_them_when_deleted() {
    on_both(|server| async move {
        let mut fields = server.fields().await;
        let score = define_field(&server, field("Score", pb::CustomFieldType::Number)).await;
        let spare = define_field(&server, field("Spare", pb::CustomFieldType::Number)).await;
        let ana = server
            .create(with_values(
                "ana@x.com",
                &[("score", value(Value::NumberValue("7.50".into())))],
            ))
            .await;
        assert_eq!(
            ana.custom_fields.get("score"),
            Some(&value(Value::NumberValue("7.50".into())))
        );
        let retype = |id: &str| pb::UpdateCustomFieldRequest {
            field: Some(pb::CustomField {
                id: id.to_owned(),
                r#type: pb::CustomFieldType::Text as i32,
                ..Default::default()
            }),
            update_mask: mask(&["type"]),
            etag: String::new(),
        };
        let refused = fields
            .update_custom_field(server.req(retype(&score.id)))
            .await
            .unwrap_err();
        assert_code(&refused, tonic::Code::FailedPrecondition);
        let retyped = fields
            .update_custom_field(server.req(retype(&spare.id)))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(retyped.r#type, pb::CustomFieldType::Text as i32);
        let stale = fields
            .delete_custom_field(server.req(pb::DeleteCustomFieldRequest {
                id: score.id.clone(),
                etag: "W/\"9\"".into(),
            }))
            .await
            .unwrap_err();
        assert_code(&stale, tonic::Code::Aborted);
        fields
            .delete_custom_field(server.req(pb::DeleteCustomFieldRequest {
                id: score.id.clone(),
                etag: score.etag.clone(),
            }))
            .await
            .unwrap();
        assert!(server.get(&ana.id).await.custom_fields.is_empty());
        let gone = fields
            .get_custom_field(server.req(pb::GetCustomFieldRequest {
                id: score.id.clone(),
            }))
            .await
            .unwrap_err();
        assert_code(&gone, tonic::Code::NotFound);
        // The key is unknown now.
        let stale_write = create_contact(
            &server,
            with_values(
                "bob@x.com",
                &[("score", value(Value::NumberValue("1".into())))],
            ),
        )
        .await
        .unwrap_err();
        assert_invalid(&stale_write, &["contact.custom_fields.score"]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_layout_holds_tabs_sections_and_fields_in_order() {
    on_both(|server| async move {
        let mut client = server.fields().await;
        let tab = |name: &str| pb::CreateTabRequest {
            tab: Some(pb::Tab {
                record_type: CONTACT,
                name: name.into(),
                ..Default::default()
            }),
        };
        let overview = client
            .create_tab(server.req(tab("Overview")))
            .await
            .unwrap()
            .into_inner();
        let billing = client
            .create_tab(server.req(tab("Billing")))
            .await
            .unwrap()
            .into_inner();
        let section = |tab_id: &str, name: &str| pb::CreateSectionRequest {
            section: Some(pb::Section {
                tab_id: tab_id.into(),
                name: name.into(),
                ..Default::default()
            }),
        };
        let details = client
            .create_section(server.req(section(&overview.id, "Details")))
            .await
            .unwrap()
            .into_inner();
        let prefs = client
            .create_section(server.req(section(&overview.id, "Preferences")))
            .await
            .unwrap()
            .into_inner();
        let invoices = client
            .create_section(server.req(section(&billing.id, "Invoices")))
            .await
            .unwrap()
            .into_inner();
        let mut industry = field("Industry", pb::CustomFieldType::Text);
        industry.section_id = details.id.clone();
        let industry = define_field(&server, industry).await;
        let account = define_field(&server, field("Account", pb::CustomFieldType::Text)).await;
        let vat = define_field(&server, field("VAT", pb::CustomFieldType::Text)).await;

        // A field moved between sections keeps its values.
        let ana = server
            .create(with_values("ana@x.com", &[("account", text("A-1"))]))
            .await;
        let moved = client
            .move_custom_field(server.req(pb::MoveCustomFieldRequest {
                id: account.id.clone(),
                section_id: details.id.clone(),
                position: 0,
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (moved.section_id.as_str(), moved.position),
            (details.id.as_str(), 0)
        );
        client
            .move_custom_field(server.req(pb::MoveCustomFieldRequest {
                id: vat.id.clone(),
                section_id: invoices.id.clone(),
                position: 7,
            }))
            .await
            .unwrap();
        assert_eq!(
            server.get(&ana.id).await.custom_fields.get("account"),
            Some(&text("A-1"))
        );

        let renamed = client
            .update_section(server.req(pb::UpdateSectionRequest {
                section: Some(pb::Section {
                    id: prefs.id.clone(),
                    name: "Consent".into(),
                    ..Default::default()
                }),
                update_mask: None,
                etag: prefs.etag.clone(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(renamed.name, "Consent");
        client
            .reorder_sections(server.req(pb::ReorderSectionsRequest {
                tab_id: overview.id.clone(),
                section_ids: vec![prefs.id.clone(), details.id.clone()],
            }))
            .await
            .unwrap();
        client
            .update_tab(server.req(pb::UpdateTabRequest {
                tab: Some(pb::Tab {
                    id: billing.id.clone(),
                    name: "Money".into(),
                    ..Default::default()
                }),
                update_mask: mask(&["name"]),
                etag: String::new(),
            }))
            .await
            .unwrap();
        let reordered = client
            .reorder_tabs(server.req(pb::ReorderTabsRequest {
                record_type: CONTACT,
                tab_ids: vec![billing.id.clone(), overview.id.clone()],
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            reordered
                .tabs
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>(),
            ["Money", "Overview"]
        );

        let layout = client
            .get_layout(server.req(pb::GetLayoutRequest {
                record_type: CONTACT,
            }))
            .await
            .unwrap()
            .into_inner();
        let shape: Shape = layout
            .tabs
            .iter()
            .map(|t| {
                (
                    t.tab.as_ref().unwrap().name.clone(),
                    t.sections
                        .iter()
                        .map(|s| {
                            (
                                s.section.as_ref().unwrap().name.clone(),
                                s.fields.iter().map(|f| f.key.clone()).collect(),
                            )
                        })
                        .collect(),
                )
            })
            .collect();
        let owned = |items: &[&str]| items.iter().map(|i| (*i).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            shape,
            [
                (
                    "Money".to_owned(),
                    vec![("Invoices".to_owned(), owned(&["vat"]))]
                ),
                (
                    "Overview".to_owned(),
                    vec![
                        ("Consent".to_owned(), vec![]),
                        ("Details".to_owned(), owned(&["account", "industry"])),
                    ]
                ),
            ]
        );
        assert!(layout.unplaced_fields.is_empty());
        assert_eq!(industry.section_id, details.id);

        // Non-empty tabs and sections stay; empty ones go.
        let busy = client
            .delete_section(server.req(pb::DeleteSectionRequest {
                id: details.id.clone(),
            }))
            .await
            .unwrap_err();
        assert_code(&busy, tonic::Code::FailedPrecondition);
        let busy = client
            .delete_tab(server.req(pb::DeleteTabRequest {
                id: overview.id.clone(),
            }))
            .await
            .unwrap_err();
        assert_code(&busy, tonic::Code::FailedPrecondition);
        client
            .delete_section(server.req(pb::DeleteSectionRequest {
                id: prefs.id.clone(),
            }))
            .await
            .unwrap();
        let bad_order = client
            .reorder_tabs(server.req(pb::ReorderTabsRequest {
                record_type: CONTACT,
                tab_ids: vec![billing.id.clone()],
            }))
            .await
            .unwrap_err();
        assert_invalid(&bad_order, &["tab_ids"]);
        client
            .move_custom_field(server.req(pb::MoveCustomFieldRequest {
                id: vat.id.clone(),
                section_id: String::new(),
                position: 0,
            }))
            .await
            .unwrap();
        client
            .delete_section(server.req(pb::DeleteSectionRequest {
                id: invoices.id.clone(),
            }))
            .await
            .unwrap();
        client
            .delete_tab(server.req(pb::DeleteTabRequest {
                id: billing.id.clone(),
            }))
            .await
            .unwrap();
        let layout = client
            .get_layout(server.req(pb::GetLayoutRequest {
                record_type: CONTACT,
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(layout.tabs.len(), 1);
        assert_eq!(
            layout
                .unplaced_fields
                .iter()
                .map(|f| f.key.as_str())
                .collect::<Vec<_>>(),
            ["vat"]
        );

        let bad_tab = client
            .create_section(server.req(section(&uuid::Uuid::now_v7().to_string(), "X")))
            .await
            .unwrap_err();
        assert_invalid(&bad_tab, &["section.tab_id"]);
        let unknown_section = client
            .move_custom_field(server.req(pb::MoveCustomFieldRequest {
                id: vat.id.clone(),
                section_id: uuid::Uuid::now_v7().to_string(),
                position: 0,
            }))
            .await
            .unwrap_err();
        assert_invalid(&unknown_section, &["section_id"]);
        // Another tenant sees an empty form.
        let other = server.new_tenant("US").await;
        let theirs = client
            .get_layout(with_key(
                pb::GetLayoutRequest {
                    record_type: CONTACT,
                },
                &other,
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(theirs.tabs.is_empty() && theirs.unplaced_fields.is_empty());
    })
    .await;
}
