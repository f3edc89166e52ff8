//! The server's infrastructure services end to end: `grpc.health.v1` and
//! gRPC server reflection, in v1 and in v1alpha (which grpcurl 1.8 and
//! other older tools rely on). Neither needs an API key.

use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::fixtures::assert_code;
use crate::harness::{TestServer, on_both};

const SERVICES: [&str; 2] = ["crm.v1.ContactService", "crm.v1.TenantService"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_the_server_and_each_service_serving() {
    on_both(|server| async move {
        let mut health = HealthClient::new(server.channel().await);
        for service in ["", SERVICES[0], SERVICES[1]] {
            let status = health
                .check(HealthCheckRequest {
                    service: service.into(),
                })
                .await
                .unwrap_or_else(|status| panic!("{service:?}: {status:?}"))
                .into_inner()
                .status;
            assert_eq!(status, ServingStatus::Serving as i32, "{service:?}");
        }
        let status = health
            .check(HealthCheckRequest {
                service: "crm.v1.NoSuchService".into(),
            })
            .await
            .unwrap_err();
        assert_code(&status, Code::NotFound);
    })
    .await;
}

/// Whether `haystack` contains `needle`: enough to tell which file a
/// serialized FileDescriptorProto is without decoding it.
fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

mod v1alpha {
    pub(super) use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
    pub(super) use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    pub(super) use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    pub(super) use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
}

mod v1 {
    pub(super) use tonic_reflection::pb::v1::ServerReflectionRequest;
    pub(super) use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    pub(super) use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    pub(super) use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
}

/// What reflection v1alpha answers to a list request and a request for the
/// file defining ContactService: (service names, file descriptors).
async fn ask_v1alpha(server: &TestServer) -> (Vec<String>, Vec<Vec<u8>>) {
    use v1alpha::*;
    let mut client = ServerReflectionClient::new(server.channel().await);
    let requests = [
        MessageRequest::ListServices(String::new()),
        MessageRequest::FileContainingSymbol(SERVICES[0].into()),
    ]
    .map(|request| ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    });
    let mut answers = client
        .server_reflection_info(tokio_stream::iter(requests))
        .await
        .unwrap()
        .into_inner();
    let (mut services, mut files) = (Vec::new(), Vec::new());
    while let Some(answer) = answers.message().await.unwrap() {
        match answer.message_response {
            Some(MessageResponse::ListServicesResponse(list)) => {
                services.extend(list.service.into_iter().map(|s| s.name));
            }
            Some(MessageResponse::FileDescriptorResponse(found)) => {
                files.extend(found.file_descriptor_proto);
            }
            other => panic!("unexpected reflection answer: {other:?}"),
        }
    }
    (services, files)
}

/// The same questions over reflection v1.
async fn ask_v1(server: &TestServer) -> (Vec<String>, Vec<Vec<u8>>) {
    use v1::*;
    let mut client = ServerReflectionClient::new(server.channel().await);
    let requests = [
        MessageRequest::ListServices(String::new()),
        MessageRequest::FileContainingSymbol(SERVICES[0].into()),
    ]
    .map(|request| ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    });
    let mut answers = client
        .server_reflection_info(tokio_stream::iter(requests))
        .await
        .unwrap()
        .into_inner();
    let (mut services, mut files) = (Vec::new(), Vec::new());
    while let Some(answer) = answers.message().await.unwrap() {
        match answer.message_response {
            Some(MessageResponse::ListServicesResponse(list)) => {
                services.extend(list.service.into_iter().map(|s| s.name));
            }
            Some(MessageResponse::FileDescriptorResponse(found)) => {
                files.extend(found.file_descriptor_proto);
            }
            other => panic!("unexpected reflection answer: {other:?}"),
        }
    }
    (services, files)
}

fn assert_describes_the_api(version: &str, services: &[String], files: &[Vec<u8>]) {
    for service in SERVICES.into_iter().chain(["grpc.health.v1.Health"]) {
        assert!(
            services.iter().any(|s| s == service),
            "{version} does not list {service}: {services:?}"
        );
    }
    assert!(
        files
            .iter()
            .any(|file| contains(file, "crm/v1/contact_service.proto")
                && contains(file, "ResolveSender")),
        "{version} has no descriptor of crm/v1/contact_service.proto"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_v1alpha_lists_and_describes_the_services() {
    on_both(|server| async move {
        let (services, files) = ask_v1alpha(&server).await;
        assert_describes_the_api("v1alpha", &services, &files);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_v1_lists_and_describes_the_services() {
    on_both(|server| async move {
        let (services, files) = ask_v1(&server).await;
        assert_describes_the_api("v1", &services, &files);
    })
    .await;
}

/// grpcurl decodes error details (BadRequest, ResourceInfo, ErrorInfo) by
/// asking reflection for their types; without them it prints raw bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_knows_the_error_detail_types() {
    on_both(|server| async move {
        use v1alpha::*;
        let mut client = ServerReflectionClient::new(server.channel().await);
        let requests = [
            "google.rpc.BadRequest",
            "google.rpc.ResourceInfo",
            "google.rpc.ErrorInfo",
        ]
        .map(|symbol| ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol(symbol.into())),
        });
        let mut answers = client
            .server_reflection_info(tokio_stream::iter(requests))
            .await
            .unwrap()
            .into_inner();
        let mut answered = 0;
        while let Some(answer) = answers.message().await.unwrap() {
            let Some(MessageResponse::FileDescriptorResponse(found)) = answer.message_response
            else {
                panic!("unexpected reflection answer: {answer:?}");
            };
            let described = found.file_descriptor_proto.iter().any(|bytes| {
                let file =
                    <prost_types::FileDescriptorProto as prost::Message>::decode(bytes.as_slice())
                        .unwrap();
                file.package() == "google.rpc"
                    && ["BadRequest", "ResourceInfo", "ErrorInfo"]
                        .iter()
                        .all(|name| {
                            file.message_type
                                .iter()
                                .any(|message| message.name() == *name)
                        })
            });
            assert!(
                described,
                "the answer does not describe the google.rpc error details"
            );
            answered += 1;
        }
        assert_eq!(answered, 3);
    })
    .await;
}
