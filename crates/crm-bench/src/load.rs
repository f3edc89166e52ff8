//! The workload and its measurement: who writes in (90% senders on file,
//! half by email and half by WhatsApp number; 10% new, half by email and
//! half by web chat), and the latencies of each call after a warm-up.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crm_proto::v1 as pb;
use crm_proto::v1::contact_service_client::ContactServiceClient;
use tonic::transport::Channel;

/// One level of a run.
#[derive(Debug, Clone)]
pub struct Run {
    pub callers: usize,
    pub known: u64,
    pub duration: Duration,
    pub warmup: Duration,
}

/// Who writes in.
#[derive(Debug, Clone)]
pub enum Sender {
    KnownEmail(u64),
    KnownPhone(u64),
    NewEmail(String),
    NewWebchat(String),
}

impl Sender {
    /// The stored (normalised) identity the sender is matched by.
    pub fn key(&self) -> (&'static str, String) {
        match self {
            Sender::KnownEmail(i) => ("email", format!("user{i}@bench.example")),
            Sender::KnownPhone(i) => ("phone", format!("+1650{}", 2_000_000 + i)),
            Sender::NewEmail(nonce) => ("email", format!("{nonce}@bench.example")),
            Sender::NewWebchat(nonce) => ("webchat", nonce.clone()),
        }
    }

    /// The request a channel-ingest service would send.
    pub fn request(&self) -> pb::ResolveSenderRequest {
        let (channel, address) = match self {
            Sender::KnownEmail(i) => (pb::Channel::Email, format!("User{i}@Bench.example")),
            Sender::KnownPhone(i) => (pb::Channel::Whatsapp, format!("1650{}", 2_000_000 + i)),
            Sender::NewEmail(nonce) => (pb::Channel::Email, format!("{nonce}@bench.example")),
            Sender::NewWebchat(nonce) => (pb::Channel::Webchat, nonce.clone()),
        };
        pb::ResolveSenderRequest {
            channel: channel as i32,
            address,
            ..Default::default()
        }
    }
}

/// A small, fast PRNG (xorshift64*): the workload needs spread, not secrecy.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Picks the next sender.
pub fn pick(rng: &mut Rng, known: u64, fresh: &AtomicU64, run_tag: &str) -> Sender {
    let roll = rng.next() % 100;
    if roll < 90 {
        let i = 1 + rng.next() % known.max(1);
        if roll.is_multiple_of(2) {
            Sender::KnownEmail(i)
        } else {
            Sender::KnownPhone(i)
        }
    } else {
        let n = fresh.fetch_add(1, Ordering::Relaxed);
        if roll.is_multiple_of(2) {
            Sender::NewEmail(format!("new-{run_tag}-{n}"))
        } else {
            Sender::NewWebchat(format!("visitor-{run_tag}-{n}"))
        }
    }
}

/// What one level measured.
#[derive(Debug, Default)]
pub struct Measurement {
    pub latencies_us: Vec<u32>,
    pub errors: u64,
    pub elapsed: Duration,
    pub first_error: Option<String>,
}

