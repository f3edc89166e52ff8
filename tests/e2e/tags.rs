//! Tags end to end: set on create and update, added and removed one by
//! one, normalised, and used to list contacts, with page tokens bound to the
//! tag they were issued for.

use crm_proto::v1 as pb;

use crate::fixtures::{assert_code, assert_invalid, email, mask};
use crate::harness::on_both;

fn tagged(address: &str, tags: &[&str]) -> pb::Contact {
    pb::Contact {
        emails: vec![email(address)],
        tags: tags.iter().map(|tag| (*tag).to_owned()).collect(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_are_normalised_and_added_and_removed() {
    on_both(|server| async move {
        let mut client = server.contacts().await;
        let ana = server
            .create(tagged("ana@x.com", &[" VIP ", "Key   Account", "vip"]))
            .await;
        assert_eq!(ana.tags, ["key account", "vip"]);

        let added = client
            .add_contact_tags(server.req(pb::AddContactTagsRequest {
                contact_id: ana.id.clone(),
                tags: vec!["Churn Risk".into(), "VIP".into()],
                etag: ana.etag.clone(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(added.tags, ["churn risk", "key account", "vip"]);
        assert_ne!(added.etag, ana.etag);

        // Adding what it has already changes nothing, not even the etag.
        let again = client
            .add_contact_tags(server.req(pb::AddContactTagsRequest {
                contact_id: ana.id.clone(),
                tags: vec!["vip".into()],
                etag: String::new(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(again.etag, added.etag);

        let removed = client
            .remove_contact_tags(server.req(pb::RemoveContactTagsRequest {
                contact_id: ana.id.clone(),
                tags: vec!["KEY ACCOUNT".into(), "never had it".into()],
                etag: added.etag.clone(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(removed.tags, ["churn risk", "vip"]);

        // A stale etag changes nothing.
        let stale = client
            .remove_contact_tags(server.req(pb::RemoveContactTagsRequest {
                contact_id: ana.id.clone(),
                tags: vec!["vip".into()],
                etag: added.etag.clone(),
            }))
            .await
            .unwrap_err();
        assert_code(&stale, tonic::Code::Aborted);

        // UpdateContact with `tags` in the mask replaces the set.
        let replaced = client
            .update_contact(server.req(pb::UpdateContactRequest {
                contact: Some(pb::Contact {
                    id: ana.id.clone(),
                    tags: vec!["Renewal".into()],
                    ..Default::default()
                }),
                update_mask: mask(&["tags"]),
                etag: String::new(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(replaced.tags, ["renewal"]);
        assert_eq!(server.get(&ana.id).await.tags, ["renewal"]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tags_are_named_and_change_nothing() {
    on_both(|server| async move {
        let mut client = server.contacts().await;
        let refused = client
            .create_contact(server.req(pb::CreateContactRequest {
                contact: Some(tagged("ana@x.com", &["ok", "  ", &"x".repeat(65)])),
                request_id: String::new(),
            }))
            .await
            .unwrap_err();
        assert_invalid(&refused, &["contact.tags[1]", "contact.tags[2]"]);
        assert!(server.list_all().await.is_empty());

        let ana = server.create(tagged("ana@x.com", &["vip"])).await;
        let refused = client
            .add_contact_tags(server.req(pb::AddContactTagsRequest {
                contact_id: ana.id.clone(),
                tags: vec!["bad\u{7}tag".into()],
                etag: String::new(),
            }))
            .await
            .unwrap_err();
        assert_invalid(&refused, &["tags[0]"]);
        let empty = client
            .remove_contact_tags(server.req(pb::RemoveContactTagsRequest {
                contact_id: ana.id.clone(),
                tags: Vec::new(),
                etag: String::new(),
            }))
            .await
            .unwrap_err();
        assert_invalid(&empty, &["tags"]);
        let missing = client
            .add_contact_tags(server.req(pb::AddContactTagsRequest {
                contact_id: uuid::Uuid::now_v7().to_string(),
                tags: vec!["vip".into()],
                etag: String::new(),
            }))
            .await
            .unwrap_err();
        assert_code(&missing, tonic::Code::NotFound);
        assert_eq!(server.get(&ana.id).await.tags, ["vip"]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_list_by_tag_in_stable_pages() {
    on_both(|server| async move {
        let mut client = server.contacts().await;
        let mut vips = Vec::new();
        for index in 0..5 {
            let tags: &[&str] = if index % 2 == 0 {
                &["VIP"]
            } else {
                &["standard"]
            };
            let contact = server
                .create(tagged(&format!("c{index}@x.com"), tags))
                .await;
            if index % 2 == 0 {
                vips.push(contact.id);
            }
        }
        let mut seen = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = client
                .list_contacts(server.req(pb::ListContactsRequest {
                    filter: String::new(),
                    page_size: 2,
                    page_token,
                    tag: " vip".into(),
                    ..Default::default()
                }))
                .await
                .unwrap()
                .into_inner();
            assert!(page.contacts.iter().all(|c| c.tags == ["vip"]));
            seen.extend(page.contacts.into_iter().map(|c| c.id));
            if page.next_page_token.is_empty() {
                break;
            }
            // A token is only good for the tag it was issued for.
            let mismatch = client
                .list_contacts(server.req(pb::ListContactsRequest {
                    filter: String::new(),
                    page_size: 2,
                    page_token: page.next_page_token.clone(),
                    tag: "standard".into(),
                    ..Default::default()
                }))
                .await
                .unwrap_err();
            assert_invalid(&mismatch, &["page_token"]);
            page_token = page.next_page_token;
        }
        assert_eq!(seen, vips);
        let none = client
            .list_contacts(server.req(pb::ListContactsRequest {
                filter: String::new(),
                tag: "nobody".into(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(none.contacts.is_empty());
    })
    .await;
}
