//! The duplicate-finding case. The seed's million contacts share one email
//! domain, `bench.example`, which the tenant is told is free mail (as an
//! operator does for a domain all customers share), so they are no
//! evidence; then [`PAIRS`] pairs of contacts with the same name at one
//! company domain and [`NEAR`] pairs of near-identical names in one city
//! are written through the API. The case times how long the standing index
//! takes to take the whole seed in, the first FindDuplicateContacts after
//! the planted writes (it takes them in before answering), and [`CALLS`]
//! more first pages.

use std::time::{Duration, Instant};

use crm_proto::v1 as pb;
use crm_proto::v1::contact_service_client::ContactServiceClient;
use crm_proto::v1::merge_service_client::MergeServiceClient;
use crm_proto::v1::tenant_service_client::TenantServiceClient;
use tonic::transport::Channel;

use crate::files::request;
use crate::load;

/// Pairs with the same name at the same company domain.
pub const PAIRS: usize = 500;
/// Pairs with near-identical names in the same city.
pub const NEAR: usize = 250;
/// Timed first pages after the first.
pub const CALLS: usize = 20;
/// Groups per page.
const PAGE: i32 = 50;
/// Callers writing the planted pairs.
const WRITERS: usize = 16;

/// What the finding case measured.
#[derive(Debug)]
pub struct Finding {
    /// The first call after the planted writes.
    pub first: Duration,
    /// The next calls, sorted.
    pub calls: Vec<Duration>,
    /// Groups on the first page.
    pub groups: usize,
    /// Contacts still waiting at the last call.
    pub waiting: i64,
}

impl Finding {
    /// The `percentile`th of the timed calls, in ms.
    pub fn percentile_ms(&self, percentile: f64) -> f64 {
        let index = ((self.calls.len() as f64 - 1.0) * percentile / 100.0).round() as usize;
        self.calls
            .get(index)
            .map_or(0.0, |call| call.as_secs_f64() * 1000.0)
    }
}

async fn first_page(
    channel: Channel,
    key: &str,
) -> Result<(Duration, pb::FindDuplicateContactsResponse), String> {
    let started = Instant::now();
    let page = MergeServiceClient::new(channel)
        .find_duplicate_contacts(request(
            pb::FindDuplicateContactsRequest {
                page_size: PAGE,
                page_token: String::new(),
            },
            key,
        )?)
        .await
        .map_err(|status| format!("find duplicates: {status:?}"))?
        .into_inner();
    Ok((started.elapsed(), page))
}

/// Tells the tenant `bench.example` is free mail.
pub async fn declare_free_mail(endpoint: &str, key: &str) -> Result<(), String> {
    TenantServiceClient::new(load::channel(endpoint).await?)
        .update_tenant_settings(request(
            pb::UpdateTenantSettingsRequest {
                settings: Some(pb::TenantSettings {
                    extra_free_mail_domains: vec!["bench.example".into()],
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["extra_free_mail_domains".into()],
                }),
                etag: String::new(),
            },
            key,
        )?)
        .await
        .map_err(|status| format!("settings: {status:?}"))?;
    Ok(())
}

/// Waits until the index has taken every waiting contact in; returns how
/// long that took.
pub async fn drain(endpoint: &str, key: &str) -> Result<Duration, String> {
    let channel = load::channel(endpoint).await?;
    let started = Instant::now();
    // Each call takes in up to 10,000 waiting contacts itself (beside the
    // background indexer) before it answers, so the loop paces itself.
    loop {
        let (_, page) = first_page(channel.clone(), key).await?;
        if page.pending_contacts == 0 {
            return Ok(started.elapsed());
        }
    }
}

fn person(name: String, city: &str, address: String) -> pb::Contact {
    pb::Contact {
        display_name: name,
        city: city.into(),
        emails: vec![pb::EmailAddress {
            address,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The planted contacts: pair `n` of the same name, then pair `n` of
/// near-identical names.
fn planted() -> Vec<pb::Contact> {
    let mut people = Vec::with_capacity(2 * (PAIRS + NEAR));
    for n in 0..PAIRS {
        let domain = format!("company{}.example", n % 50);
        for side in ["a", "b"] {
            people.push(person(
                format!("Dupe{n} Person"),
                "",
                format!("p{n}{side}@{domain}"),
            ));
        }
    }
    for n in 0..NEAR {
        let city = format!("Bench City {}", n % 20);
        people.push(person(
            format!("Mara Lind{n}"),
            &city,
            format!("ml{n}@x{n}.example"),
        ));
        people.push(person(
            format!("Mara Lynd{n}"),
            &city,
            format!("my{n}@y{n}.example"),
        ));
    }
    people
}

/// Plants the pairs and times first pages.
pub async fn drive(endpoint: &str, key: &str) -> Result<Finding, String> {
    let channel = load::channel(endpoint).await?;
    let people = planted();
    let mut writers = Vec::with_capacity(WRITERS);
    for writer in 0..WRITERS {
        let mine: Vec<pb::Contact> = people
            .iter()
            .skip(writer)
            .step_by(WRITERS)
            .cloned()
            .collect();
        let (channel, key) = (channel.clone(), key.to_owned());
        writers.push(tokio::spawn(async move {
            let mut client = ContactServiceClient::new(channel);
            for contact in mine {
                client
                    .create_contact(request(
                        pb::CreateContactRequest {
                            contact: Some(contact),
                            request_id: String::new(),
                        },
                        &key,
                    )?)
                    .await
                    .map_err(|status| format!("plant: {status:?}"))?;
            }
            Ok::<(), String>(())
        }));
    }
    for writer in writers {
        writer.await.map_err(|error| error.to_string())??;
    }
    let (first, page) = first_page(channel.clone(), key).await?;
    let groups = page.groups.len();
    let mut calls = Vec::with_capacity(CALLS);
    let mut waiting = page.pending_contacts;
    for _ in 0..CALLS {
        let (took, page) = first_page(channel.clone(), key).await?;
        calls.push(took);
        waiting = page.pending_contacts;
    }
    calls.sort();
    Ok(Finding {
        first,
        calls,
        groups,
        waiting,
    })
}
