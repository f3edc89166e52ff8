//! `ContactService.StreamResolveSenders`: senders resolved on one long-lived
//! stream. The answers are made as the response is pulled: the next batch
//! (what has arrived, a lone sender going straight through) is read and
//! resolved only once the last batch's answers are taken, so at most one
//! batch waits in memory and a caller that never reads its answers stops
//! being read (HTTP/2 flow control holds it back). No task of its own: the
//! connection polls the response, which saves a hand-off per sender.

use std::collections::VecDeque;
use std::sync::Arc;

use crm_domain::DomainError;
use crm_domain::contacts::{ContactService, MAX_SENDERS_PER_BATCH};
use crm_domain::identity::SenderInput;
use crm_domain::tenancy::Caller;
use crm_proto::v1 as pb;
use futures_util::FutureExt;
use prost::Message;
use tonic::codegen::BoxStream;
use tonic::metadata::MetadataMap;
use tonic::{Status, Streaming};

use crate::auth::Authenticator;
use crate::convert::contact;
use crate::status::to_status;

/// One answer of the stream.
type Answer = Result<pb::StreamResolveSendersResponse, Status>;

/// Serves one stream: authenticates it, then answers it as the response is
/// read until the caller closes its side (or goes away).
///
/// # Errors
/// UNAUTHENTICATED when the stream's key is refused at the start.
pub(crate) async fn serve(
    contacts: ContactService,
    auth: Arc<Authenticator>,
    request: tonic::Request<Streaming<pb::StreamResolveSendersRequest>>,
) -> Result<BoxStream<pb::StreamResolveSendersResponse>, Status> {
    let caller = auth.authenticate(&request).await?;
    let metadata = request.metadata().clone();
    let state = State {
        stream: Stream {
            contacts,
            auth,
            metadata,
        },
        incoming: request.into_inner(),
        opened_as: Some(caller),
        pending: VecDeque::new(),
        done: false,
    };
    Ok(Box::pin(futures_util::stream::unfold(
        state,
        |mut state| async move {
            loop {
                if let Some(answer) = state.pending.pop_front() {
                    return Some((answer, state));
                }
                if state.done {
                    return None;
                }
                state.fill().await;
            }
        },
    )))
}

/// What answering one stream needs.
struct Stream {
    contacts: ContactService,
    auth: Arc<Authenticator>,
    /// The stream's metadata, to check its key again for every batch.
    metadata: MetadataMap,
}

/// A stream being answered.
struct State {
    stream: Stream,
    incoming: Streaming<pb::StreamResolveSendersRequest>,
    /// The caller as the stream opened, for the first batch.
    opened_as: Option<Caller>,
    /// The answers of the last batch not yet taken.
    pending: VecDeque<Answer>,
    /// Whether the stream ends once `pending` is taken.
    done: bool,
}

impl State {
    /// Waits for one sender, takes whatever else has arrived, and queues
    /// the batch's answers; or notes the end of the stream.
    async fn fill(&mut self) {
        let mut batch = match self.incoming.message().await {
            Ok(Some(request)) => vec![request],
            Ok(None) => {
                self.done = true;
                return;
            }
            Err(status) => {
                self.end(Some(status));
                return;
            }
        };
        let mut ended = None;
        while batch.len() < MAX_SENDERS_PER_BATCH {
            match self.incoming.message().now_or_never() {
                Some(Ok(Some(request))) => batch.push(request),
                Some(Ok(None)) => {
                    ended = Some(None);
                    break;
                }
                Some(Err(status)) => {
                    ended = Some(Some(status));
                    break;
                }
                None => break,
            }
        }
        let caller = match self.opened_as.take() {
            Some(caller) => caller,
            // The key is checked for every batch, as for every unary call
            // (the check is cached for a few seconds).
            None => {
                let check = tonic::Request::from_parts(
                    self.stream.metadata.clone(),
                    tonic::Extensions::default(),
                    (),
                );
                match self.stream.auth.authenticate(&check).await {
                    Ok(caller) => caller,
                    Err(status) => {
                        self.end(Some(status));
                        return;
                    }
                }
            }
        };
        let answers = self.stream.resolve(&caller, batch).await;
        self.pending.extend(answers.into_iter().map(Ok));
        if let Some(status) = ended {
            self.end(status);
        }
    }

    /// Ends the stream after the queued answers, with `status` when it
    /// broke.
    fn end(&mut self, status: Option<Status>) {
        self.done = true;
        if let Some(status) = status {
            self.pending.push_back(Err(status));
        }
    }
}

impl Stream {
    /// The answers to a batch, in its order. The batch is resolved as one
    /// `resolve_senders` call; when that fails, each sender is resolved on
    /// its own, so one bad sender fails only itself (resolving is
    /// idempotent, so the senders the failed batch did resolve resolve to
    /// the same contacts again).
    async fn resolve(
        &self,
        caller: &Caller,
        batch: Vec<pb::StreamResolveSendersRequest>,
    ) -> Vec<pb::StreamResolveSendersResponse> {
        let mut outcomes: Vec<(u64, Option<Result<pb::ResolveSenderResponse, DomainError>>)> =
            Vec::with_capacity(batch.len());
        let mut inputs: Vec<(usize, SenderInput)> = Vec::with_capacity(batch.len());
        for (index, request) in batch.into_iter().enumerate() {
            let input = request
                .sender
                .ok_or_else(|| DomainError::invalid("sender", "name the sender"))
                .and_then(|sender| contact::sender(sender).map_err(|error| error.scoped("sender")));
            match input {
                Ok(input) => {
                    inputs.push((index, input));
                    outcomes.push((request.tag, None));
                }
                Err(error) => outcomes.push((request.tag, Some(Err(error)))),
            }
        }
        // A lone sender goes straight to resolve_sender (below).
        let together = match inputs.len() {
            0 | 1 => None,
            _ => self
                .contacts
                .resolve_senders(
                    caller,
                    inputs.iter().map(|(_, input)| input.clone()).collect(),
                )
                .await
                .ok(),
        };
        match together {
            Some(resolutions) => {
                for ((index, _), resolution) in inputs.iter().zip(&resolutions) {
                    outcomes[*index].1 = Some(Ok(super::contact_service::resolved(resolution)));
                }
            }
            None => {
                for (index, input) in inputs {
                    let outcome = self
                        .contacts
                        .resolve_sender(caller, input)
                        .await
                        .map(|resolution| super::contact_service::resolved(&resolution))
                        .map_err(|error| error.scoped("sender"));
                    outcomes[index].1 = Some(outcome);
                }
            }
        }
        outcomes
            .into_iter()
            .map(|(tag, outcome)| {
                use pb::stream_resolve_senders_response::Outcome;
                let outcome = match outcome {
                    Some(Ok(result)) => Outcome::Result(result),
                    Some(Err(error)) => Outcome::Error(rpc_status(to_status(error))),
                    None => Outcome::Error(rpc_status(to_status(DomainError::Internal(
                        "the sender was left unresolved".to_owned(),
                    )))),
                };
                pb::StreamResolveSendersResponse {
                    tag,
                    outcome: Some(outcome),
                }
            })
            .collect()
    }
}

/// A status as the `google.rpc.Status` message it travels as: the encoded
/// one it carries in its details when it has details, else its code and
/// message alone.
fn rpc_status(status: Status) -> tonic_types::pb::Status {
    tonic_types::pb::Status::decode(status.details())
        .ok()
        .filter(|decoded| decoded.code == status.code() as i32)
        .unwrap_or_else(|| tonic_types::pb::Status {
            code: status.code() as i32,
            message: status.message().to_owned(),
            details: Vec::new(),
        })
}
