//! The search case: SearchContacts from 4 searchers over the seeded
//! contacts, in two mixes that the issue gives targets for: exact addresses
//! and name prefixes, then infixes (part of a last name, a run of a phone
//! number's digits, a common part of first names).

use crm_proto::v1 as pb;

use crate::load::{self, Call, Measurement, Run, Sender};
use crate::seed;

/// Searchers of the case.
pub const SEARCHERS: usize = 4;

/// Which queries a run sends.
#[derive(Debug, Clone, Copy)]
pub enum Mix {
    /// A contact's exact email, a full first name and the start of a last
    /// name ("maria si"), or two letters ("ma").
    ExactOrPrefix,
    /// Part of a last name ("ilva"), seven digits of a phone number, or a
    /// part of several first names ("aria").
    Infix,
}

/// The query a draw of the workload stands for.
fn query(mix: Mix, sender: &Sender) -> String {
    let (first, last) = (seed::first_names(), seed::last_names());
    let name_of = |i: u64| {
        let at = |names: &[&'static str], n: u64| {
            names[usize::try_from(n % names.len() as u64).unwrap_or(0)]
        };
        (at(&first, i), at(&last, i / first.len() as u64))
    };
    match (mix, sender) {
        (Mix::ExactOrPrefix, Sender::KnownEmail(i)) => format!("user{i}@bench.example"),
        (Mix::ExactOrPrefix, Sender::KnownPhone(i)) => {
            let (first, last) = name_of(*i);
            format!("{first} {}", &last[..2])
        }
        (Mix::ExactOrPrefix, _) => "ma".to_owned(),
        (Mix::Infix, Sender::KnownEmail(i)) => {
            let (_, last) = name_of(*i);
            last[1..last.len().min(5)].to_owned()
        }
        (Mix::Infix, Sender::KnownPhone(i)) => format!("{}", 2_000_000 + i),
        (Mix::Infix, _) => "aria".to_owned(),
    }
}

/// Drives SearchContacts with `mix` at [`SEARCHERS`] callers.
pub async fn drive(endpoint: &str, key: &str, run: &Run, mix: Mix) -> Result<Measurement, String> {
    let authorization = load::bearer(key)?;
    let run = Run {
        callers: SEARCHERS,
        ..run.clone()
    };
    load::drive(&run, |_| {
        let client = load::connect(endpoint);
        let authorization = authorization.clone();
        async move {
            let client = client.await?;
            Ok(move |sender: Sender| {
                let mut client = client.clone();
                let text = query(mix, &sender);
                let mut request = tonic::Request::new(pb::SearchContactsRequest {
                    query: text.clone(),
                    page_size: 20,
                    page_token: String::new(),
                });
                request
                    .metadata_mut()
                    .insert("authorization", authorization.clone());
                Box::pin(async move {
                    let found = client
                        .search_contacts(request)
                        .await
                        .map_err(|status| format!("{:?}: {}", status.code(), status.message()))?
                        .into_inner();
                    if found.results.is_empty() {
                        Err(format!("{text:?} found nothing"))
                    } else {
                        Ok(())
                    }
                }) as Call
            })
        }
    })
    .await
}
