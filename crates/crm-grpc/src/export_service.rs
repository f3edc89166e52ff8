//! `crm.v1.ExportService`: streams the contacts a filter selects as CSV, a
//! range of about a page at a time, pulled by the client. The ranges are
//! planned from ids alone, so while one is sent the next three are read and
//! encoded side by side, and no further: memory stays flat.

use std::collections::VecDeque;
use std::sync::Arc;

use crm_domain::DomainError;
use crm_domain::contacts::{ContactFilter, Filter};
use crm_domain::exchange::{ExchangeService, ExportLayout, ExportRange};
use crm_domain::kernel::ContactId;
use crm_domain::tenancy::Caller;
use crm_proto::v1 as pb;
use crm_proto::v1::export_service_server::ExportService as ExportRpc;
use tonic::Status;
use tonic::codegen::BoxStream;

use crate::auth::Authenticator;
use crate::status::to_status;

/// The gRPC face of the exchange use cases.
#[derive(Debug, Clone)]
pub struct ExportApi {
    exchange: ExchangeService,
    auth: Arc<Authenticator>,
}

impl ExportApi {
    /// Serves `exchange` to callers `auth` recognises.
    pub fn new(exchange: ExchangeService, auth: Arc<Authenticator>) -> Self {
        Self { exchange, auth }
    }
}

/// Rows as CSV text (RFC 4180, CRLF). Rows may differ in length (an
/// import's error file shows a long row as it was written).
pub(crate) fn csv_of(rows: impl IntoIterator<Item = Vec<String>>) -> Result<Vec<u8>, DomainError> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .flexible(true)
        .from_writer(Vec::new());
    for row in rows {
        writer
            .write_record(&row)
            .map_err(|error| DomainError::Internal(format!("csv: {error}")))?;
    }
    writer
        .into_inner()
        .map_err(|error| DomainError::Internal(format!("csv: {error}")))
}

/// A range read and encoded: its CSV and its row count.
type RangeRead = Result<(Vec<u8>, usize), DomainError>;

/// A range being read; the read stops if the stream is dropped.
struct Ahead(tokio::task::JoinHandle<RangeRead>);

impl Drop for Ahead {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Ranges an export reads side by side, ahead of the one being sent: the
/// database's reads and the encoding of one range overlap another's, and
/// at most this many ranges (of about `EXPORT_PAGE` contacts) plus the one
/// being sent are held at once.
const READS_AHEAD: usize = 3;

/// Where an export stream is.
struct Export {
    exchange: ExchangeService,
    caller: Caller,
    filter: ContactFilter,
    layout: Arc<ExportLayout>,
    /// Ranges planned and not yet started, in order.
    planned: VecDeque<ExportRange>,
    /// Where the next plan starts: `Some(after)` until the open-ended last
    /// range is planned.
    plan_from: Option<Option<ContactId>>,
    /// Ranges being read and encoded, in order.
    ahead: VecDeque<Ahead>,
    written: i64,
}

impl Export {
    /// Starts reads until [`READS_AHEAD`] are running or none is left,
    /// planning more ranges when the planned ones run out.
    async fn read_ahead(&mut self) -> Result<(), DomainError> {
        while self.ahead.len() < READS_AHEAD {
            if self.planned.is_empty() {
                let Some(after) = self.plan_from.take() else {
                    return Ok(());
                };
                let ranges = self
                    .exchange
                    .export_ranges(&self.caller, &self.filter, after)
                    .await?;
                self.plan_from = ranges.last().and_then(|range| range.upto).map(Some);
                self.planned.extend(ranges);
            }
            let Some(range) = self.planned.pop_front() else {
                return Ok(());
            };
            let (exchange, caller, filter, layout) = (
                self.exchange.clone(),
                self.caller.clone(),
                self.filter.clone(),
                Arc::clone(&self.layout),
            );
            self.ahead.push_back(Ahead(tokio::spawn(async move {
                let contacts = exchange.export_range(&caller, &filter, range).await?;
                let csv = csv_of(contacts.iter().map(|contact| layout.row(contact)))?;
                Ok((csv, contacts.len()))
            })));
        }
        Ok(())
    }

    /// Stops the export after an error: nothing more is read.
    fn fail(
        mut self,
        error: DomainError,
    ) -> Option<(Result<pb::ExportContactsResponse, Status>, Export)> {
        self.plan_from = None;
        self.planned.clear();
        self.ahead.clear();
        Some((Err(to_status(error)), self))
    }

    async fn step(mut self) -> Option<(Result<pb::ExportContactsResponse, Status>, Export)> {
        loop {
            if let Err(error) = self.read_ahead().await {
                return self.fail(error);
            }
            let mut ahead = self.ahead.pop_front()?;
            let read = match (&mut ahead.0).await {
                Ok(read) => read,
                Err(error) => Err(DomainError::Internal(format!("export range: {error}"))),
            };
            let (csv, rows) = match read {
                Ok(read) => read,
                Err(error) => return self.fail(error),
            };
            // A range whose contacts were all deleted since it was
            // planned sends nothing; the export goes on.
            if rows == 0 {
                continue;
            }
            if let Err(error) = self.read_ahead().await {
                return self.fail(error);
            }
            self.written += i64::try_from(rows).unwrap_or(i64::MAX);
            let message = pb::ExportContactsResponse {
                csv,
                rows_written: self.written,
                total: 0,
            };
            return Some((Ok(message), self));
        }
    }
}

/// The bodies of the RPCs: each takes the authenticated caller and the
/// request message and returns a domain result; [`crate::serve!`] does the rest.
impl ExportApi {
    async fn export_contacts(
        &self,
        caller: Caller,
        request: pb::ExportContactsRequest,
    ) -> Result<BoxStream<pb::ExportContactsResponse>, DomainError> {
        let filter = ContactFilter {
            expression: Filter::parse(&request.filter)?,
            ..ContactFilter::default()
        };
        // Counting types the filter: a bad one fails here, before any row.
        let total = self.exchange.export_total(&caller, &filter).await?;
        let layout = self.exchange.export_layout(&caller).await?;
        let header = pb::ExportContactsResponse {
            csv: csv_of([layout.header()])?,
            rows_written: 0,
            total: i64::try_from(total).unwrap_or(i64::MAX),
        };
        let export = Export {
            exchange: self.exchange.clone(),
            caller,
            filter,
            layout: Arc::new(layout),
            planned: VecDeque::new(),
            plan_from: Some(None),
            ahead: VecDeque::new(),
            written: 0,
        };
        let rows = futures_util::stream::unfold(export, Export::step);
        let stream = futures_util::StreamExt::chain(
            futures_util::stream::once(async move { Ok(header) }),
            rows,
        );
        Ok(Box::pin(stream))
    }
}

crate::serve! {
    impl ExportRpc for ExportApi {
        export_contacts(pb::ExportContactsRequest) -> Self::ExportContactsStream;
    }
    type ExportContactsStream = BoxStream<pb::ExportContactsResponse>;
}