impl Measurement {
    pub fn rate(&self) -> f64 {
        self.latencies_us.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn percentile_ms(&self, percentile: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let rank = ((percentile / 100.0) * (self.latencies_us.len() - 1) as f64).round() as usize;
        f64::from(self.latencies_us[rank.min(self.latencies_us.len() - 1)]) / 1000.0
    }

    pub fn merge(parts: Vec<Measurement>, elapsed: Duration) -> Measurement {
        let mut all = Measurement {
            elapsed,
            ..Measurement::default()
        };
        for part in parts {
            all.latencies_us.extend(part.latencies_us);
            all.errors += part.errors;
            if all.first_error.is_none() {
                all.first_error = part.first_error;
            }
        }
        all.latencies_us.sort_unstable();
        all
    }
}

/// Calls `call` from `run.callers` tasks until the time is up and measures
/// everything after the warm-up.
pub async fn drive<S, F, Fut>(run: &Run, setup: S) -> Result<Measurement, String>
where
    S: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<F, String>>,
    F: FnMut(Sender) -> Call + Send + 'static,
{
    drive_drawing(run, pick, setup).await
}

/// [`drive`] with `per_call` senders in each call (a `ResolveSenders`
/// batch).
pub async fn drive_batches<S, F, Fut>(
    run: &Run,
    per_call: usize,
    setup: S,
) -> Result<Measurement, String>
where
    S: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<F, String>>,
    F: FnMut(Vec<Sender>) -> Call + Send + 'static,
{
    drive_drawing(
        run,
        move |rng: &mut Rng, known: u64, fresh: &AtomicU64, run_tag: &str| {
            (0..per_call)
                .map(|_| pick(rng, known, fresh, run_tag))
                .collect::<Vec<_>>()
        },
        setup,
    )
    .await
}

/// One call's future.
pub type Call = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>>;

/// The loop behind [`drive`]: each call gets what `draw` draws.
async fn drive_drawing<T, D, S, F, Fut>(run: &Run, draw: D, setup: S) -> Result<Measurement, String>
where
    D: Fn(&mut Rng, u64, &AtomicU64, &str) -> T + Clone + Send + 'static,
    S: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<F, String>>,
    F: FnMut(T) -> Call + Send + 'static,
{
    let fresh = Arc::new(AtomicU64::new(0));
    let run_tag = uuid::Uuid::now_v7().simple().to_string();
    let start = Instant::now();
    let measure_from = start + run.warmup;
    let end = measure_from + run.duration;
    let mut tasks = Vec::new();
    for caller in 0..run.callers {
        let mut call = setup(caller).await?;
        let fresh = fresh.clone();
        let run_tag = run_tag.clone();
        let known = run.known;
        let draw = draw.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(
                0x9e37_79b9_7f4a_7c15 ^ (caller as u64 + 1).wrapping_mul(0xff51_afd7_ed55_8ccd),
            );
            let mut measured = Measurement::default();
            loop {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let outcome = call(draw(&mut rng, known, &fresh, &run_tag)).await;
                if sent >= measure_from {
                    match outcome {
                        Ok(()) => measured
                            .latencies_us
                            .push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX)),
                        Err(error) => {
                            measured.errors += 1;
                            measured.first_error.get_or_insert(error);
                        }
                    }
                }
            }
            measured
        }));
    }
    let mut parts = Vec::new();
    for task in tasks {
        parts.push(task.await.map_err(|error| error.to_string())?);
    }
    Ok(Measurement::merge(parts, run.duration))
}

/// The latencies of known and of new senders apart.
#[derive(Debug, Default)]
pub struct Split {
    pub known: Measurement,
    pub new: Measurement,
}

/// Drives ResolveSender on the server at `endpoint`, one connection per
/// caller; also gives known and new senders' latencies apart.
pub async fn drive_service(
    endpoint: &str,
    key: &str,
    run: &Run,
) -> Result<(Measurement, Split), String> {
    let authorization = bearer(key)?;
    let split = Arc::new(std::sync::Mutex::new(Split::default()));
    let measure_from = Instant::now() + run.warmup;
    let measured = drive(run, |_| {
        let authorization = authorization.clone();
        let client = connect(endpoint);
        let split = split.clone();
        async move {
            let client = client.await?;
            Ok(move |sender: Sender| {
                let mut client = client.clone();
                let split = split.clone();
                let new = matches!(sender, Sender::NewEmail(_) | Sender::NewWebchat(_));
                let mut request = tonic::Request::new(sender.request());
                request
                    .metadata_mut()
                    .insert("authorization", authorization.clone());
                Box::pin(async move {
                    let sent = Instant::now();
                    client
                        .resolve_sender(request)
                        .await
                        .map_err(|status| format!("{:?}: {}", status.code(), status.message()))?;
                    if sent >= measure_from {
                        let took = u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX);
                        let mut split = split.lock().unwrap_or_else(|e| e.into_inner());
                        let part = if new {
                            &mut split.new
                        } else {
                            &mut split.known
                        };
                        part.latencies_us.push(took);
                    }
                    Ok(())
                }) as Call
            })
        }
    })
    .await?;
    let mut split = std::mem::take(&mut *split.lock().unwrap_or_else(|e| e.into_inner()));
    split.known.latencies_us.sort_unstable();
    split.new.latencies_us.sort_unstable();
    Ok((measured, split))
}

