//! The busy-contact case: one contact (a bot, a reseller, a shared inbox)
//! takes [`CONVERSATIONS`] RecordConversation calls from [`WRITERS`]
//! concurrent callers. Each call's time is kept by its place in the
//! sequence, so the first and the last thousand writes can be compared: a
//! write must not cost more as the contact's history grows.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crm_proto::v1 as pb;
use crm_proto::v1::conversation_service_client::ConversationServiceClient;
use tonic::transport::Channel;

use crate::files::request;

/// Conversations written to the one contact.
pub const CONVERSATIONS: usize = 20_000;
/// Concurrent writers.
pub const WRITERS: usize = 16;
/// Writes in each compared window (the first and the last).
pub const WINDOW: usize = 1_000;

/// What the busy-contact case measured.
#[derive(Debug)]
pub struct BusyTimes {
    /// Wall time of the whole run.
    pub total: Duration,
    /// Mean time per write over the first [`WINDOW`] writes, in ms.
    pub first_mean_ms: f64,
    /// Mean time per write over the last [`WINDOW`] writes, in ms.
    pub last_mean_ms: f64,
    /// 99th percentile over the first window, in ms.
    pub first_p99_ms: f64,
    /// 99th percentile over the last window, in ms.
    pub last_p99_ms: f64,
    /// The contact's conversation count at the end, as it reports it.
    pub counted: u64,
}

impl BusyTimes {
    /// How many times the last window's mean costs the first's.
    pub fn growth(&self) -> f64 {
        self.last_mean_ms / self.first_mean_ms.max(f64::EPSILON)
    }
}

fn window(times: &[Duration]) -> (f64, f64) {
    let mut ms: Vec<f64> = times.iter().map(|t| t.as_secs_f64() * 1000.0).collect();
    let mean = ms.iter().sum::<f64>() / ms.len().max(1) as f64;
    ms.sort_by(f64::total_cmp);
    let p99 = ms
        .get((ms.len() * 99 / 100).min(ms.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0.0);
    (mean, p99)
}

/// Runs the case on the server at `endpoint`.
pub async fn drive(endpoint: &str, key: &str) -> Result<BusyTimes, String> {
    let channel = Channel::from_shared(endpoint.to_owned())
        .map_err(|error| error.to_string())?
        .tcp_nodelay(true)
        .connect()
        .await
        .map_err(|error| error.to_string())?;
    let tag = uuid::Uuid::now_v7().simple().to_string();
    let contact =
        crate::merges::contact(channel.clone(), key, &format!("busy-{tag}@bench.test")).await?;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut writers = Vec::with_capacity(WRITERS);
    for _ in 0..WRITERS {
        let (channel, key, contact_id, tag, next) = (
            channel.clone(),
            key.to_owned(),
            contact.id.clone(),
            tag.clone(),
            next.clone(),
        );
        writers.push(tokio::spawn(async move {
            let mut client = ConversationServiceClient::new(channel);
            let mut times = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= CONVERSATIONS {
                    return Ok::<_, String>(times);
                }
                let call = request(
                    pb::RecordConversationRequest {
                        subject: Some(pb::record_conversation_request::Subject::ContactId(
                            contact_id.clone(),
                        )),
                        conversation: Some(pb::Conversation {
                            channel: pb::Channel::Email as i32,
                            source: "busy-bench".into(),
                            source_conversation_id: format!("{tag}-{n}"),
                            started_at: Some(prost_types::Timestamp {
                                seconds: 1_790_000_000 + i64::try_from(n).unwrap_or(0),
                                nanos: 0,
                            }),
                            message_count: 3,
                            csat_score: i32::try_from(n % 5 + 1).unwrap_or(3),
                            ..Default::default()
                        }),
                    },
                    &key,
                )?;
                let began = Instant::now();
                client
                    .record_conversation(call)
                    .await
                    .map_err(|status| format!("record conversation {n}: {status:?}"))?;
                times.push((n, began.elapsed()));
            }
        }));
    }
    let mut times = vec![Duration::ZERO; CONVERSATIONS];
    for writer in writers {
        for (n, took) in writer.await.map_err(|error| error.to_string())?? {
            times[n] = took;
        }
    }
    let total = started.elapsed();
    let (first_mean_ms, first_p99_ms) = window(&times[..WINDOW]);
    let (last_mean_ms, last_p99_ms) = window(&times[CONVERSATIONS - WINDOW..]);
    let read = crm_proto::v1::contact_service_client::ContactServiceClient::new(channel)
        .get_contact(request(
            pb::GetContactRequest {
                id: contact.id.clone(),
            },
            key,
        )?)
        .await
        .map_err(|status| format!("get contact: {status:?}"))?
        .into_inner();
    Ok(BusyTimes {
        total,
        first_mean_ms,
        last_mean_ms,
        first_p99_ms,
        last_p99_ms,
        counted: read
            .engagement
            .map_or(0, |e| u64::try_from(e.conversation_count).unwrap_or(0)),
    })
}
