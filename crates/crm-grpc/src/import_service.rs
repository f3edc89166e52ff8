//! `crm.v1.ImportService`: takes an upload as it streams in (the domain
//! checks each chunk before it is stored), and reads jobs and their refused
//! rows back. Watching polls the job, so it sees a job run by any replica.

use std::sync::Arc;
use std::time::Duration;

use crm_domain::DomainError;
use crm_domain::exchange::import::{
    ColumnMapping, ColumnTarget, DedupKey, Encoding, ImportJob, ImportMode, ImportOptions,
    ImportService, ImportState, MAX_COLUMNS, RowError,
};
use crm_domain::kernel::{self, ImportJobId, echo};
use crm_domain::tenancy::Caller;
use crm_proto::v1 as pb;
use crm_proto::v1::import_service_server::ImportService as ImportRpc;
use tonic::codegen::BoxStream;
use tonic::{Status, Streaming};

use crate::auth::Authenticator;
use crate::convert::{self, timestamp};
use crate::export_service::csv_of;
use crate::status::{ApiError, to_status};
use crate::token;

/// How often a watch reads its job again.
const WATCH_EVERY: Duration = Duration::from_millis(200);

/// The gRPC face of the import use cases.
#[derive(Debug, Clone)]
pub struct ImportApi {
    imports: ImportService,
    auth: Arc<Authenticator>,
}

impl ImportApi {
    /// Serves `imports` to callers `auth` recognises.
    pub fn new(imports: ImportService, auth: Arc<Authenticator>) -> Self {
        Self { imports, auth }
    }
}

fn options_from(options: pb::ImportOptions) -> Result<ImportOptions, DomainError> {
    // The count before any target is read.
    if options.mapping.len() > MAX_COLUMNS {
        return Err(DomainError::invalid(
            "options.mapping",
            format!("may place at most {MAX_COLUMNS} columns"),
        ));
    }
    let mut violations = Vec::new();
    let mut mapping = Vec::with_capacity(options.mapping.len());
    for (index, placed) in options.mapping.into_iter().enumerate() {
        match ColumnTarget::parse(&placed.target) {
            Ok(target) => mapping.push(ColumnMapping {
                column: placed.column,
                target,
            }),
            Err(problem) => violations.push(crm_domain::FieldViolation::new(
                format!("options.mapping[{index}].target"),
                format!("{:?} {problem}", echo(&placed.target)),
            )),
        }
    }
    let dedup_key = match pb::DedupKey::try_from(options.dedup_key) {
        Ok(pb::DedupKey::Unspecified | pb::DedupKey::Email) => DedupKey::Email,
        Ok(pb::DedupKey::Phone) => DedupKey::Phone,
        Ok(pb::DedupKey::ExternalId) => DedupKey::ExternalId,
        Err(_) => {
            violations.push(crm_domain::FieldViolation::new(
                "options.dedup_key",
                format!("{} is not a DedupKey", options.dedup_key),
            ));
            DedupKey::Email
        }
    };
    let mode = match pb::ImportMode::try_from(options.mode) {
        Ok(pb::ImportMode::Unspecified | pb::ImportMode::Upsert) => ImportMode::Upsert,
        Ok(pb::ImportMode::CreateOnly) => ImportMode::CreateOnly,
        Ok(pb::ImportMode::UpdateOnly) => ImportMode::UpdateOnly,
        Err(_) => {
            violations.push(crm_domain::FieldViolation::new(
                "options.mode",
                format!("{} is not an ImportMode", options.mode),
            ));
            ImportMode::Upsert
        }
    };
    let encoding = match pb::FileEncoding::try_from(options.encoding) {
        Ok(pb::FileEncoding::Unspecified | pb::FileEncoding::Utf8) => Encoding::Utf8,
        Ok(pb::FileEncoding::Windows1252) => Encoding::Windows1252,
        Err(_) => {
            violations.push(crm_domain::FieldViolation::new(
                "options.encoding",
                format!("{} is not a FileEncoding", options.encoding),
            ));
            Encoding::Utf8
        }
    };
    let separator = match options.separator.as_bytes() {
        [] => None,
        [byte] => Some(*byte),
        _ => {
            violations.push(crm_domain::FieldViolation::new(
                "options.separator",
                "must be empty (detect), \",\", \";\" or a tab",
            ));
            None
        }
    };
    if !violations.is_empty() {
        return Err(DomainError::InvalidArgument(violations));
    }
    Ok(ImportOptions {
        file_name: options.file_name,
        mapping,
        dedup_key,
        mode,
        default_tags: options.default_tags,
        encoding,
        separator,
    })
}

