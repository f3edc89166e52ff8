//! NoteService end to end: notes on contacts and organizations, listed
//! pinned first then newest, updated under an etag, deleted, gone with
//! their record, and invisible to another tenant.

use crm_proto::v1 as pb;

use crate::fixtures::{
    all_pages, assert_code, assert_invalid, contact_with_email, create_org, mask, org, write_note,
};
use crate::harness::{TestServer, on_both, with_key};

fn on_contact(contact_id: &str, body: &str, pinned: bool) -> pb::Note {
    pb::Note {
        owner: Some(pb::note::Owner::ContactId(contact_id.into())),
        author: "agent-7".into(),
        body: body.into(),
        format: pb::NoteFormat::Markdown as i32,
        pinned,
        ..Default::default()
    }
}

async fn list(server: &TestServer, contact_id: &str, page_size: i32) -> Vec<String> {
    let client = server.notes().await;
    all_pages(|page_token| {
        let mut client = client.clone();
        let request = server.req(pb::ListNotesRequest {
            owner: Some(pb::list_notes_request::Owner::ContactId(contact_id.into())),
            page_size,
            page_token,
        });
        async move {
            let page = client.list_notes(request).await.unwrap().into_inner();
            (
                page.notes.into_iter().map(|note| note.body).collect(),
                page.next_page_token,
            )
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_list_pinned_first_then_newest_and_change_under_an_etag() {
    on_both(|server| async move {
        let ana = contact_with_email(&server, "ana@x.com").await;
        let mut client = server.notes().await;
        write_note(&server, on_contact(&ana.id, "first", false)).await;
        let escalate = write_note(&server, on_contact(&ana.id, "**Always escalate**", true)).await;
        let third = write_note(&server, on_contact(&ana.id, "third", false)).await;
        assert_eq!(escalate.format, pb::NoteFormat::Markdown as i32);
        assert_eq!(
            list(&server, &ana.id, 2).await,
            ["**Always escalate**", "third", "first"]
        );

        let pinned = client
            .update_note(server.req(pb::UpdateNoteRequest {
                note: Some(pb::Note {
                    id: third.id.clone(),
                    pinned: true,
                    ..Default::default()
                }),
                update_mask: mask(&["pinned"]),
                etag: third.etag.clone(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(pinned.pinned);
        assert_eq!(pinned.body, "third");
        assert_eq!(
            list(&server, &ana.id, 1).await,
            ["third", "**Always escalate**", "first"]
        );
        let stale = client
            .update_note(server.req(pb::UpdateNoteRequest {
                note: Some(pb::Note {
                    id: third.id.clone(),
                    body: "edited".into(),
                    ..Default::default()
                }),
                update_mask: None,
                etag: third.etag.clone(),
            }))
            .await
            .unwrap_err();
        assert_code(&stale, tonic::Code::Aborted);
        let got = client
            .get_note(server.req(pb::GetNoteRequest {
                id: third.id.clone(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got, pinned);

        client
            .delete_note(server.req(pb::DeleteNoteRequest {
                id: escalate.id.clone(),
                etag: escalate.etag.clone(),
            }))
            .await
            .unwrap();
        assert_eq!(list(&server, &ana.id, 10).await, ["third", "first"]);
        let gone = client
            .get_note(server.req(pb::GetNoteRequest {
                id: escalate.id.clone(),
            }))
            .await
            .unwrap_err();
        assert_code(&gone, tonic::Code::NotFound);

        // Notes go with their contact.
        server
            .contacts()
            .await
            .delete_contact(server.req(pb::DeleteContactRequest {
                id: ana.id.clone(),
                etag: String::new(),
            }))
            .await
            .unwrap();
        let orphan = client
            .get_note(server.req(pb::GetNoteRequest {
                id: third.id.clone(),
            }))
            .await
            .unwrap_err();
        assert_code(&orphan, tonic::Code::NotFound);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_are_checked_owned_and_private_to_the_tenant() {
    on_both(|server| async move {
        let mut client = server.notes().await;
        let acme = create_org(&server, org("Acme", &[])).await;
        let on_org = write_note(
            &server,
            pb::Note {
                owner: Some(pb::note::Owner::OrganizationId(acme.id.clone())),
                author: "agent-7".into(),
                body: "Renewal in March".into(),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(on_org.format, pb::NoteFormat::PlainText as i32);
        let listed = client
            .list_notes(server.req(pb::ListNotesRequest {
                owner: Some(pb::list_notes_request::Owner::OrganizationId(
                    acme.id.clone(),
                )),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(listed.notes, std::slice::from_ref(&on_org));

        let bad = client
            .create_note(server.req(pb::CreateNoteRequest {
                note: Some(pb::Note {
                    owner: Some(pb::note::Owner::ContactId(uuid::Uuid::now_v7().to_string())),
                    author: " ".into(),
                    body: "x".repeat(64 * 1024 + 1),
                    ..Default::default()
                }),
            }))
            .await
            .unwrap_err();
        assert_invalid(&bad, &["note.author", "note.body"]);
        let ownerless = client
            .create_note(server.req(pb::CreateNoteRequest {
                note: Some(pb::Note {
                    author: "a".into(),
                    body: "b".into(),
                    ..Default::default()
                }),
            }))
            .await
            .unwrap_err();
        assert_invalid(&ownerless, &["note.owner"]);
        let unknown = client
            .create_note(server.req(pb::CreateNoteRequest {
                note: Some(on_contact(&uuid::Uuid::now_v7().to_string(), "x", false)),
            }))
            .await
            .unwrap_err();
        assert_code(&unknown, tonic::Code::NotFound);

        let other = server.new_tenant("US").await;
        let hidden = client
            .get_note(with_key(
                pb::GetNoteRequest {
                    id: on_org.id.clone(),
                },
                &other,
            ))
            .await
            .unwrap_err();
        assert_code(&hidden, tonic::Code::NotFound);
        let untouchable = client
            .delete_note(with_key(
                pb::DeleteNoteRequest {
                    id: on_org.id.clone(),
                    etag: String::new(),
                },
                &other,
            ))
            .await
            .unwrap_err();
        assert_code(&untouchable, tonic::Code::NotFound);
    })
    .await;
}
