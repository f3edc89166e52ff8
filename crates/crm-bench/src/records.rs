//! The record case: GetContact and UpdateContact on a contact carrying 200
//! custom-field values (half text, half numbers), so the cost of wide
//! records shows. Definitions and contacts (one per caller) are made
//! through the API; each update changes one value of the caller's own
//! contact by `custom_fields.KEY` without an etag, as an integration syncing
//! one attribute would.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crm_proto::v1 as pb;
use crm_proto::v1::contact_service_client::ContactServiceClient;
use crm_proto::v1::custom_field_service_client::CustomFieldServiceClient;
use pb::custom_field_value::Value;
use tonic::transport::Channel;

use crate::load::{self, Call, Measurement, Run, Sender};

/// Values on the benchmark contact.
pub const VALUES: usize = 200;

fn request<T>(
    message: T,
    authorization: &tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", authorization.clone());
    request
}

fn value_for(index: usize, round: u64) -> pb::CustomFieldValue {
    let value = if index.is_multiple_of(2) {
        Value::TextValue(format!("value {index} round {round}"))
    } else {
        Value::NumberValue(format!("{}.{:02}", round, index % 100))
    };
    pb::CustomFieldValue { value: Some(value) }
}

/// Defines the fields, creates `count` wide contacts, and returns their ids.
async fn prepare(
    channel: Channel,
    authorization: &tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
    count: usize,
) -> Result<Vec<String>, String> {
    let mut fields = CustomFieldServiceClient::new(channel.clone());
    for index in 0..VALUES {
        let kind = if index.is_multiple_of(2) {
            pb::CustomFieldType::Text
        } else {
            pb::CustomFieldType::Number
        };
        fields
            .create_custom_field(request(
                pb::CreateCustomFieldRequest {
                    field: Some(pb::CustomField {
                        record_type: pb::RecordType::Contact as i32,
                        key: format!("field_{index:03}"),
                        display_name: format!("Field {index}"),
                        r#type: kind as i32,
                        ..Default::default()
                    }),
                },
                authorization,
            ))
            .await
            .map_err(|status| format!("define field {index}: {}", status.message()))?;
    }
    let mut contacts = ContactServiceClient::new(channel);
    let mut ids = Vec::with_capacity(count);
    for _ in 0..count {
        let contact = contacts
            .create_contact(request(
                pb::CreateContactRequest {
                    contact: Some(pb::Contact {
                        display_name: "Wide record".into(),
                        custom_fields: (0..VALUES)
                            .map(|index| (format!("field_{index:03}"), value_for(index, 0)))
                            .collect(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                authorization,
            ))
            .await
            .map_err(|status| format!("create wide contact: {}", status.message()))?
            .into_inner();
        if contact.custom_fields.len() != VALUES {
            return Err(format!(
                "the wide contact holds {} values",
                contact.custom_fields.len()
            ));
        }
        ids.push(contact.id);
    }
    Ok(ids)
}

/// What the record case measured.
pub struct RecordCase {
    pub get: Measurement,
    pub update: Measurement,
}

/// Runs GetContact, then UpdateContact, at `run.callers` callers.
pub async fn drive(endpoint: &str, key: &str, run: &Run) -> Result<RecordCase, String> {
    let authorization: tonic::metadata::MetadataValue<_> = format!("Bearer {key}")
        .parse()
        .map_err(|_| "bad key".to_owned())?;
    let connect = || load::channel(endpoint);
    let ids = prepare(connect().await?, &authorization, run.callers.max(1)).await?;
    let get = load::drive(run, |caller| {
        let (id, authorization) = (ids[caller % ids.len()].clone(), authorization.clone());
        let connected = connect();
        async move {
            let client = ContactServiceClient::new(connected.await?);
            Ok(move |_: Sender| {
                let mut client = client.clone();
                let message = request(pb::GetContactRequest { id: id.clone() }, &authorization);
                Box::pin(async move {
                    let contact = client
                        .get_contact(message)
                        .await
                        .map_err(|status| format!("{:?}: {}", status.code(), status.message()))?
                        .into_inner();
                    if contact.custom_fields.len() == VALUES {
                        Ok(())
                    } else {
                        Err("values missing".to_owned())
                    }
                }) as Call
            })
        }
    })
    .await?;
    let rounds = Arc::new(AtomicU64::new(1));
    let update = load::drive(run, |caller| {
        let (id, authorization, rounds) = (
            ids[caller % ids.len()].clone(),
            authorization.clone(),
            rounds.clone(),
        );
        let connected = connect();
        async move {
            let client = ContactServiceClient::new(connected.await?);
            Ok(move |_: Sender| {
                let mut client = client.clone();
                let round = rounds.fetch_add(1, Ordering::Relaxed);
                let index = (caller * 7 + usize::try_from(round).unwrap_or(0)) % VALUES;
                let key = format!("field_{index:03}");
                let message = request(
                    pb::UpdateContactRequest {
                        contact: Some(pb::Contact {
                            id: id.clone(),
                            custom_fields: [(key.clone(), value_for(index, round))].into(),
                            ..Default::default()
                        }),
                        update_mask: Some(prost_types::FieldMask {
                            paths: vec![format!("custom_fields.{key}")],
                        }),
                        etag: String::new(),
                    },
                    &authorization,
                );
                Box::pin(async move {
                    client
                        .update_contact(message)
                        .await
                        .map(|_| ())
                        .map_err(|status| format!("{:?}: {}", status.code(), status.message()))
                }) as Call
            })
        }
    })
    .await?;
    Ok(RecordCase { get, update })
}