fn options_to_proto(options: &ImportOptions) -> pb::ImportOptions {
    pb::ImportOptions {
        file_name: options.file_name.clone(),
        mapping: options
            .mapping
            .iter()
            .map(|mapping| pb::ColumnMapping {
                column: mapping.column.clone(),
                target: mapping.target.as_text(),
            })
            .collect(),
        dedup_key: match options.dedup_key {
            DedupKey::Email => pb::DedupKey::Email,
            DedupKey::Phone => pb::DedupKey::Phone,
            DedupKey::ExternalId => pb::DedupKey::ExternalId,
        } as i32,
        mode: match options.mode {
            ImportMode::Upsert => pb::ImportMode::Upsert,
            ImportMode::CreateOnly => pb::ImportMode::CreateOnly,
            ImportMode::UpdateOnly => pb::ImportMode::UpdateOnly,
        } as i32,
        default_tags: options.default_tags.clone(),
        encoding: match options.encoding {
            Encoding::Utf8 => pb::FileEncoding::Utf8,
            Encoding::Windows1252 => pb::FileEncoding::Windows1252,
        } as i32,
        separator: options
            .separator
            .map(|byte| char::from(byte).to_string())
            .unwrap_or_default(),
    }
}

fn signed(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_proto(job: &ImportJob) -> pb::ImportJob {
    let counts = &job.counts;
    pb::ImportJob {
        id: job.id.to_string(),
        state: match job.state {
            // Never shown: an uploading job is not read back.
            ImportState::Uploading | ImportState::Queued => pb::ImportJobState::Queued,
            ImportState::Running => pb::ImportJobState::Running,
            ImportState::Succeeded => pb::ImportJobState::Succeeded,
            ImportState::Failed => pb::ImportJobState::Failed,
            ImportState::Cancelled => pb::ImportJobState::Cancelled,
        } as i32,
        options: Some(options_to_proto(&job.options)),
        header: job.header.clone(),
        file_bytes: signed(job.file_bytes),
        rows_total: signed(job.rows_total),
        rows_processed: signed(counts.rows),
        created: signed(counts.created),
        updated: signed(counts.updated),
        unchanged: signed(counts.unchanged),
        duplicates: signed(counts.duplicates),
        invalid: signed(counts.invalid),
        error: job.error.clone(),
        owner: job.owner.clone(),
        create_time: Some(timestamp(job.create_time)),
        start_time: job.start_time.map(timestamp),
        end_time: job.end_time.map(timestamp),
    }
}

/// A refused row as the error file shows it: the row as written (a short
/// one padded to the header's `width`, so the added columns line up), then
/// its line and what was wrong.
fn error_row(error: &RowError, width: usize) -> Vec<String> {
    let mut row = error.record.clone();
    if row.len() < width {
        row.resize(width, String::new());
    }
    row.push(error.line.to_string());
    row.push(if error.column.is_empty() {
        error.reason.clone()
    } else {
        format!("{}: {}", error.column, error.reason)
    });
    row
}

/// Where a watch is.
struct Watch {
    imports: ImportService,
    caller: Caller,
    id: ImportJobId,
    /// The job as last sent; `None` before the first message.
    last: Option<ImportJob>,
    /// Whether the stream has sent its last message.
    over: bool,
}

impl Watch {
    async fn step(mut self) -> Option<(Result<pb::ImportJob, Status>, Watch)> {
        if self.over {
            return None;
        }
        loop {
            if self.last.is_some() {
                tokio::time::sleep(WATCH_EVERY).await;
            }
            match self.imports.get(&self.caller, self.id).await {
                Ok(job) => {
                    let changed = self
                        .last
                        .as_ref()
                        .is_none_or(|last| last.state != job.state || last.counts != job.counts);
                    if changed {
                        let message = to_proto(&job);
                        self.over = job.state.is_final();
                        self.last = Some(job);
                        return Some((Ok(message), self));
                    }
                }
                Err(error) => {
                    self.over = true;
                    return Some((Err(to_status(error)), self));
                }
            }
        }
    }
}

/// Where an error-file stream is.
struct Errors {
    imports: ImportService,
    caller: Caller,
    id: ImportJobId,
    /// The header's width.
    width: usize,
    /// The line after which to read; `None` once the last rows are sent.
    after: Option<u64>,
}

impl Errors {
    async fn step(mut self) -> Option<(Result<pb::GetImportErrorsResponse, Status>, Errors)> {
        let after = self.after.take()?;
        let rows = match self
            .imports
            .errors(&self.caller, self.id, after, kernel::MAX_PAGE_SIZE)
            .await
        {
            Ok(rows) => rows,
            Err(error) => return Some((Err(to_status(error)), self)),
        };
        let last = rows.last()?;
        if rows.len() == kernel::MAX_PAGE_SIZE as usize {
            self.after = Some(last.line);
        }
        let message = csv_of(rows.iter().map(|row| error_row(row, self.width)))
            .map(|csv| pb::GetImportErrorsResponse { csv })
            .map_err(to_status);
        Some((message, self))
    }
}

/// The bodies of the RPCs: each takes the authenticated caller and the
/// request message and returns a domain result; [`crate::serve!`] does the rest.
impl ImportApi {
    async fn import_contacts(
        &self,
        caller: Caller,
        request: Streaming<pb::ImportContactsRequest>,
    ) -> Result<pb::ImportJob, ApiError> {
        use pb::import_contacts_request::Part;
        let mut stream = request;
        let options = match stream.message().await? {
            Some(pb::ImportContactsRequest {
                part: Some(Part::Options(options)),
            }) => options,
            _ => {
                return Err(DomainError::invalid(
                    "options",
                    "must be the first message of the stream",
                )
                .into());
            }
        };
        let mut upload = self.imports.start(&caller, options_from(options)?).await?;
        loop {
            let failure = match stream.message().await {
                Ok(Some(pb::ImportContactsRequest {
                    part: Some(Part::Csv(chunk)),
                })) => match upload.write(&chunk).await {
                    Ok(()) => continue,
                    Err(error) => ApiError::Domain(error),
                },
                Ok(Some(pb::ImportContactsRequest { part })) => {
                    ApiError::Domain(DomainError::invalid(
                        if part.is_some() { "options" } else { "part" },
                        if part.is_some() {
                            "must be sent once, in the first message"
                        } else {
                            "set csv"
                        },
                    ))
                }
                Ok(None) => break,
                // The caller cancelled or the connection broke.
                Err(status) => {
                    tracing::info!(job = %upload.job_id(), %status, "import upload cut off");
                    ApiError::Transport(status)
                }
            };
            upload.abandon().await;
            return Err(failure);
        }
        let job = upload.finish().await?;
        tracing::info!(job = %job.id, rows = job.rows_total, bytes = job.file_bytes, "import queued");
        Ok(to_proto(&job))
    }

    async fn get_import_job(
        &self,
        caller: Caller,
        request: pb::GetImportJobRequest,
    ) -> Result<pb::ImportJob, DomainError> {
        let id = convert::id::<ImportJobId>(&request.id, "id")?;
        Ok(to_proto(&self.imports.get(&caller, id).await?))
    }

    async fn list_import_jobs(
        &self,
        caller: Caller,
        request: pb::ListImportJobsRequest,
    ) -> Result<pb::ListImportJobsResponse, DomainError> {
        let size = kernel::page_size(request.page_size)?;
        let scope = "import-jobs";
        let before = token::page_after(&request.page_token, scope)?.map(ImportJobId::from_uuid);
        let page = self.imports.list(&caller, before, size).await?;
        Ok(pb::ListImportJobsResponse {
            jobs: page.items.iter().map(to_proto).collect(),
            next_page_token: page
                .next
                .map(|last| token::page(last.as_uuid(), scope))
                .unwrap_or_default(),
        })
    }

    async fn watch_import_job(
        &self,
        caller: Caller,
        request: pb::WatchImportJobRequest,
    ) -> Result<BoxStream<pb::ImportJob>, DomainError> {
        let id = convert::id::<ImportJobId>(&request.id, "id")?;
        // A job that does not exist is refused before the stream opens.
        self.imports.get(&caller, id).await?;
        let watch = Watch {
            imports: self.imports.clone(),
            caller,
            id,
            last: None,
            over: false,
        };
        Ok(Box::pin(futures_util::stream::unfold(watch, Watch::step)))
    }

    async fn cancel_import_job(
        &self,
        caller: Caller,
        request: pb::CancelImportJobRequest,
    ) -> Result<pb::ImportJob, DomainError> {
        let id = convert::id::<ImportJobId>(&request.id, "id")?;
        Ok(to_proto(&self.imports.cancel(&caller, id).await?))
    }

    async fn get_import_errors(
        &self,
        caller: Caller,
        request: pb::GetImportErrorsRequest,
    ) -> Result<BoxStream<pb::GetImportErrorsResponse>, DomainError> {
        let id = convert::id::<ImportJobId>(&request.id, "id")?;
        let job = self.imports.get(&caller, id).await?;
        let mut header = job.header.clone();
        header.push("import_line".to_owned());
        header.push("import_error".to_owned());
        let first = pb::GetImportErrorsResponse {
            csv: csv_of([header])?,
        };
        let rows = Errors {
            imports: self.imports.clone(),
            caller,
            id,
            width: job.header.len(),
            after: Some(0),
        };
        let stream = futures_util::StreamExt::chain(
            futures_util::stream::once(async move { Ok(first) }),
            futures_util::stream::unfold(rows, Errors::step),
        );
        Ok(Box::pin(stream))
    }
}

crate::serve! {
    impl ImportRpc for ImportApi {
        import_contacts(Streaming<pb::ImportContactsRequest>) -> pb::ImportJob;
        get_import_job(pb::GetImportJobRequest) -> pb::ImportJob;
        list_import_jobs(pb::ListImportJobsRequest) -> pb::ListImportJobsResponse;
        watch_import_job(pb::WatchImportJobRequest) -> Self::WatchImportJobStream;
        cancel_import_job(pb::CancelImportJobRequest) -> pb::ImportJob;
        get_import_errors(pb::GetImportErrorsRequest) -> Self::GetImportErrorsStream;
    }
    type WatchImportJobStream = BoxStream<pb::ImportJob>;
    type GetImportErrorsStream = BoxStream<pb::GetImportErrorsResponse>;
}
