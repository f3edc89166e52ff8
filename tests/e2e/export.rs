//! ExportService end to end: every column of a contact, pages of 1,000
//! streamed with their progress, a filter, a bad filter, tenant isolation.

use std::collections::HashMap;

use crm_proto::v1 as pb;
use pb::custom_field_value::Value;

use crate::fixtures::{assert_invalid, csv_rows, define_field, email, phone, sender};
use crate::harness::{TestServer, on_both, with_key};

/// The chunks of an export: the header message's total, each message's
/// rows_written, and the rows read back (header first).
pub(crate) async fn exported(
    server: &TestServer,
    request: tonic::Request<pb::ExportContactsRequest>,
) -> Result<(i64, Vec<i64>, Vec<Vec<String>>), tonic::Status> {
    let mut stream = server
        .exports()
        .await
        .export_contacts(request)
        .await?
        .into_inner();
    let mut text = Vec::new();
    let mut progress = Vec::new();
    let mut total = None;
    while let Some(chunk) = stream.message().await? {
        total.get_or_insert(chunk.total);
        progress.push(chunk.rows_written);
        text.extend_from_slice(&chunk.csv);
    }
    Ok((total.unwrap_or(-1), progress, csv_rows(&text)))
}

fn by_header(rows: &[Vec<String>], row: usize) -> HashMap<String, String> {
    rows[0]
        .iter()
        .cloned()
        .zip(rows[row].iter().cloned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_holds_every_column_in_pages_with_progress() {
    on_both(|server| async move {
        define_field(
            &server,
            pb::CustomField {
                record_type: pb::RecordType::Contact as i32,
                display_name: "Renewal".into(),
                r#type: pb::CustomFieldType::Date as i32,
                ..Default::default()
            },
        )
        .await;
        let ana = server
            .create(pb::Contact {
                display_name: "Ana, \"A\" Souza".into(),
                city: "São Paulo".into(),
                emails: vec![email("ana@acme.com"), email("ana.souza@gmail.com")],
                phones: vec![phone("+55 11 98765-4321")],
                tags: vec!["vip".into(), "beta".into()],
                custom_fields: [(
                    "renewal".to_owned(),
                    pb::CustomFieldValue {
                        value: Some(Value::DateValue(pb::Date {
                            year: 2027,
                            month: 1,
                            day: 31,
                        })),
                    },
                )]
                .into(),
                ..Default::default()
            })
            .await;
        // 1,049 more, so the export spans two pages.
        let mut contacts = server.contacts().await;
        for batch in 0..11 {
            let senders = (0..100)
                .map(|n| batch * 100 + n)
                .take_while(|n| *n < 1049)
                .map(|n| sender(pb::Channel::Email, &format!("c{n}@bulk.example")))
                .collect();
            contacts
                .resolve_senders(server.req(pb::ResolveSendersRequest { senders }))
                .await
                .unwrap();
        }

        let (total, progress, rows) =
            exported(&server, server.req(pb::ExportContactsRequest::default()))
                .await
                .unwrap();
        assert_eq!(total, 1050);
        assert_eq!(
            progress,
            [0, 1000, 1050],
            "the header, then a page at a time"
        );
        assert_eq!(rows.len(), 1051);
        let ids: Vec<&String> = rows[1..].iter().map(|row| &row[0]).collect();
        assert!(
            ids.windows(2).all(|pair| pair[0] < pair[1]),
            "each contact once, in id order, across the ranges read side by side"
        );
        assert_eq!(rows[0][..3], ["id", "display_name", "city"]);
        assert_eq!(
            rows[0].last().map(String::as_str),
            Some("custom_fields.renewal")
        );
        let first = by_header(&rows, 1);
        assert_eq!(first["id"], ana.id);
        assert_eq!(
            first["display_name"], "Ana, \"A\" Souza",
            "quoted and read back whole"
        );
        assert_eq!(first["city"], "São Paulo");
        assert_eq!(
            first["email"], "ana@acme.com;ana.souza@gmail.com",
            "primary first"
        );
        assert_eq!(first["phone"], "+5511987654321");
        assert_eq!(first["tags"], "beta;vip");
        assert_eq!(first["lifecycle_stage"], "prospect");
        assert_eq!(first["blocked"], "false");
        assert_eq!(first["custom_fields.renewal"], "2027-01-31");
        assert!(rows[1..].iter().all(|row| row.len() == rows[0].len()));

        // A filter selects; a bad one is refused before any row.
        let (total, _, rows) = exported(
            &server,
            server.req(pb::ExportContactsRequest {
                filter: "tags:vip".into(),
            }),
        )
        .await
        .unwrap();
        assert_eq!((total, rows.len()), (1, 2));
        let bad = exported(
            &server,
            server.req(pb::ExportContactsRequest {
                filter: "tags:vip AND".into(),
            }),
        )
        .await
        .unwrap_err();
        assert_invalid(&bad, &["filter"]);

        // Another tenant exports only its header.
        let other = server.new_tenant("US").await;
        let (total, _, rows) = exported(
            &server,
            with_key(pb::ExportContactsRequest::default(), &other),
        )
        .await
        .unwrap();
        assert_eq!((total, rows.len()), (0, 1));
        assert!(
            !rows[0]
                .iter()
                .any(|column| column == "custom_fields.renewal")
        );
    })
    .await;
}
