//! ContactService end to end.

use crm_proto::v1 as pb;

use crate::harness::on_both;

fn whatsapp(address: &str) -> pb::ResolveSenderRequest {
    pb::ResolveSenderRequest {
        channel: pb::Channel::Whatsapp as i32,
        address: address.into(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_sender_is_created_once_and_recognised_after() {
    on_both(|server| async move {
        let mut client = server.contacts().await;
        let first = client
            .resolve_sender(server.req(whatsapp("16502530000")))
            .await
            .unwrap()
            .into_inner();
        assert!(first.created);
        assert_eq!(first.matched_by, pb::MatchedBy::Unspecified as i32);
        let again = client
            .resolve_sender(server.req(pb::ResolveSenderRequest {
                channel: pb::Channel::Sms as i32,
                address: "(650) 253-0000".into(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(!again.created);
        assert_eq!(again.matched_by, pb::MatchedBy::Address as i32);
        assert_eq!(again.contact.unwrap().id, first.contact.unwrap().id);
    })
    .await;
}
