//! ImportService end to end: a real file (BOM, `;`, quoted newlines, a
//! ragged row, a bad address, an in-file duplicate) applied with counts that
//! add up and an error file ready to fix; bad files refused while they
//! stream (unplaced columns, no options, invalid text, past the size
//! limit) with nothing kept; export then import into an empty tenant giving
//! the same contacts back; cancelling; tenant isolation.

use crm_proto::v1 as pb;

use crate::fixtures::{
    assert_code, assert_invalid, contact_field, create_tier, csv_rows, define_field, email, phone,
    tier,
};
use crate::harness::{MAX_IMPORT_BYTES, TestServer, on_both, with_key};

fn options(mapping: &[(&str, &str)]) -> pb::ImportOptions {
    pb::ImportOptions {
        file_name: "contacts.csv".into(),
        mapping: mapping
            .iter()
            .map(|(column, target)| pb::ColumnMapping {
                column: (*column).into(),
                target: (*target).into(),
            })
            .collect(),
        ..Default::default()
    }
}

/// The messages of an upload: the options, then `file` in chunks of `size`.
fn upload(options: pb::ImportOptions, file: &[u8], size: usize) -> Vec<pb::ImportContactsRequest> {
    use pb::import_contacts_request::Part;
    std::iter::once(pb::ImportContactsRequest {
        part: Some(Part::Options(options)),
    })
    .chain(file.chunks(size).map(|chunk| pb::ImportContactsRequest {
        part: Some(Part::Csv(chunk.to_vec())),
    }))
    .collect()
}

async fn start_import(
    server: &TestServer,
    key: &str,
    messages: Vec<pb::ImportContactsRequest>,
) -> Result<pb::ImportJob, tonic::Status> {
    server
        .imports()
        .await
        .import_contacts(with_key(tokio_stream::iter(messages), key))
        .await
        .map(tonic::Response::into_inner)
}

/// Watches a job to its end; returns every message and the last.
async fn watch(server: &TestServer, key: &str, id: &str) -> (Vec<pb::ImportJob>, pb::ImportJob) {
    let mut stream = server
        .imports()
        .await
        .watch_import_job(with_key(pb::WatchImportJobRequest { id: id.into() }, key))
        .await
        .unwrap_or_else(|status| panic!("{status:?}"))
        .into_inner();
    let mut seen = Vec::new();
    while let Some(job) = stream.message().await.unwrap() {
        seen.push(job);
    }
    let last = seen.last().cloned().expect("a watch sends the job at once");
    (seen, last)
}

/// Imports `file` and watches it to its end.
async fn import(
    server: &TestServer,
    key: &str,
    options: pb::ImportOptions,
    file: &[u8],
) -> pb::ImportJob {
    let job = start_import(server, key, upload(options, file, 7))
        .await
        .unwrap_or_else(|status| panic!("{status:?}"));
    assert_eq!(job.state, pb::ImportJobState::Queued as i32);
    watch(server, key, &job.id).await.1
}

async fn error_file(server: &TestServer, key: &str, id: &str) -> Vec<Vec<String>> {
    let mut stream = server
        .imports()
        .await
        .get_import_errors(with_key(pb::GetImportErrorsRequest { id: id.into() }, key))
        .await
        .unwrap()
        .into_inner();
    let mut text = Vec::new();
    while let Some(chunk) = stream.message().await.unwrap() {
        text.extend_from_slice(&chunk.csv);
    }
    csv_rows(&text)
}

