//! SegmentService end to end: saving, reading, listing, changing and
//! deleting segments; running them (a page of contacts, a count) as the
//! contacts change; a filter that names a field or tier deleted since; the
//! per-owner limit; tenant isolation.

use crm_proto::v1 as pb;
use pb::custom_field_value::Value;
use tonic_types::StatusExt;

use crate::fixtures::{
    all_pages, assert_code, assert_invalid, contact_field, create_tier, define_field, mask, tier,
    with_email,
};
use crate::harness::{TestServer, on_both, with_key};

fn segment(name: &str, filter: &str) -> pb::Segment {
    pb::Segment {
        display_name: name.into(),
        filter: filter.into(),
        ..Default::default()
    }
}

async fn save(server: &TestServer, segment: pb::Segment) -> Result<pb::Segment, tonic::Status> {
    server
        .segments()
        .await
        .create_segment(server.req(pb::CreateSegmentRequest {
            segment: Some(segment),
        }))
        .await
        .map(tonic::Response::into_inner)
}

async fn members(server: &TestServer, id: &str, order_by: &str) -> Vec<String> {
    let client = server.segments().await;
    all_pages(|page_token| {
        let mut client = client.clone();
        let request = server.req(pb::ListSegmentContactsRequest {
            id: id.into(),
            page_size: 1,
            page_token,
            order_by: order_by.into(),
        });
        async move {
            let page = client
                .list_segment_contacts(request)
                .await
                .unwrap_or_else(|status| panic!("{status:?}"))
                .into_inner();
            (page.contacts, page.next_page_token)
        }
    })
    .await
    .into_iter()
    .map(|contact: pb::Contact| contact.display_name)
    .collect()
}

async fn counted(server: &TestServer, id: &str) -> Result<i64, tonic::Status> {
    server
        .segments()
        .await
        .count_segment_contacts(server.req(pb::CountSegmentContactsRequest { id: id.into() }))
        .await
        .map(|response| response.into_inner().count)
}

async fn named(server: &TestServer, name: &str, plan: &str) -> pb::Contact {
    server
        .create(pb::Contact {
            display_name: name.into(),
            custom_fields: [(
                "plan".to_owned(),
                pb::CustomFieldValue {
                    value: Some(Value::SelectValue(plan.into())),
                },
            )]
            .into(),
            ..with_email(&format!("{}@x.com", name.to_lowercase()))
        })
        .await
}

