//! TierService end to end: defining, ranking, updating and deleting tiers;
//! putting contacts on them (auto-tags included); the tier on ResolveSender's
//! answer; and ordering contacts and senders for a routing queue.

use crm_proto::v1 as pb;

use crate::fixtures::{assert_code, assert_invalid, create_tier, email, mask, sender, tier};
use crate::harness::{TestServer, on_both, with_key};

fn minutes(minutes: i64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration {
        seconds: minutes * 60,
        nanos: 0,
    })
}

async fn list_tiers(server: &TestServer) -> Vec<pb::Tier> {
    server
        .tiers()
        .await
        .list_tiers(server.req(pb::ListTiersRequest {}))
        .await
        .unwrap()
        .into_inner()
        .tiers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiers_are_created_ranked_read_and_updated() {
    on_both(|server| async move {
        let mut client = server.tiers().await;
        let mut vip = tier(" VIP ", "#ffd700", &["Priority"]);
        vip.sla_policy = Some(pb::SlaPolicy {
            first_response_target: minutes(5),
            resolution_target: minutes(240),
        });
        let vip = create_tier(&server, vip).await;
        assert_eq!(
            (vip.name.as_str(), vip.color.as_str(), vip.rank),
            ("VIP", "#FFD700", 1)
        );
        assert_eq!(vip.auto_tags, ["priority"]);
        assert_eq!(
            vip.sla_policy
                .as_ref()
                .and_then(|sla| sla.first_response_target),
            minutes(5)
        );
        let standard = create_tier(&server, tier("Standard", "#808080", &[])).await;
        assert_eq!(standard.rank, 2);

        let got = client
            .get_tier(server.req(pb::GetTierRequest { id: vip.id.clone() }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got, vip);
        let names: Vec<String> = list_tiers(&server)
            .await
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(names, ["VIP", "Standard"]);

        let clash = client
            .create_tier(server.req(pb::CreateTierRequest {
                tier: Some(tier("vip", "#000000", &[])),
            }))
            .await
            .unwrap_err();
        assert_code(&clash, tonic::Code::AlreadyExists);
        {
            use tonic_types::StatusExt;
            let details = clash.get_error_details();
            assert_eq!(
                details
                    .resource_info()
                    .map(|info| info.resource_name.clone()),
                Some(vip.id.clone())
            );
        }

        let renamed = client
            .update_tier(server.req(pb::UpdateTierRequest {
                tier: Some(pb::Tier {
                    id: vip.id.clone(),
                    name: "Platinum".into(),
                    ..Default::default()
                }),
                update_mask: mask(&["name", "sla_policy"]),
                etag: vip.etag.clone(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(renamed.name, "Platinum");
        assert_eq!(renamed.color, "#FFD700");
        assert_eq!(renamed.sla_policy, None);
        assert_ne!(renamed.etag, vip.etag);
        let stale = client
            .update_tier(server.req(pb::UpdateTierRequest {
                tier: Some(pb::Tier {
                    id: vip.id.clone(),
                    color: "#FF0000".into(),
                    ..Default::default()
                }),
                update_mask: None,
                etag: vip.etag.clone(),
            }))
            .await
            .unwrap_err();
        assert_code(&stale, tonic::Code::Aborted);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tiers_are_refused_field_by_field() {
    on_both(|server| async move {
        let mut client = server.tiers().await;
        let mut bad = tier("", "gold", &["", "ok"]);
        bad.sla_policy = Some(pb::SlaPolicy {
            first_response_target: Some(prost_types::Duration {
                seconds: 1,
                nanos: 5,
            }),
            resolution_target: minutes(-1),
        });
        let refused = client
            .create_tier(server.req(pb::CreateTierRequest { tier: Some(bad) }))
            .await
            .unwrap_err();
        assert_invalid(&refused, &["tier.sla_policy.first_response_target"]);
        let refused = client
            .create_tier(server.req(pb::CreateTierRequest {
                tier: Some(tier("", "gold", &["", "ok"])),
            }))
            .await
            .unwrap_err();
        assert_invalid(&refused, &["tier.name", "tier.color", "tier.auto_tags[0]"]);
        let missing = client
            .create_tier(server.req(pb::CreateTierRequest { tier: None }))
            .await
            .unwrap_err();
        assert_invalid(&missing, &["tier"]);
        let bad_id = client
            .get_tier(server.req(pb::GetTierRequest { id: "nope".into() }))
            .await
            .unwrap_err();
        assert_invalid(&bad_id, &["id"]);
        let unknown = client
            .get_tier(server.req(pb::GetTierRequest {
                id: uuid::Uuid::now_v7().to_string(),
            }))
            .await
            .unwrap_err();
        assert_code(&unknown, tonic::Code::NotFound);
        let bad_mask = client
            .update_tier(server.req(pb::UpdateTierRequest {
                tier: Some(pb::Tier {
                    id: uuid::Uuid::now_v7().to_string(),
                    ..Default::default()
                }),
                update_mask: mask(&["rank"]),
                etag: String::new(),
            }))
            .await
            .unwrap_err();
        assert_invalid(&bad_mask, &["update_mask.paths[0]"]);
        assert!(list_tiers(&server).await.is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reordering_needs_every_tier_once() {
    on_both(|server| async move {
        let mut client = server.tiers().await;
        let a = create_tier(&server, tier("A", "#000001", &[])).await;
        let b = create_tier(&server, tier("B", "#000002", &[])).await;
        let c = create_tier(&server, tier("C", "#000003", &[])).await;
        let reordered = client
            .reorder_tiers(server.req(pb::ReorderTiersRequest {
                tier_ids: vec![c.id.clone(), a.id.clone(), b.id.clone()],
            }))
            .await
            .unwrap()
            .into_inner();
        let order: Vec<(String, i32)> = reordered
            .tiers
            .iter()
            .map(|t| (t.name.clone(), t.rank))
            .collect();
        assert_eq!(order, [("C".into(), 1), ("A".into(), 2), ("B".into(), 3)]);
        let listed: Vec<String> = list_tiers(&server)
            .await
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(listed, ["C", "A", "B"]);

        let partial = client
            .reorder_tiers(server.req(pb::ReorderTiersRequest {
                tier_ids: vec![a.id.clone(), a.id.clone(), "x".into()],
            }))
            .await
            .unwrap_err();
        assert_invalid(&partial, &["tier_ids[2]"]);
        let repeated = client
            .reorder_tiers(server.req(pb::ReorderTiersRequest {
                tier_ids: vec![a.id.clone(), a.id.clone(), b.id.clone()],
            }))
            .await
            .unwrap_err();
        assert_invalid(&repeated, &["tier_ids[1]", "tier_ids"]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_are_put_on_tiers_with_their_auto_tags() {
    on_both(|server| async move {
        let mut tiers = server.tiers().await;
        let mut contacts = server.contacts().await;
        let gold = create_tier(&server, tier("Gold", "#FFD700", &["VIP", "priority"])).await;
        let silver = create_tier(&server, tier("Silver", "#C0C0C0", &["upsell"])).await;

        // On create.
        let ana = server
            .create(pb::Contact {
                emails: vec![email("ana@x.com")],
                tier_id: gold.id.clone(),
                tags: vec!["newsletter".into()],
                ..Default::default()
            })
            .await;
        assert_eq!(ana.tier_id, gold.id);
        assert_eq!(ana.tier.as_ref().map(|t| t.rank), Some(1));
        assert_eq!(ana.tags, ["newsletter", "priority", "vip"]);

        // By SetContactTier, with the etag.
        let moved = tiers
            .set_contact_tier(server.req(pb::SetContactTierRequest {
                contact_id: ana.id.clone(),
                tier_id: silver.id.clone(),
                etag: ana.etag.clone(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(moved.tier.as_ref().map(|t| t.name.as_str()), Some("Silver"));
        // Changing tier adds the new auto-tags and keeps the old ones.
        assert_eq!(moved.tags, ["newsletter", "priority", "upsell", "vip"]);
        let stale = tiers
            .set_contact_tier(server.req(pb::SetContactTierRequest {
                contact_id: ana.id.clone(),
                tier_id: gold.id.clone(),
                etag: ana.etag.clone(),
            }))
            .await
            .unwrap_err();
        assert_code(&stale, tonic::Code::Aborted);

        // Off the tier, then back on through UpdateContact.
        let off = tiers
            .set_contact_tier(server.req(pb::SetContactTierRequest {
                contact_id: ana.id.clone(),
                tier_id: String::new(),
                etag: String::new(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((off.tier_id.as_str(), off.tier.is_none()), ("", true));
        let on = contacts
            .update_contact(server.req(pb::UpdateContactRequest {
                contact: Some(pb::Contact {
                    id: ana.id.clone(),
                    tier_id: gold.id.clone(),
                    ..Default::default()
                }),
                update_mask: mask(&["tier_id"]),
                etag: off.etag.clone(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(on.tier_id, gold.id);

        // Unknown tiers are a bad field, never a dangling reference.
        let unknown = uuid::Uuid::now_v7().to_string();
        let refused = tiers
            .set_contact_tier(server.req(pb::SetContactTierRequest {
                contact_id: ana.id.clone(),
                tier_id: unknown.clone(),
                etag: String::new(),
            }))
            .await
            .unwrap_err();
        assert_invalid(&refused, &["tier_id"]);
        let refused = contacts
            .create_contact(server.req(pb::CreateContactRequest {
                contact: Some(pb::Contact {
                    emails: vec![email("bob@x.com")],
                    tier_id: unknown,
                    ..Default::default()
                }),
                request_id: String::new(),
            }))
            .await
            .unwrap_err();
        assert_invalid(&refused, &["contact.tier_id"]);

        // The tier rides along on ResolveSender, rank and SLA included.
        let resolved = server
            .resolve(sender(pb::Channel::Email, "ANA@x.com"))
            .await;
        let carried = resolved.contact.unwrap().tier.unwrap();
        assert_eq!((carried.id, carried.rank), (gold.id.clone(), 1));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tier_in_use_is_deleted_only_when_told_where_its_contacts_go() {
    on_both(|server| async move {
        let mut tiers = server.tiers().await;
        let gold = create_tier(&server, tier("Gold", "#FFD700", &[])).await;
        let silver = create_tier(&server, tier("Silver", "#C0C0C0", &["was gold"])).await;
        let ana = server
            .create(pb::Contact {
                emails: vec![email("ana@x.com")],
                tier_id: gold.id.clone(),
                ..Default::default()
            })
            .await;
        let delete = |id: &str, move_to: &str, clear: bool| pb::DeleteTierRequest {
            id: id.to_owned(),
            etag: String::new(),
            move_to_tier_id: move_to.to_owned(),
            clear_contacts: clear,
        };
        let refused = tiers
            .delete_tier(server.req(delete(&gold.id, "", false)))
            .await
            .unwrap_err();
        assert_code(&refused, tonic::Code::FailedPrecondition);
        let both = tiers
            .delete_tier(server.req(delete(&gold.id, &silver.id, true)))
            .await
            .unwrap_err();
        assert_invalid(&both, &["clear_contacts"]);
        let itself = tiers
            .delete_tier(server.req(delete(&gold.id, &gold.id, false)))
            .await
            .unwrap_err();
        assert_invalid(&itself, &["move_to_tier_id"]);

        tiers
            .delete_tier(server.req(delete(&gold.id, &silver.id, false)))
            .await
            .unwrap();
        let moved = server.get(&ana.id).await;
        assert_eq!(moved.tier_id, silver.id);
        assert_eq!(moved.tags, ["was gold"]);
        assert_eq!(moved.tier.map(|t| t.rank), Some(1));
        let remaining: Vec<(String, i32)> = list_tiers(&server)
            .await
            .into_iter()
            .map(|t| (t.name, t.rank))
            .collect();
        assert_eq!(remaining, [("Silver".into(), 1)]);

        tiers
            .delete_tier(server.req(delete(&silver.id, "", true)))
            .await
            .unwrap();
        assert_eq!(server.get(&ana.id).await.tier_id, "");
        let gone = tiers
            .get_tier(server.req(pb::GetTierRequest {
                id: silver.id.clone(),
            }))
            .await
            .unwrap_err();
        assert_code(&gone, tonic::Code::NotFound);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_orders_contacts_and_senders_by_tier() {
    on_both(|server| async move {
        let mut tiers = server.tiers().await;
        let gold = create_tier(&server, tier("Gold", "#FFD700", &[])).await;
        let silver = create_tier(&server, tier("Silver", "#C0C0C0", &[])).await;
        let on = |address: &str, tier_id: &str| pb::Contact {
            emails: vec![email(address)],
            tier_id: tier_id.to_owned(),
            ..Default::default()
        };
        let plain = server.create(on("plain@x.com", "")).await;
        let silver_contact = server.create(on("silver@x.com", &silver.id)).await;
        let gold_contact = server.create(on("gold@x.com", &gold.id)).await;
        let by_id = |id: &str| pb::RoutingSubject {
            subject: Some(pb::routing_subject::Subject::ContactId(id.to_owned())),
        };
        let by_sender = |address: &str| pb::RoutingSubject {
            subject: Some(pb::routing_subject::Subject::Sender(pb::RoutingSender {
                channel: pb::Channel::Email as i32,
                address: address.to_owned(),
            })),
        };
        let unknown = uuid::Uuid::now_v7().to_string();
        let response = tiers
            .get_routing_priority(server.req(pb::GetRoutingPriorityRequest {
                subjects: vec![
                    by_id(&plain.id),
                    by_sender("newcomer@x.com"),
                    by_id(&silver_contact.id),
                    by_sender("GOLD@x.com"),
                    by_id(&unknown),
                ],
            }))
            .await
            .unwrap()
            .into_inner();
        let placed: Vec<(i32, String)> = response
            .entries
            .iter()
            .map(|entry| (entry.subject_index, entry.contact_id.clone()))
            .collect();
        assert_eq!(
            placed,
            [
                (3, gold_contact.id.clone()),
                (2, silver_contact.id.clone()),
                (0, plain.id.clone()),
                (1, String::new()),
                (4, String::new()),
            ]
        );
        assert_eq!(response.entries[0].tier.as_ref().map(|t| t.rank), Some(1));
        assert!(response.entries[2].tier.is_none());

        // The documented maximum, 1000 subjects, all senders: one statement
        // that no backend's expression or parameter limit refuses.
        let mut many: Vec<pb::RoutingSubject> = (1..1000)
            .map(|n| by_sender(&format!("sender{n}@x.com")))
            .collect();
        many.push(by_sender("gold@x.com"));
        let ranked = tiers
            .get_routing_priority(server.req(pb::GetRoutingPriorityRequest { subjects: many }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(ranked.entries.len(), 1000);
        assert_eq!(
            (
                ranked.entries[0].subject_index,
                ranked.entries[0].contact_id.as_str()
            ),
            (999, gold_contact.id.as_str())
        );

        let bad = tiers
            .get_routing_priority(server.req(pb::GetRoutingPriorityRequest {
                subjects: vec![
                    by_id("nope"),
                    pb::RoutingSubject { subject: None },
                    by_sender("not an email"),
                ],
            }))
            .await
            .unwrap_err();
        assert_invalid(&bad, &["subjects[0].contact_id", "subjects[1]"]);
        let bad_sender = tiers
            .get_routing_priority(server.req(pb::GetRoutingPriorityRequest {
                subjects: vec![by_sender("not an email")],
            }))
            .await
            .unwrap_err();
        assert_invalid(&bad_sender, &["subjects[0].sender.address"]);
        let empty = tiers
            .get_routing_priority(server.req(pb::GetRoutingPriorityRequest { subjects: vec![] }))
            .await
            .unwrap_err();
        assert_invalid(&empty, &["subjects"]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenant_cannot_see_or_use_a_tier() {
    on_both(|server| async move {
        let mut tiers = server.tiers().await;
        let gold = create_tier(&server, tier("Gold", "#FFD700", &[])).await;
        let other = server.new_tenant("US").await;
        let listed = tiers
            .list_tiers(with_key(pb::ListTiersRequest {}, &other))
            .await
            .unwrap()
            .into_inner();
        assert!(listed.tiers.is_empty());
        let hidden = tiers
            .get_tier(with_key(
                pb::GetTierRequest {
                    id: gold.id.clone(),
                },
                &other,
            ))
            .await
            .unwrap_err();
        assert_code(&hidden, tonic::Code::NotFound);
        let theirs = server
            .create_with_key(
                pb::Contact {
                    emails: vec![email("eve@x.com")],
                    ..Default::default()
                },
                &other,
            )
            .await;
        let refused = tiers
            .set_contact_tier(with_key(
                pb::SetContactTierRequest {
                    contact_id: theirs.id,
                    tier_id: gold.id.clone(),
                    etag: String::new(),
                },
                &other,
            ))
            .await
            .unwrap_err();
        assert_invalid(&refused, &["tier_id"]);
        // Their tier of the same name is theirs alone.
        tiers
            .create_tier(with_key(
                pb::CreateTierRequest {
                    tier: Some(tier("Gold", "#000000", &[])),
                },
                &other,
            ))
            .await
            .unwrap();
        let denied = tiers
            .list_tiers(tonic::Request::new(pb::ListTiersRequest {}))
            .await
            .unwrap_err();
        assert_code(&denied, tonic::Code::Unauthenticated);
    })
    .await;
}

/// A huge bad request gets a small error: Python's grpcio refuses response
/// headers past 16 KiB, and the message travels in one (and again, base64,
/// in the details).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_bad_requests_get_small_errors() {
    on_both(|server| async move {
        let small = |status: &tonic::Status| {
            let size = status.message().len() + status.details().len();
            assert!(size < 8 * 1024, "{size} bytes: {status:?}");
        };
        create_tier(&server, tier("Gold", "#FFD700", &[])).await;
        let mut tiers = server.tiers().await;
        // 1,000 unknown ids: the case that once returned a 50 KB message.
        let unknown: Vec<String> = (0..1000)
            .map(|_| uuid::Uuid::now_v7().to_string())
            .collect();
        let reorder = tiers
            .reorder_tiers(server.req(pb::ReorderTiersRequest { tier_ids: unknown }))
            .await
            .unwrap_err();
        assert_invalid(&reorder, &["tier_ids"]);
        small(&reorder);
        // 100 bad addresses of 2,000 characters each, all within the count limit.
        let emails: Vec<pb::EmailAddress> = (0..100)
            .map(|n| email(&format!("{n}{}", "é".repeat(1000))))
            .collect();
        let created = server
            .contacts()
            .await
            .create_contact(server.req(pb::CreateContactRequest {
                contact: Some(pb::Contact {
                    display_name: "x".repeat(100_000),
                    emails,
                    ..Default::default()
                }),
                ..Default::default()
            }))
            .await
            .unwrap_err();
        assert_eq!(created.code(), tonic::Code::InvalidArgument);
        small(&created);
    })
    .await;
}
