//! AttachmentService end to end, on both blob adapters (the SQLite runs
//! store files in a directory, the PostgreSQL runs in an object store):
//! uploads streamed in chunks and downloaded byte for byte with the
//! server's checksum; one stored copy per tenant and content; uploads that
//! fail in any way (limit, size, checksum, cut off) leaving no record and
//! no bytes; another tenant unable to reach a file; bytes of a deleted
//! contact removed by the sweep.

use crm_proto::v1 as pb;
use sha2::Digest;
use tokio_stream::StreamExt;

use crate::fixtures::{
    all_pages, assert_code, assert_invalid, contact_with_email, contact_with_email_and_key,
    create_org, org,
};
use crate::harness::{TestServer, on_both, with_key};

/// `len` bytes that do not repeat in any short period.
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[3]
        })
        .collect()
}

fn hex(data: &[u8]) -> String {
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn metadata(contact_id: &str, name: &str, size: usize) -> pb::AttachmentMetadata {
    pb::AttachmentMetadata {
        owner: Some(pb::attachment_metadata::Owner::ContactId(contact_id.into())),
        file_name: name.into(),
        content_type: "application/pdf".into(),
        size: size as u64,
        uploaded_by: "agent-7".into(),
        ..Default::default()
    }
}

fn first(metadata: pb::AttachmentMetadata) -> pb::UploadAttachmentRequest {
    pb::UploadAttachmentRequest {
        part: Some(pb::upload_attachment_request::Part::Metadata(metadata)),
    }
}

fn chunk(data: &[u8]) -> pb::UploadAttachmentRequest {
    pb::UploadAttachmentRequest {
        part: Some(pb::upload_attachment_request::Part::Chunk(data.to_vec())),
    }
}

/// Uploads `data` in 64 KiB chunks after `metadata`, with `key`.
async fn upload_with(
    server: &TestServer,
    key: &str,
    metadata: pb::AttachmentMetadata,
    data: &[u8],
) -> Result<pb::Attachment, tonic::Status> {
    let messages: Vec<_> = std::iter::once(first(metadata))
        .chain(data.chunks(64 * 1024).map(chunk))
        .collect();
    server
        .attachments()
        .await
        .upload_attachment(with_key(tokio_stream::iter(messages), key))
        .await
        .map(tonic::Response::into_inner)
}

async fn upload(
    server: &TestServer,
    metadata: pb::AttachmentMetadata,
    data: &[u8],
) -> Result<pb::Attachment, tonic::Status> {
    upload_with(server, &server.key, metadata, data).await
}

/// Downloads an attachment: its record and its bytes.
async fn download(
    server: &TestServer,
    key: &str,
    id: &str,
) -> Result<(pb::Attachment, Vec<u8>), tonic::Status> {
    let mut stream = server
        .attachments()
        .await
        .download_attachment(with_key(
            pb::DownloadAttachmentRequest { id: id.into() },
            key,
        ))
        .await?
        .into_inner();
    let mut record = None;
    let mut data = Vec::new();
    while let Some(message) = stream.next().await {
        match message?.part {
            Some(pb::download_attachment_response::Part::Attachment(attachment)) => {
                assert!(record.is_none(), "the record came twice");
                assert!(data.is_empty(), "the record came after bytes");
                record = Some(attachment);
            }
            Some(pb::download_attachment_response::Part::Chunk(bytes)) => {
                assert!(bytes.len() <= 64 * 1024, "a chunk of {} bytes", bytes.len());
                data.extend(bytes);
            }
            None => panic!("an empty download message"),
        }
    }
    Ok((record.expect("no record"), data))
}

async fn list_ids(server: &TestServer, contact_id: &str, page_size: i32) -> Vec<String> {
    let client = server.attachments().await;
    all_pages(|page_token| {
        let mut client = client.clone();
        let request = server.req(pb::ListAttachmentsRequest {
            owner: Some(pb::list_attachments_request::Owner::ContactId(
                contact_id.into(),
            )),
            page_size,
            page_token,
        });
        async move {
            let page = client.list_attachments(request).await.unwrap().into_inner();
            (
                page.attachments.into_iter().map(|a| a.id).collect(),
                page.next_page_token,
            )
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_round_trip_byte_for_byte_and_are_stored_once() {
    on_both(|server| async move {
        let ana = contact_with_email(&server, "ana@x.com").await.id;
        let contract = bytes(300 * 1024 + 17, 1);
        let stored = upload(
            &server,
            pb::AttachmentMetadata {
                sha256: hex(&contract).to_uppercase(),
                ..metadata(&ana, " contract.pdf ", contract.len())
            },
            &contract,
        )
        .await
        .unwrap();
        assert_eq!(stored.file_name, "contract.pdf");
        assert_eq!(stored.content_type, "application/pdf");
        assert_eq!(stored.size, contract.len() as u64);
        assert_eq!(stored.sha256, hex(&contract));
        assert_eq!(stored.uploaded_by, "agent-7");
        assert_eq!(
            stored.owner,
            Some(pb::attachment::Owner::ContactId(ana.clone()))
        );

        let (record, data) = download(&server, &server.key, &stored.id).await.unwrap();
        assert_eq!(record, stored);
        assert!(data == contract, "the download differs from the upload");
        let got = server
            .attachments()
            .await
            .get_attachment(server.req(pb::GetAttachmentRequest {
                id: stored.id.clone(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got, stored);

        // The same bytes again (under another name) and an empty file.
        let copy = upload(
            &server,
            metadata(&ana, "copy.pdf", contract.len()),
            &contract,
        )
        .await
        .unwrap();
        assert_eq!(copy.sha256, stored.sha256);
        let empty = upload(
            &server,
            pb::AttachmentMetadata {
                content_type: String::new(),
                ..metadata(&ana, "empty.txt", 0)
            },
            &[],
        )
        .await
        .unwrap();
        assert_eq!(empty.content_type, "application/octet-stream");
        assert_eq!(empty.sha256, hex(&[]));
        assert_eq!(
            download(&server, &server.key, &empty.id).await.unwrap().1,
            b""
        );
        assert_eq!(
            list_ids(&server, &ana, 2).await,
            [empty.id.clone(), copy.id.clone(), stored.id.clone()],
            "newest first, across pages"
        );
        server.await_blobs(2).await;

        // Deleting one copy keeps the bytes the other still holds.
        let mut client = server.attachments().await;
        client
            .delete_attachment(server.req(pb::DeleteAttachmentRequest {
                id: stored.id.clone(),
            }))
            .await
            .unwrap();
        let status = client
            .get_attachment(server.req(pb::GetAttachmentRequest {
                id: stored.id.clone(),
            }))
            .await
            .unwrap_err();
        assert_code(&status, tonic::Code::NotFound);
        assert_eq!(
            download(&server, &server.key, &copy.id).await.unwrap().1,
            contract
        );
        server.await_blobs(2).await;
        for id in [&copy.id, &empty.id] {
            client
                .delete_attachment(server.req(pb::DeleteAttachmentRequest { id: id.clone() }))
                .await
                .unwrap();
        }
        server.await_blobs(0).await;
        assert!(list_ids(&server, &ana, 0).await.is_empty());

        // Organizations take files too.
        let acme = create_org(&server, org("Acme", &[])).await;
        let logo = bytes(1000, 2);
        let on_acme = upload(
            &server,
            pb::AttachmentMetadata {
                owner: Some(pb::attachment_metadata::Owner::OrganizationId(
                    acme.id.clone(),
                )),
                ..metadata(&ana, "logo.png", logo.len())
            },
            &logo,
        )
        .await
        .unwrap();
        let listed = client
            .list_attachments(server.req(pb::ListAttachmentsRequest {
                owner: Some(pb::list_attachments_request::Owner::OrganizationId(
                    acme.id.clone(),
                )),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(listed.attachments, [on_acme]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_uploads_leave_no_record_and_no_bytes() {
    on_both(|server| async move {
        let ana = contact_with_email(&server, "ana@x.com").await.id;
        let data = bytes(200 * 1024, 3);

        // Over the default 25 MiB limit: refused before any byte is sent.
        let status = upload(
            &server,
            metadata(&ana, "huge.bin", 25 * 1024 * 1024 + 1),
            &[],
        )
        .await
        .unwrap_err();
        assert_code(&status, tonic::Code::ResourceExhausted);
        assert!(status.message().contains("26214400"), "{status:?}");

        // Fewer bytes, more bytes, or other bytes than declared.
        let status = upload(&server, metadata(&ana, "short.bin", data.len() + 1), &data)
            .await
            .unwrap_err();
        assert_invalid(&status, &["metadata.size"]);
        let status = upload(&server, metadata(&ana, "long.bin", data.len() - 1), &data)
            .await
            .unwrap_err();
        assert_invalid(&status, &["metadata.size"]);
        let status = upload(
            &server,
            pb::AttachmentMetadata {
                sha256: hex(b"something else"),
                ..metadata(&ana, "other.bin", data.len())
            },
            &data,
        )
        .await
        .unwrap_err();
        assert_invalid(&status, &["metadata.sha256"]);

        // Malformed streams and metadata.
        let mut client = server.attachments().await;
        let status = client
            .upload_attachment(server.req(tokio_stream::iter(vec![chunk(&data)])))
            .await
            .unwrap_err();
        assert_invalid(&status, &["metadata"]);
        let status = client
            .upload_attachment(server.req(tokio_stream::iter(vec![
                first(metadata(&ana, "twice.bin", 1)),
                first(metadata(&ana, "twice.bin", 1)),
            ])))
            .await
            .unwrap_err();
        assert_invalid(&status, &["metadata"]);
        let status = upload(
            &server,
            pb::AttachmentMetadata {
                content_type: "pdf".into(),
                sha256: "abc".into(),
                ..metadata(&ana, "a/b.pdf", 1)
            },
            &[1],
        )
        .await
        .unwrap_err();
        assert_invalid(&status, &["metadata.sha256"]);
        let status = upload(&server, metadata(&ana, "b.pdf", 1), &[1]).await;
        assert!(status.is_ok(), "a good upload after bad ones: {status:?}");
        let good = status.unwrap();
        let status = upload(
            &server,
            pb::AttachmentMetadata {
                content_type: "pdf".into(),
                ..metadata(&ana, "a/b.pdf", 1)
            },
            &[1],
        )
        .await
        .unwrap_err();
        assert_invalid(&status, &["metadata.content_type", "metadata.file_name"]);
        let status = upload(
            &server,
            metadata(&uuid::Uuid::now_v7().to_string(), "ghost.bin", 1),
            &[1],
        )
        .await
        .unwrap_err();
        assert_code(&status, tonic::Code::NotFound);
        let status = upload(&server, metadata("not-a-uuid", "x.bin", 1), &[1])
            .await
            .unwrap_err();
        assert_invalid(&status, &["metadata.contact_id"]);

        // A stream cut off midway: the caller goes away after two chunks.
        let (sender, receiver) = tokio::sync::mpsc::channel(4);
        sender
            .send(first(metadata(&ana, "cut.bin", data.len())))
            .await
            .unwrap();
        sender.send(chunk(&data[..64 * 1024])).await.unwrap();
        sender
            .send(chunk(&data[64 * 1024..128 * 1024]))
            .await
            .unwrap();
        let call = tokio::spawn({
            let request = server.req(tokio_stream::wrappers::ReceiverStream::new(receiver));
            let mut client = server.attachments().await;
            async move { client.upload_attachment(request).await }
        });
        // Both chunks reached the store before the caller goes away.
        server.await_staged_bytes(128 * 1024).await;
        if server.staging_is_visible() {
            // The good file, and the cut one being staged.
            server.await_blobs(2).await;
        }
        call.abort();
        let _ = call.await;
        drop(sender);

        // Only the good upload is left, in the records and in the store.
        server.await_blobs(1).await;
        assert_eq!(list_ids(&server, &ana, 0).await, [good.id]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenant_cannot_reach_a_file() {
    on_both(|server| async move {
        let ana = contact_with_email(&server, "ana@x.com").await.id;
        let secret = bytes(5000, 4);
        let stored = upload(&server, metadata(&ana, "secret.pdf", secret.len()), &secret)
            .await
            .unwrap();
        let other = server.new_tenant("GB").await;
        let mut client = server.attachments().await;
        let status = client
            .get_attachment(with_key(
                pb::GetAttachmentRequest {
                    id: stored.id.clone(),
                },
                &other,
            ))
            .await
            .unwrap_err();
        assert_code(&status, tonic::Code::NotFound);
        let status = download(&server, &other, &stored.id).await.unwrap_err();
        assert_code(&status, tonic::Code::NotFound);
        let status = client
            .delete_attachment(with_key(
                pb::DeleteAttachmentRequest {
                    id: stored.id.clone(),
                },
                &other,
            ))
            .await
            .unwrap_err();
        assert_code(&status, tonic::Code::NotFound);
        // Another tenant's contact is unknown here, as any unknown id.
        let listed = client
            .list_attachments(with_key(
                pb::ListAttachmentsRequest {
                    owner: Some(pb::list_attachments_request::Owner::ContactId(ana.clone())),
                    ..Default::default()
                },
                &other,
            ))
            .await
            .unwrap_err();
        assert_code(&listed, tonic::Code::NotFound);
        let status = upload_with(&server, &other, metadata(&ana, "x.bin", 1), &[1])
            .await
            .unwrap_err();
        assert_code(&status, tonic::Code::NotFound);

        // The same bytes in the other tenant are its own copy.
        let theirs = contact_with_email_and_key(&server, &other, "bo@y.com")
            .await
            .id;
        let copy = upload_with(
            &server,
            &other,
            metadata(&theirs, "mine.pdf", secret.len()),
            &secret,
        )
        .await
        .unwrap();
        server.await_blobs(2).await;
        client
            .delete_attachment(with_key(
                pb::DeleteAttachmentRequest { id: copy.id },
                &other,
            ))
            .await
            .unwrap();
        server.await_blobs(1).await;
        assert_eq!(
            download(&server, &server.key, &stored.id).await.unwrap().1,
            secret
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_of_a_deleted_contact_go_with_the_next_sweep() {
    on_both(|server| async move {
        let ana = contact_with_email(&server, "ana@x.com").await.id;
        let data = bytes(10_000, 5);
        upload(&server, metadata(&ana, "a.bin", data.len()), &data)
            .await
            .unwrap();
        assert_eq!(server.sweep_attachments().await, 0, "nothing is unheld yet");
        server
            .contacts()
            .await
            .delete_contact(server.req(pb::DeleteContactRequest {
                id: ana.clone(),
                ..Default::default()
            }))
            .await
            .unwrap();
        server.await_blobs(1).await;
        assert_eq!(server.sweep_attachments().await, 1);
        server.await_blobs(0).await;
    })
    .await;
}

/// A chunk of exactly the documented maximum goes through (it and its
/// framing fit the 4 MiB message limit); one byte more is refused, naming
/// `chunk`, and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_of_the_documented_maximum_uploads() {
    on_both(|server| async move {
        let ana = contact_with_email(&server, "ana@x.com").await;
        let max = crm_domain::attachments::MAX_CHUNK_BYTES;
        let data: Vec<u8> = (0..max + 1).map(|n| (n % 251) as u8).collect();
        let messages = vec![
            first(metadata(&ana.id, "big.bin", data.len())),
            chunk(&data[..max]),
            chunk(&data[max..]),
        ];
        let stored = server
            .attachments()
            .await
            .upload_attachment(with_key(tokio_stream::iter(messages), &server.key))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(stored.size, data.len() as u64);
        let (_, bytes) = download(&server, &server.key, &stored.id).await.unwrap();
        assert_eq!(bytes, data);

        let too_big = vec![
            first(metadata(&ana.id, "bigger.bin", data.len())),
            chunk(&data),
        ];
        let refused = server
            .attachments()
            .await
            .upload_attachment(with_key(tokio_stream::iter(too_big), &server.key))
            .await
            .unwrap_err();
        assert_invalid(&refused, &["chunk"]);
    })
    .await;
}