/// Drives ResolveSenders on the server at `endpoint` with `per_call`
/// senders in each call, one connection per caller; checks that every
/// sender got its result.
pub async fn drive_service_batches(
    endpoint: &str,
    key: &str,
    run: &Run,
    per_call: usize,
) -> Result<Measurement, String> {
    let authorization = bearer(key)?;
    drive_batches(run, per_call, |_| {
        let authorization = authorization.clone();
        let client = connect(endpoint);
        async move {
            let client = client.await?;
            Ok(move |senders: Vec<Sender>| {
                let mut client = client.clone();
                let wanted = senders.len();
                let mut request = tonic::Request::new(pb::ResolveSendersRequest {
                    senders: senders.iter().map(Sender::request).collect(),
                });
                request
                    .metadata_mut()
                    .insert("authorization", authorization.clone());
                Box::pin(async move {
                    let results = client
                        .resolve_senders(request)
                        .await
                        .map_err(|status| format!("{:?}: {}", status.code(), status.message()))?
                        .into_inner()
                        .results;
                    if results.len() == wanted {
                        Ok(())
                    } else {
                        Err(format!("{} results for {wanted} senders", results.len()))
                    }
                }) as Call
            })
        }
    })
    .await
}

/// Drives StreamResolveSenders on the server at `endpoint`: each caller
/// holds one stream on a connection of its own and sends `per_call`
/// senders at a time (1: one sender, waiting for its answer, as a unary
/// caller would; more: a burst sent before any of its answers is read);
/// checks that each answer is its sender's and resolved.
pub async fn drive_service_stream(
    endpoint: &str,
    key: &str,
    run: &Run,
    per_call: usize,
) -> Result<Measurement, String> {
    let authorization = bearer(key)?;
    drive_batches(run, per_call, |_| {
        let authorization = authorization.clone();
        let client = connect(endpoint);
        async move {
            let mut client = client.await?;
            let (outgoing, receiver) = tokio::sync::mpsc::channel(per_call);
            let mut request =
                tonic::Request::new(tokio_stream::wrappers::ReceiverStream::new(receiver));
            request
                .metadata_mut()
                .insert("authorization", authorization);
            let answers = client
                .stream_resolve_senders(request)
                .await
                .map_err(|status| format!("{:?}: {}", status.code(), status.message()))?
                .into_inner();
            let answers = Arc::new(tokio::sync::Mutex::new(answers));
            let mut next_tag = 0_u64;
            Ok(move |senders: Vec<Sender>| {
                let first = next_tag + 1;
                next_tag += senders.len() as u64;
                let outgoing = outgoing.clone();
                let answers = answers.clone();
                Box::pin(async move {
                    let mut answers = answers.lock().await;
                    let wanted = senders.len() as u64;
                    for (tag, sender) in (first..).zip(&senders) {
                        outgoing
                            .send(pb::StreamResolveSendersRequest {
                                tag,
                                sender: Some(sender.request()),
                            })
                            .await
                            .map_err(|_| "the stream closed".to_owned())?;
                    }
                    for tag in first..first + wanted {
                        let answer = answers
                            .message()
                            .await
                            .map_err(|status| format!("{:?}: {}", status.code(), status.message()))?
                            .ok_or("the stream ended early")?;
                        match answer.outcome {
                            _ if answer.tag != tag => {
                                return Err(format!("answer {} for sender {tag}", answer.tag));
                            }
                            Some(pb::stream_resolve_senders_response::Outcome::Result(_)) => {}
                            Some(pb::stream_resolve_senders_response::Outcome::Error(status)) => {
                                return Err(format!("{}: {}", status.code, status.message));
                            }
                            None => return Err("an answer without an outcome".to_owned()),
                        }
                    }
                    Ok(())
                }) as Call
            })
        }
    })
    .await
}

pub(crate) fn bearer(
    key: &str,
) -> Result<tonic::metadata::MetadataValue<tonic::metadata::Ascii>, String> {
    format!("Bearer {key}")
        .parse()
        .map_err(|_| "bad key".to_owned())
}

/// A client on a connection of its own.
pub(crate) fn connect(
    endpoint: &str,
) -> impl std::future::Future<Output = Result<ContactServiceClient<Channel>, String>> + use<> {
    let endpoint = endpoint.to_owned();
    async move { Ok(ContactServiceClient::new(channel(&endpoint).await?)) }
}

/// A channel to the server at `endpoint`.
pub(crate) async fn channel(endpoint: &str) -> Result<Channel, String> {
    Channel::from_shared(endpoint.to_owned())
        .map_err(|error| error.to_string())?
        .tcp_nodelay(true)
        .connect()
        .await
        .map_err(|error| error.to_string())
}