fn counts(job: &pb::ImportJob) -> [i64; 6] {
    [
        job.rows_processed,
        job.created,
        job.updated,
        job.unchanged,
        job.duplicates,
        job.invalid,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_is_applied_row_by_row_and_its_counts_and_errors_add_up() {
    on_both(|server| async move {
        create_tier(&server, tier("Gold", "#FFD700", &["gold-tier"])).await;
        define_field(
            &server,
            contact_field("Plan", pb::CustomFieldType::SingleSelect, &["Free", "Pro"]),
        )
        .await;
        let ana = server
            .create(pb::Contact {
                display_name: "Ana".into(),
                emails: vec![email("ana@example.com")],
                ..Default::default()
            })
            .await;
        let bo = server
            .create(pb::Contact {
                display_name: "Bo".into(),
                emails: vec![email("bo@example.com")],
                city: "Recife".into(),
                tags: vec!["imported".into()],
                ..Default::default()
            })
            .await;
        let file = "\u{FEFF}Full Name;E-mail;Phone;Plan;Tier;Notes\r\n\
             Carla Dias;carla@example.com;(202) 555-0101;Pro;gold;\"first line\r\nsecond; line\"\r\n\
             Ana Silva;ANA@example.com;;;;\r\n\
             Bo;bo@example.com;;;;\r\n\
             Carla again;carla.other@example.com;202-555-0101;;;\r\n\
             Dan;not-an-email;;;;\r\n\
             Eve;eve@example.com;;Platinum;;\r\n\
             Short;row\r\n";
        let job = import(
            &server,
            &server.key,
            pb::ImportOptions {
                default_tags: vec!["Imported".into()],
                ..options(&[("Notes", "ignore")])
            },
            file.as_bytes(),
        )
        .await;
        assert_eq!(job.state, pb::ImportJobState::Succeeded as i32, "{job:?}");
        assert_eq!(job.rows_total, 7);
        // rows, created, updated, unchanged, duplicates, invalid
        assert_eq!(counts(&job), [7, 1, 1, 1, 1, 3]);
        assert_eq!(job.options.as_ref().map(|o| o.separator.as_str()), Some(";"));

        let carla = server
            .list_all()
            .await
            .into_iter()
            .find(|contact| contact.display_name == "Carla Dias")
            .expect("the new contact");
        assert_eq!(carla.phones[0].e164, "+12025550101", "read with the region");
        assert_eq!(carla.tags, ["gold-tier", "imported"]);
        assert!(carla.tier.is_some());
        assert!(carla.custom_fields.contains_key("plan"));
        let ana = server.get(&ana.id).await;
        assert_eq!(ana.display_name, "Ana Silva");
        assert_eq!(ana.tags, ["imported"]);
        assert_eq!(server.get(&bo.id).await.city, "Recife", "an empty cell changes nothing");

        let errors = error_file(&server, &server.key, &job.id).await;
        assert_eq!(
            errors[0],
            ["Full Name", "E-mail", "Phone", "Plan", "Tier", "Notes", "import_line", "import_error"]
        );
        let refused: Vec<(&str, &str)> = errors[1..]
            .iter()
            .map(|row| (row[row.len() - 2].as_str(), row[row.len() - 1].as_str()))
            .collect();
        assert_eq!(refused.len(), 3, "{errors:?}");
        assert_eq!(refused[0].0, "7", "Carla's quoted newline makes two lines");
        assert!(refused[0].1.starts_with("E-mail: "), "{refused:?}");
        assert_eq!(refused[1].0, "8");
        assert!(refused[1].1.starts_with("Plan: has no option"), "{refused:?}");
        assert_eq!(refused[2].0, "9");
        assert!(refused[2].1.contains("has 2 columns"), "{refused:?}");
        assert_eq!(errors[1][1], "not-an-email", "the row as written");

        // The error file, fixed, imports as it is (its added columns are read past).
        let mut fixed = errors.clone();
        fixed[1][1] = "dan@example.com".into();
        let mut writer = csv::Writer::from_writer(Vec::new());
        for row in &fixed[..2] {
            writer.write_record(row).unwrap();
        }
        let again = import(
            &server,
            &server.key,
            options(&[("Notes", "ignore")]),
            &writer.into_inner().unwrap(),
        )
        .await;
        assert_eq!(counts(&again), [1, 1, 0, 0, 0, 0]);

        // Listed newest first; read one by one.
        let listed = server
            .imports()
            .await
            .list_import_jobs(server.req(pb::ListImportJobsRequest {
                page_size: 1,
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(listed.jobs[0].id, again.id);
        assert!(!listed.next_page_token.is_empty());
        let got = server
            .imports()
            .await
            .get_import_job(server.req(pb::GetImportJobRequest { id: job.id.clone() }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(counts(&got), counts(&job));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_file_is_refused_while_it_streams_and_nothing_is_kept() {
    on_both(|server| async move {
        let key = server.key.clone();
        let refused = |messages| {
            let server = server.clone();
            let key = key.clone();
            async move { start_import(&server, &key, messages).await.unwrap_err() }
        };
        let status = refused(upload(options(&[]), b"email,Shoe size\na@x.com,42\n", 64)).await;
        assert_invalid(&status, &["csv"]);
        assert!(status.message().contains("Shoe size"), "{status:?}");

        let status = refused(upload(
            options(&[("Nick", "nickname")]),
            b"email,Nick\n",
            64,
        ))
        .await;
        assert_invalid(&status, &["options.mapping[0].target"]);

        let status = refused(upload(options(&[]), b"name\nAna\n", 64)).await;
        assert_invalid(&status, &["options.dedup_key"]);

        let status = refused(upload(options(&[]), b"", 64)).await;
        assert_invalid(&status, &["csv"]);

        let status = refused(upload(options(&[]), b"em\xffail\na@x.com\n", 64)).await;
        assert_invalid(&status, &["csv"]);

        let status = refused(upload(options(&[]), b"a@x.com\n", 64)[1..].to_vec()).await;
        assert_invalid(&status, &["options"]);

        // A 100 MiB file is refused once it passes the server's limit.
        let mut big = b"email,display_name\n".to_vec();
        let row = format!("someone@example.com,{}\n", "x".repeat(100));
        while big.len() < 100 << 20 {
            big.extend_from_slice(row.as_bytes());
        }
        let status = refused(upload(options(&[]), &big, 1 << 20)).await;
        assert_code(&status, tonic::Code::ResourceExhausted);
        assert!(
            status.message().contains(&MAX_IMPORT_BYTES.to_string()),
            "{status:?}"
        );

        // Nothing of any of them is a job.
        let listed = server
            .imports()
            .await
            .list_import_jobs(server.req(pb::ListImportJobsRequest::default()))
            .await
            .unwrap()
            .into_inner();
        assert!(listed.jobs.is_empty(), "{listed:?}");
        assert!(server.list_all().await.is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_imported_into_an_empty_tenant_gives_the_same_contacts() {
    on_both(|server| async move {
        let other = server.new_tenant("US").await;
        for key in [&server.key, &other] {
            server
                .fields()
                .await
                .create_custom_field(with_key(
                    pb::CreateCustomFieldRequest {
                        field: Some(contact_field("Renewal", pb::CustomFieldType::Date, &[])),
                    },
                    key,
                ))
                .await
                .unwrap();
            server
                .tiers()
                .await
                .create_tier(with_key(
                    pb::CreateTierRequest {
                        tier: Some(tier("Gold", "#FFD700", &[])),
                    },
                    key,
                ))
                .await
                .unwrap();
        }
        let gold = server
            .tiers()
            .await
            .list_tiers(server.req(pb::ListTiersRequest::default()))
            .await
            .unwrap()
            .into_inner()
            .tiers[0]
            .id
            .clone();
        server
            .create(pb::Contact {
                display_name: "Ana, \"A\" Souza".into(),
                city: "São Paulo".into(),
                country: "BR".into(),
                language: "pt-BR".into(),
                lifecycle_stage: pb::LifecycleStage::Customer as i32,
                emails: vec![email("ana@acme.example"), email("ana.souza@mail.example")],
                phones: vec![phone("+55 11 98765-4321")],
                external_id: "crm-1".into(),
                tags: vec!["vip".into(), "beta".into()],
                tier_id: gold,
                custom_fields: [(
                    "renewal".to_owned(),
                    pb::CustomFieldValue {
                        value: Some(pb::custom_field_value::Value::DateValue(pb::Date {
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
        server
            .create(pb::Contact {
                display_name: "Bo".into(),
                blocked: true,
                phones: vec![phone("+1 202 555 0199")],
                emails: vec![email("bo@example.com")],
                ..Default::default()
            })
            .await;

        let exported = export_rows(&server, &server.key).await;
        let mut file = csv::Writer::from_writer(Vec::new());
        for row in &exported {
            file.write_record(row).unwrap();
        }
        let job = import(&server, &other, options(&[]), &file.into_inner().unwrap()).await;
        assert_eq!(counts(&job), [2, 2, 0, 0, 0, 0], "{job:?}");

        let again = export_rows(&server, &other).await;
        let comparable = |rows: &[Vec<String>]| {
            let header = &rows[0];
            let kept: Vec<usize> = (0..header.len())
                .filter(|&index| {
                    !["id", "create_time", "update_time", "organization_id"]
                        .contains(&header[index].as_str())
                })
                .collect();
            let mut body: Vec<Vec<String>> = rows[1..]
                .iter()
                .map(|row| kept.iter().map(|&index| row[index].clone()).collect())
                .collect();
            body.sort();
            body
        };
        assert_eq!(again[0], exported[0], "the same columns");
        assert_eq!(comparable(&again), comparable(&exported));
    })
    .await;
}

async fn export_rows(server: &TestServer, key: &str) -> Vec<Vec<String>> {
    let request = with_key(pb::ExportContactsRequest::default(), key);
    crate::export::exported(server, request).await.unwrap().2
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_are_cancelled_in_their_tenant_only_and_never_seen_by_another() {
    on_both(|server| async move {
        let mut file = b"email\n".to_vec();
        for n in 0..3000 {
            file.extend_from_slice(format!("c{n}@bulk.example\n").as_bytes());
        }
        let job = start_import(&server, &server.key, upload(options(&[]), &file, 1 << 16))
            .await
            .unwrap();
        let other = server.new_tenant("US").await;
        let imports = server.imports().await;
        let hidden = |status: Result<tonic::Response<pb::ImportJob>, tonic::Status>| {
            assert_code(&status.unwrap_err(), tonic::Code::NotFound);
        };
        hidden(
            imports
                .clone()
                .get_import_job(with_key(
                    pb::GetImportJobRequest { id: job.id.clone() },
                    &other,
                ))
                .await,
        );
        hidden(
            imports
                .clone()
                .cancel_import_job(with_key(
                    pb::CancelImportJobRequest { id: job.id.clone() },
                    &other,
                ))
                .await,
        );
        let watched = imports
            .clone()
            .watch_import_job(with_key(
                pb::WatchImportJobRequest { id: job.id.clone() },
                &other,
            ))
            .await;
        let Err(status) = watched else {
            panic!("another tenant watches the job");
        };
        assert_code(&status, tonic::Code::NotFound);
        let listed = imports
            .clone()
            .list_import_jobs(with_key(pb::ListImportJobsRequest::default(), &other))
            .await
            .unwrap()
            .into_inner();
        assert!(listed.jobs.is_empty());

        let cancelled = imports
            .clone()
            .cancel_import_job(server.req(pb::CancelImportJobRequest { id: job.id.clone() }))
            .await
            .unwrap()
            .into_inner();
        let (_, ended) = watch(&server, &server.key, &job.id).await;
        // The cancel lands while the job waits or runs, unless it was
        // already over: what was written stays, and the counts say what.
        let stopped = [
            pb::ImportJobState::Cancelled as i32,
            pb::ImportJobState::Succeeded as i32,
        ];
        assert!(stopped.contains(&cancelled.state), "{cancelled:?}");
        assert_eq!(ended.state, cancelled.state);
        assert_eq!(
            ended.created,
            i64::try_from(server.list_all().await.len()).unwrap(),
            "the counts say what was written"
        );
        assert_eq!(
            counts(&ended)[0],
            ended.created,
            "every row created or none read"
        );
        // Cancelling a job that is over changes nothing.
        let again = imports
            .clone()
            .cancel_import_job(server.req(pb::CancelImportJobRequest { id: job.id.clone() }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(again.state, ended.state);
        assert_eq!(counts(&again), counts(&ended));
        hidden(
            imports
                .clone()
                .get_import_job(server.req(pb::GetImportJobRequest {
                    id: uuid::Uuid::now_v7().to_string(),
                }))
                .await,
        );
    })
    .await;
}

/// A file of several batches (batches are written side by side where the
/// database allows, and settle in file order): every row lands once, the
/// counts add up, and a contact reached by rows of two batches through two
/// of its addresses takes both rows' changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_of_many_batches_lands_whole_and_a_contact_two_batches_reach_takes_both() {
    const ROWS: usize = 3_500;
    on_both(|server| async move {
        let zed = server
            .create(pb::Contact {
                display_name: "Zed".into(),
                emails: vec![email("zed@example.com"), email("zed.work@example.com")],
                ..Default::default()
            })
            .await;
        let mut file = String::from("name,email,city,tags\n");
        for row in 0..ROWS {
            // Row 10 is in the first batch, row 2,500 in the third.
            let line = match row {
                10 => "Zed,zed@example.com,,first".to_owned(),
                2_500 => "Zed,zed.work@example.com,Recife,third".to_owned(),
                _ => format!("Row {row},row{row}@example.com,Lisbon,"),
            };
            file.push_str(&line);
            file.push('\n');
        }
        let job = import(&server, &server.key, options(&[]), file.as_bytes()).await;
        assert_eq!(job.state, pb::ImportJobState::Succeeded as i32, "{job:?}");
        let rows = i64::try_from(ROWS).unwrap();
        // rows, created, updated, unchanged, duplicates, invalid
        assert_eq!(counts(&job), [rows, rows - 2, 2, 0, 0, 0]);
        let zed = server.get(&zed.id).await;
        assert_eq!(zed.city, "Recife");
        let mut tags = zed.tags.clone();
        tags.sort();
        assert_eq!(tags, ["first", "third"]);
        let all = server.list_all().await;
        assert_eq!(all.len(), ROWS - 1);
        let mut names: Vec<&str> = all
            .iter()
            .map(|contact| contact.display_name.as_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ROWS - 1, "one contact per row, none twice");
    })
    .await;
}
