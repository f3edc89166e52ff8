//! `crm.v1.ExportService`: streams the contacts a filter selects as CSV, a
//! page at a time, pulled by the client: while one page is encoded and
//! sent the next is read, and no further, so memory stays flat.

use std::sync::Arc;

use crm_domain::DomainError;
use crm_domain::contacts::{Contact, ContactCursor, ContactFilter, Filter};
use crm_domain::exchange::{ExchangeService, ExportLayout};
use crm_domain::kernel::Page;
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

type PageRead = Result<Page<Contact, ContactCursor>, DomainError>;

/// A page being read ahead; the read stops if the stream is dropped.
struct Ahead(tokio::task::JoinHandle<PageRead>);

impl Drop for Ahead {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Where an export stream is.
struct Export {
    exchange: ExchangeService,
    caller: Caller,
    filter: ContactFilter,
    layout: ExportLayout,
    /// The page to read next; `None` once the last one is read.
    next: Option<Option<ContactCursor>>,
    /// The next page, already being read while the last one is encoded
    /// and sent: the database's read overlaps the encoding, and at most
    /// two pages are held at once.
    ahead: Option<Ahead>,
    written: i64,
}

impl Export {
    /// Starts reading the next page, if there is one.
    fn read_ahead(&mut self) {
        if let Some(after) = self.next.take() {
            let (exchange, caller, filter) = (
                self.exchange.clone(),
                self.caller.clone(),
                self.filter.clone(),
            );
            self.ahead = Some(Ahead(tokio::spawn(async move {
                exchange.export_page(&caller, &filter, after).await
            })));
        }
    }

    async fn step(mut self) -> Option<(Result<pb::ExportContactsResponse, Status>, Export)> {
        if self.ahead.is_none() {
            self.read_ahead();
        }
        let mut ahead = self.ahead.take()?;
        let read = match (&mut ahead.0).await {
            Ok(read) => read,
            Err(error) => Err(DomainError::Internal(format!("export page: {error}"))),
        };
        let page = match read {
            Ok(page) => page,
            Err(error) => {
                self.next = None;
                return Some((Err(to_status(error)), self));
            }
        };
        self.next = page.next.map(Some);
        if page.items.is_empty() {
            return None;
        }
        self.read_ahead();
        let rows = page.items.iter().map(|contact| self.layout.row(contact));
        match csv_of(rows) {
            Ok(csv) => {
                self.written += i64::try_from(page.items.len()).unwrap_or(i64::MAX);
                let message = pb::ExportContactsResponse {
                    csv,
                    rows_written: self.written,
                    total: 0,
                };
                Some((Ok(message), self))
            }
            Err(error) => {
                self.next = None;
                self.ahead = None;
                Some((Err(to_status(error)), self))
            }
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
            layout,
            next: Some(None),
            ahead: None,
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
