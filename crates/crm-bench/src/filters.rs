//! The filter case: a page of `ListContacts(filter)` and its
//! `CountContacts(filter)` from 4 callers, one call being the pair, over
//! filters on a custom field and a tag. The seed gives every contact a plan
//! (`i % 4`: 0 pro, 1 team, else free) and every tenth the tag `vip`; the
//! field itself is defined here, through the API.

use crm_proto::v1 as pb;
use crm_proto::v1::custom_field_service_client::CustomFieldServiceClient;

use crate::load::{self, Call, Measurement, Run, Sender};

/// Callers of the case.
pub const CALLERS: usize = 4;

/// The filters, in turn: 5%, 22.5% and 5% of the contacts match.
const FILTERS: [&str; 3] = [
    "custom_fields.plan = pro AND tags:vip",
    "custom_fields.plan = team AND NOT tags:vip",
    "tags:vip AND custom_fields.plan != free",
];

/// Defines the seed's `plan` field (options free, pro, team).
pub async fn define_plan(endpoint: &str, key: &str) -> Result<(), String> {
    let channel = load::channel(endpoint).await?;
    let mut request = tonic::Request::new(pb::CreateCustomFieldRequest {
        field: Some(pb::CustomField {
            record_type: pb::RecordType::Contact as i32,
            display_name: "Plan".into(),
            r#type: pb::CustomFieldType::SingleSelect as i32,
            options: ["Free", "Pro", "Team"]
                .iter()
                .map(|label| pb::SelectOption {
                    key: String::new(),
                    label: (*label).into(),
                    archived: false,
                })
                .collect(),
            ..Default::default()
        }),
    });
    request
        .metadata_mut()
        .insert("authorization", load::bearer(key)?);
    CustomFieldServiceClient::new(channel)
        .create_custom_field(request)
        .await
        .map_err(|status| format!("defining plan: {}", status.message()))?;
    Ok(())
}

/// Drives list-and-count pairs at [`CALLERS`] callers.
pub async fn drive(endpoint: &str, key: &str, run: &Run) -> Result<Measurement, String> {
    let authorization = load::bearer(key)?;
    let run = Run {
        callers: CALLERS,
        ..run.clone()
    };
    load::drive(&run, |_| {
        let client = load::connect(endpoint);
        let authorization = authorization.clone();
        async move {
            let client = client.await?;
            let mut turn = 0_usize;
            Ok(move |_: Sender| {
                let mut client = client.clone();
                turn += 1;
                let filter = FILTERS[turn % FILTERS.len()];
                let mut list = tonic::Request::new(pb::ListContactsRequest {
                    page_size: 50,
                    filter: filter.into(),
                    ..Default::default()
                });
                list.metadata_mut()
                    .insert("authorization", authorization.clone());
                let mut count = tonic::Request::new(pb::CountContactsRequest {
                    filter: filter.into(),
                    ..Default::default()
                });
                count
                    .metadata_mut()
                    .insert("authorization", authorization.clone());
                Box::pin(async move {
                    let page = client
                        .list_contacts(list)
                        .await
                        .map_err(|status| format!("{:?}: {}", status.code(), status.message()))?
                        .into_inner();
                    let counted = client
                        .count_contacts(count)
                        .await
                        .map_err(|status| format!("{:?}: {}", status.code(), status.message()))?
                        .into_inner();
                    if page.contacts.is_empty() || counted.count == 0 {
                        Err(format!("{filter:?} matched nothing"))
                    } else {
                        Ok(())
                    }
                }) as Call
            })
        }
    })
    .await
}