fn outdated_field(status: &tonic::Status) -> Option<String> {
    let info = status.get_error_details().error_info().cloned()?;
    assert_eq!(info.reason, "SEGMENT_FILTER_OUTDATED", "{status:?}");
    info.metadata.get("field").cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segment_is_saved_run_changed_and_deleted() {
    on_both(|server| async move {
        let plan = define_field(
            &server,
            contact_field("Plan", pb::CustomFieldType::SingleSelect, &["Free", "Pro"]),
        )
        .await;
        named(&server, "Carla", "pro").await;
        named(&server, "Ana", "pro").await;
        named(&server, "Bruno", "free").await;

        let mut segments = server.segments().await;
        let pro = save(
            &server,
            pb::Segment {
                visibility: pb::SegmentVisibility::Shared as i32,
                ..segment("  Pro customers ", "custom_fields.plan = pro")
            },
        )
        .await
        .unwrap();
        assert_eq!(pro.display_name, "Pro customers");
        assert_eq!(pro.owner, "tenant");
        assert_eq!(
            segments
                .get_segment(server.req(pb::GetSegmentRequest { id: pro.id.clone() }))
                .await
                .unwrap()
                .into_inner(),
            pro
        );
        assert_eq!(
            members(&server, &pro.id, "display_name").await,
            ["Ana", "Carla"]
        );
        assert_eq!(members(&server, &pro.id, "").await, ["Carla", "Ana"]);
        assert_eq!(counted(&server, &pro.id).await.unwrap(), 2);

        // It runs when read: a contact that starts to match is in it.
        named(&server, "Davi", "pro").await;
        assert_eq!(counted(&server, &pro.id).await.unwrap(), 3);

        // Changed at its etag; a stale etag is ABORTED.
        let everyone = segments
            .update_segment(server.req(pb::UpdateSegmentRequest {
                segment: Some(pb::Segment {
                    id: pro.id.clone(),
                    filter: "custom_fields.plan:*".into(),
                    ..Default::default()
                }),
                update_mask: mask(&["filter"]),
                etag: pro.etag.clone(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(everyone.display_name, "Pro customers");
        assert_ne!(everyone.etag, pro.etag);
        assert_eq!(counted(&server, &pro.id).await.unwrap(), 4);
        let stale = segments
            .update_segment(server.req(pb::UpdateSegmentRequest {
                segment: Some(pb::Segment {
                    id: pro.id.clone(),
                    display_name: "Late".into(),
                    ..Default::default()
                }),
                update_mask: mask(&["display_name"]),
                etag: pro.etag.clone(),
            }))
            .await
            .unwrap_err();
        assert_code(&stale, tonic::Code::Aborted);

        let all = segments
            .list_segments(server.req(pb::ListSegmentsRequest::default()))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(all.segments, std::slice::from_ref(&everyone));

        // A field deleted since is named when the segment runs, not
        // silently matched by nothing.
        server
            .fields()
            .await
            .delete_custom_field(server.req(pb::DeleteCustomFieldRequest {
                id: plan.id.clone(),
                etag: String::new(),
            }))
            .await
            .unwrap();
        let gone = counted(&server, &pro.id).await.unwrap_err();
        assert_code(&gone, tonic::Code::FailedPrecondition);
        assert_eq!(outdated_field(&gone).as_deref(), Some("custom_fields.plan"));
        let gone = segments
            .list_segment_contacts(server.req(pb::ListSegmentContactsRequest {
                id: pro.id.clone(),
                ..Default::default()
            }))
            .await
            .unwrap_err();
        assert_code(&gone, tonic::Code::FailedPrecondition);

        // So is a tier deleted since.
        let gold = create_tier(&server, tier("Gold", "#FFD700", &[])).await;
        let golden = save(&server, segment("Gold", &format!("tier_id = {}", gold.id)))
            .await
            .unwrap();
        assert_eq!(counted(&server, &golden.id).await.unwrap(), 0);
        server
            .tiers()
            .await
            .delete_tier(server.req(pb::DeleteTierRequest {
                id: gold.id.clone(),
                ..Default::default()
            }))
            .await
            .unwrap();
        let gone = counted(&server, &golden.id).await.unwrap_err();
        assert_eq!(outdated_field(&gone).as_deref(), Some("tier_id"));

        // Deleted at its etag; then NOT_FOUND.
        segments
            .delete_segment(server.req(pb::DeleteSegmentRequest {
                id: pro.id.clone(),
                etag: everyone.etag.clone(),
            }))
            .await
            .unwrap();
        let missing = segments
            .get_segment(server.req(pb::GetSegmentRequest { id: pro.id.clone() }))
            .await
            .unwrap_err();
        assert_code(&missing, tonic::Code::NotFound);
        assert_code(
            &counted(&server, &pro.id).await.unwrap_err(),
            tonic::Code::NotFound,
        );

        // Another tenant sees none of it.
        let other = server.new_tenant("US").await;
        let theirs = segments
            .list_segments(with_key(pb::ListSegmentsRequest::default(), &other))
            .await
            .unwrap()
            .into_inner();
        assert!(theirs.segments.is_empty());
        let hidden = segments
            .get_segment(with_key(
                pb::GetSegmentRequest {
                    id: golden.id.clone(),
                },
                &other,
            ))
            .await
            .unwrap_err();
        assert_code(&hidden, tonic::Code::NotFound);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_segments_are_named_and_an_owner_keeps_at_most_a_hundred() {
    on_both(|server| async move {
        for (bad, fields) in [
            (segment("", "tags:vip"), vec!["segment.display_name"]),
            (segment("x", "tags:vip AND"), vec!["segment.filter"]),
            (
                segment("x", "custom_fields.nope = 1"),
                vec!["segment.filter"],
            ),
            (
                segment("x", &format!("tier_id = {}", uuid::Uuid::now_v7())),
                vec!["segment.filter"],
            ),
            (
                pb::Segment {
                    visibility: 9,
                    ..segment("x", "")
                },
                vec!["segment.visibility"],
            ),
        ] {
            let status = save(&server, bad).await.unwrap_err();
            assert_invalid(&status, &fields);
        }
        for n in 0..100 {
            save(&server, segment(&format!("S{n}"), "tags:vip"))
                .await
                .unwrap();
        }
        let over = save(&server, segment("S100", "")).await.unwrap_err();
        assert_code(&over, tonic::Code::ResourceExhausted);
        assert_eq!(
            over.get_error_details()
                .error_info()
                .map(|info| info.reason.clone()),
            Some("SEGMENT_LIMIT_REACHED".to_owned())
        );
        let listed = all_pages(|page_token| {
            let request = server.req(pb::ListSegmentsRequest {
                page_size: 40,
                page_token,
            });
            let server = &server;
            async move {
                let page = server
                    .segments()
                    .await
                    .list_segments(request)
                    .await
                    .unwrap()
                    .into_inner();
                (page.segments, page.next_page_token)
            }
        })
        .await;
        assert_eq!(listed.len(), 100);
    })
    .await;
}
