//! The load driver behind `cargo xtask bench` (which builds it and `crmd` in
//! release and runs it). For each backend it seeds a fresh database with
//! contacts holding two identities each, starts the release `crmd` on it,
//! drives ResolveSender through real gRPC clients at several concurrency
//! levels (90% known senders, 10% new) for a fixed time, then ResolveSenders
//! with the same senders in batches, and measures in the same run the same
//! lookup-or-create done directly in SQL over one pool: the ceiling the
//! service can approach. Prints calls/s, p50, p99, the service/SQL ratio and
//! the server's peak memory, and senders/s and the ratio for the batches;
//! then the search case (SearchContacts from 4 searchers: exact addresses
//! and prefixes, then infixes, with p95 against the targets), the filter
//! case (a filtered page and its count, custom field and tag), the record,
//! history, merge and file cases; last, once per run, the phone case (in
//! process).
//!
//! Client, server and database share the machine's cores, as they do in the
//! figures the issue quotes.

#![allow(clippy::print_stdout)]

mod autovacuum;
mod busy;
mod direct;
mod duplicates;
mod exchange;
mod files;
mod filters;
mod history;
mod load;
mod merges;
mod phones;
mod records;
mod search;
mod seed;
mod server;

use std::time::Duration;

/// Which database a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file, the embedded default.
    Sqlite,
    /// PostgreSQL, production.
    Postgres,
}

/// Senders in each ResolveSenders call of the batch case.
const BATCH_SENDERS: usize = 16;

/// Callers of the record case (GetContact / UpdateContact on a wide contact).
const RECORD_CALLERS: usize = 16;

/// What a run does, from the command line.
#[derive(Debug, Clone)]
pub struct Options {
    backends: Vec<Backend>,
    postgres_contacts: u64,
    sqlite_contacts: u64,
    levels: Vec<usize>,
    seconds: u64,
    warmup: u64,
    crmd: String,
    admin_url: String,
    cases: Vec<Case>,
}

/// A case of the run, chosen with `--cases` (all by default). The seed and
/// the duplicate index's catch-up always run; a case left out prints no
/// table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// ResolveSender and ResolveSenders at each level, with direct SQL.
    Resolve,
    /// SearchContacts, exact or prefix and infix.
    Search,
    /// ListContacts(filter) + CountContacts(filter).
    Filter,
    /// GetContact / UpdateContact on a wide contact.
    Record,
    /// RecordConversation by sender.
    History,
    /// PreviewMerge and MergeContacts of a contact with a long history.
    Merge,
    /// One busy contact, many writers.
    Busy,
    /// FindDuplicateContacts after pairs were written.
    Duplicates,
    /// ExportContacts of the whole tenant.
    Export,
    /// ImportContacts of a file as large as the tenant, and the duplicate
    /// index's catch-up after it.
    Import,
    /// A large attachment up and down.
    Files,
    /// Normalising mixed phone numbers, in process, once per run.
    Phones,
}

impl Case {
    const ALL: [(Case, &'static str); 12] = [
        (Case::Resolve, "resolve"),
        (Case::Search, "search"),
        (Case::Filter, "filter"),
        (Case::Record, "record"),
        (Case::History, "history"),
        (Case::Merge, "merge"),
        (Case::Busy, "busy"),
        (Case::Duplicates, "duplicates"),
        (Case::Export, "export"),
        (Case::Import, "import"),
        (Case::Files, "files"),
        (Case::Phones, "phones"),
    ];

    fn parse(name: &str) -> Option<Case> {
        Case::ALL
            .iter()
            .find(|(_, known)| *known == name)
            .map(|(case, _)| *case)
    }
}

impl Options {
    fn runs(&self, case: Case) -> bool {
        self.cases.contains(&case)
    }
}

fn usage() -> &'static str {
    "crm-bench [--backend postgres|sqlite|both] [--contacts N] [--sqlite-contacts N] \
     [--concurrency 1,16,64] [--seconds S] [--warmup S] \
     [--cases resolve,search,filter,record,history,merge,busy,duplicates,export,import,files,phones] \
     --crmd PATH"
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        backends: vec![Backend::Postgres, Backend::Sqlite],
        postgres_contacts: 1_000_000,
        // SQLite's target is absolute throughput at 16 callers; B-tree depth
        // grows with the log of the row count, so 100k rows answer the same
        // question while keeping the seed and the file small.
        sqlite_contacts: 100_000,
        levels: vec![1, 16, 64],
        seconds: 10,
        warmup: 2,
        crmd: String::new(),
        admin_url: std::env::var("CRM_BENCH_DATABASE_URL")
            .or_else(|_| std::env::var("CRM_TEST_DATABASE_URL"))
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned()),
        cases: Case::ALL.iter().map(|(case, _)| *case).collect(),
    };
    let mut iter = args.iter();
    while let Some(flag) = iter.next() {
        let mut value = || {
            iter.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        let number = |text: String| {
            text.parse::<u64>()
                .map_err(|_| format!("{flag}: {text:?} is not a number"))
        };
        match flag.as_str() {
            "--backend" => {
                options.backends = match value()?.as_str() {
                    "postgres" => vec![Backend::Postgres],
                    "sqlite" => vec![Backend::Sqlite],
                    "both" => vec![Backend::Postgres, Backend::Sqlite],
                    other => {
                        return Err(format!("--backend {other}: use postgres, sqlite or both"));
                    }
                }
            }
            "--contacts" => options.postgres_contacts = number(value()?)?,
            "--sqlite-contacts" => options.sqlite_contacts = number(value()?)?,
            "--seconds" => options.seconds = number(value()?)?,
            "--warmup" => options.warmup = number(value()?)?,
            "--concurrency" => {
                options.levels = value()?
                    .split(',')
                    .map(|level| {
                        level
                            .trim()
                            .parse::<usize>()
                            .map_err(|_| format!("--concurrency: {level:?}"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--cases" => {
                options.cases = value()?
                    .split(',')
                    .map(|name| {
                        Case::parse(name.trim()).ok_or_else(|| {
                            format!("--cases: {name:?} is not a case\nusage: {}", usage())
                        })
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--crmd" => options.crmd = value()?,
            other => return Err(format!("unknown flag {other}\nusage: {}", usage())),
        }
    }
    if options.crmd.is_empty() {
        return Err(format!("--crmd is required\nusage: {}", usage()));
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("crm-bench: {message}");
            return std::process::ExitCode::from(2);
        }
    };
    for backend in options.backends.clone() {
        if let Err(message) = run_backend(&options, backend).await {
            eprintln!("crm-bench: {backend:?}: {message}");
            return std::process::ExitCode::FAILURE;
        }
    }
    if options.runs(Case::Phones)
        && let Err(message) = phones::run()
    {
        eprintln!("crm-bench: phones: {message}");
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}

async fn run_backend(options: &Options, backend: Backend) -> Result<(), String> {
    let contacts = match backend {
        Backend::Postgres => options.postgres_contacts,
        Backend::Sqlite => options.sqlite_contacts,
    };
    println!(
        "\n=== ResolveSender on {backend:?}: {contacts} contacts x 2 identities, {}s per level (+{}s warm-up)",
        options.seconds, options.warmup
    );
    let database = seed::Database::create(backend, &options.admin_url).await?;
    let outcome = async {
        let tenant = server::create_tenant(&options.crmd, &database.url)?;
        // The tenant is set up before its contacts arrive, as an operator
        // would: a settings change on a tenant with contacts sweeps them all.
        let mut setup = server::Crmd::start(&options.crmd, &database.url).await?;
        duplicates::declare_free_mail(&setup.endpoint, &tenant.key).await?;
        setup.stop();
        let started = std::time::Instant::now();
        seed::seed(&database.url, backend, tenant.id, contacts).await?;
        println!("seeded in {:.1}s", started.elapsed().as_secs_f64());
        let mut crmd = server::Crmd::start(&options.crmd, &database.url).await?;
        // The seed's writes queued every contact for the duplicate index;
        // every case waits until it has taken them in.
        let indexed = duplicates::drain(&crmd.endpoint, &tenant.key).await?;
        println!(
            "duplicate index took the seed in {:.1}s ({:.0} contacts/s)",
            indexed.as_secs_f64(),
            contacts as f64 / indexed.as_secs_f64().max(1e-9)
        );
        seed::vacuum(&database.url, backend).await?;
        // Held until the run ends: it stops when dropped.
        let _autovacuum = match backend {
            Backend::Postgres => autovacuum::start(&database.url).await?,
            Backend::Sqlite => None,
        };
        let mut rows = Vec::new();
        let mut batches = Vec::new();
        let mut streams = Vec::new();
        let mut splits = Vec::new();
        let levels: &[usize] = if options.runs(Case::Resolve) {
            &options.levels
        } else {
            &[]
        };
        for &callers in levels {
            let run = load::Run {
                callers,
                known: contacts,
                duration: Duration::from_secs(options.seconds),
                warmup: Duration::from_secs(options.warmup),
            };
            let (service, split) = load::drive_service(&crmd.endpoint, &tenant.key, &run).await?;
            let batched =
                load::drive_service_batches(&crmd.endpoint, &tenant.key, &run, BATCH_SENDERS)
                    .await?;
            let streamed = load::drive_service_stream(&crmd.endpoint, &tenant.key, &run, 1).await?;
            let burst =
                load::drive_service_stream(&crmd.endpoint, &tenant.key, &run, BATCH_SENDERS)
                    .await?;
            let rss = crmd.rss_kib();
            let sql = direct::drive(&database.url, backend, tenant.id, &run).await?;
            rows.push((callers, service, sql, rss));
            batches.push(batched);
            streams.push((streamed, burst));
            splits.push(split);
        }
        let record_run = load::Run {
            callers: RECORD_CALLERS,
            known: contacts,
            duration: Duration::from_secs(options.seconds),
            warmup: Duration::from_secs(options.warmup),
        };
        let (endpoint, key) = (crmd.endpoint.as_str(), tenant.key.as_str());
        let searched = if options.runs(Case::Search) {
            let exact =
                search::drive(endpoint, key, &record_run, search::Mix::ExactOrPrefix).await?;
            let infix = search::drive(endpoint, key, &record_run, search::Mix::Infix).await?;
            Some((exact, infix))
        } else {
            None
        };
        let filtered = if options.runs(Case::Filter) {
            filters::define_plan(endpoint, key).await?;
            Some(filters::drive(endpoint, key, &record_run).await?)
        } else {
            None
        };
        let record_case = match options.runs(Case::Record) {
            true => Some(records::drive(endpoint, key, &record_run).await?),
            false => None,
        };
        let history = match options.runs(Case::History) {
            true => Some(history::drive(endpoint, key, &record_run).await?),
            false => None,
        };
        let merge = match options.runs(Case::Merge) {
            true => Some(merges::drive(endpoint, key).await?),
            false => None,
        };
        let busy = match options.runs(Case::Busy) {
            true => Some(busy::drive(endpoint, key).await?),
            false => None,
        };
        let finding = match options.runs(Case::Duplicates) {
            true => Some(duplicates::drive(endpoint, key).await?),
            false => None,
        };
        let peak = crmd.peak_rss_kib();
        let exported = match options.runs(Case::Export) {
            true => Some(exchange::export(&crmd, key).await?),
            false => None,
        };
        let imported = if options.runs(Case::Import) {
            // The file has a Plan column: the field the filter case defines.
            if !options.runs(Case::Filter) {
                filters::define_plan(endpoint, key).await?;
            }
            let rows = usize::try_from(contacts).unwrap_or(usize::MAX);
            let imported = exchange::import(&crmd, key, rows).await?;
            let indexed = duplicates::drain(endpoint, key).await?;
            Some((imported, indexed))
        } else {
            None
        };
        crmd.stop();
        let file = match options.runs(Case::Files) {
            true => Some(files::drive(&options.crmd, &database.url, &tenant.key).await?),
            false => None,
        };
        if !rows.is_empty() {
            print_resolve(&rows, &splits, &batches, &streams);
        }
        if let Some((exact, infix)) = &searched {
            print_search(exact, infix);
        }
        if let Some(filtered) = &filtered {
            print_filter(filtered);
        }
        if record_case.is_some() || history.is_some() {
            print_records(record_case.as_ref(), history.as_ref());
        }
        if let Some(merge) = &merge {
            print_merge(merge);
        }
        if let Some(busy) = &busy {
            print_busy(busy);
        }
        println!("peak server RSS (VmHWM): {:.1} MiB", peak as f64 / 1024.0);
        if let Some(finding) = &finding {
            print_finding(finding);
        }
        if exported.is_some() || imported.is_some() {
            print_exchange(exported.as_ref(), imported.as_ref());
        }
        if let Some(file) = &file {
            print_files(file);
        }
        if let Some(first_error) = rows
            .iter()
            .find_map(|(_, service, _, _)| service.first_error.clone())
        {
            println!("first service error: {first_error}");
        }
        Ok::<(), String>(())
    }
    .await;
    database.drop_database().await;
    outcome
}

fn print_resolve(
    rows: &[(usize, load::Measurement, load::Measurement, u64)],
    splits: &[load::Split],
    batches: &[load::Measurement],
    streams: &[(load::Measurement, load::Measurement)],
) {
    println!(
        "\n{:>7} | {:>10} {:>8} {:>8} {:>6} | {:>10} {:>8} {:>8} | {:>7} | {:>8}",
        "callers",
        "service/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "sql/s",
        "p50 ms",
        "p99 ms",
        "ratio",
        "rss MiB"
    );
    for (callers, service, sql, rss) in rows {
        println!(
            "{:>7} | {:>10.0} {:>8.2} {:>8.2} {:>6} | {:>10.0} {:>8.2} {:>8.2} | {:>6.0}% | {:>8.1}",
            callers,
            service.rate(),
            service.percentile_ms(50.0),
            service.percentile_ms(99.0),
            service.errors,
            sql.rate(),
            sql.percentile_ms(50.0),
            sql.percentile_ms(99.0),
            100.0 * service.rate() / sql.rate().max(1.0),
            *rss as f64 / 1024.0,
        );
    }
    println!("\nResolveSender by sender (ms):");
    println!(
        "{:>7} | {:>8} {:>8} | {:>8} {:>8} {:>8}",
        "callers", "known 50", "known 99", "new 50", "new 90", "new 99"
    );
    for ((callers, ..), split) in rows.iter().zip(splits) {
        println!(
            "{:>7} | {:>8.2} {:>8.2} | {:>8.2} {:>8.2} {:>8.2}",
            callers,
            split.known.percentile_ms(50.0),
            split.known.percentile_ms(99.0),
            split.new.percentile_ms(50.0),
            split.new.percentile_ms(90.0),
            split.new.percentile_ms(99.0),
        );
    }
    println!(
        "\nResolveSenders, {BATCH_SENDERS} senders per call (same senders; ratio: senders/s to the sql/s above):"
    );
    println!(
        "{:>7} | {:>10} {:>8} {:>8} {:>6} | {:>7}",
        "callers", "senders/s", "p50 ms", "p99 ms", "errors", "ratio"
    );
    for ((callers, _, sql, _), batched) in rows.iter().zip(batches) {
        let senders = batched.rate() * BATCH_SENDERS as f64;
        println!(
            "{:>7} | {:>10.0} {:>8.2} {:>8.2} {:>6} | {:>6.0}%",
            callers,
            senders,
            batched.percentile_ms(50.0),
            batched.percentile_ms(99.0),
            batched.errors,
            100.0 * senders / sql.rate().max(1.0),
        );
        if let Some(error) = &batched.first_error {
            println!("first ResolveSenders error: {error}");
        }
    }
    println!(
        "\nStreamResolveSenders, one stream per caller (same senders; ratio: senders/s to the sql/s above;"
    );
    println!(
        "p50 and p99 of one sender, or of a burst of {BATCH_SENDERS} sent before its answers are read):"
    );
    println!(
        "{:>7} | {:>10} {:>8} {:>8} {:>6} | {:>7} | {:>10} {:>8} {:>8} {:>6} | {:>7}",
        "callers",
        "1 at once/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "ratio",
        format!("{BATCH_SENDERS} at once/s"),
        "p50 ms",
        "p99 ms",
        "errors",
        "ratio"
    );
    for ((callers, _, sql, _), (single, burst)) in rows.iter().zip(streams) {
        let bursts = burst.rate() * BATCH_SENDERS as f64;
        println!(
            "{:>7} | {:>10.0} {:>8.2} {:>8.2} {:>6} | {:>6.0}% | {:>10.0} {:>8.2} {:>8.2} {:>6} | {:>6.0}%",
            callers,
            single.rate(),
            single.percentile_ms(50.0),
            single.percentile_ms(99.0),
            single.errors,
            100.0 * single.rate() / sql.rate().max(1.0),
            bursts,
            burst.percentile_ms(50.0),
            burst.percentile_ms(99.0),
            burst.errors,
            100.0 * bursts / sql.rate().max(1.0),
        );
        for error in [&single.first_error, &burst.first_error]
            .into_iter()
            .flatten()
        {
            println!("first StreamResolveSenders error: {error}");
        }
    }
}

/// A table of calls with their p95, one row per case; `what` names the
/// call in the line that shows a case's first error.
fn print_p95_table(title: &str, what: &str, cases: &[(&str, &load::Measurement)]) {
    println!("\n{title}");
    println!(
        "{:>14} | {:>10} {:>8} {:>8} {:>8} {:>6}",
        "case", "calls/s", "p50 ms", "p95 ms", "p99 ms", "errors"
    );
    for (name, measured) in cases {
        println!(
            "{:>14} | {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>6}",
            name,
            measured.rate(),
            measured.percentile_ms(50.0),
            measured.percentile_ms(95.0),
            measured.percentile_ms(99.0),
            measured.errors
        );
        if let Some(error) = &measured.first_error {
            println!("first {what} error: {error}");
        }
    }
}

fn print_search(exact_search: &load::Measurement, infix_search: &load::Measurement) {
    print_p95_table(
        &format!(
            "SearchContacts, {} searchers, 20 per page (targets, p95: exact or prefix 5 ms on PostgreSQL and 10 ms on SQLite; infix 50 ms):",
            search::SEARCHERS
        ),
        "SearchContacts",
        &[("exact/prefix", exact_search), ("infix", infix_search)],
    );
}

fn print_filter(filtered: &load::Measurement) {
    print_p95_table(
        &format!(
            "ListContacts(filter) page of 50 + CountContacts(filter), {} callers, custom field and tag (target, p95: 100 ms):",
            filters::CALLERS
        ),
        "filter",
        &[("filter+count", filtered)],
    );
}

/// The wide-record table, with the RecordConversation row under it; each
/// part printed when its case ran.
fn print_records(record_case: Option<&records::RecordCase>, history: Option<&load::Measurement>) {
    println!(
        "\nA contact with {} custom-field values, {RECORD_CALLERS} callers:",
        records::VALUES
    );
    println!(
        "{:>14} | {:>10} {:>8} {:>8} {:>6}",
        "call", "calls/s", "p50 ms", "p99 ms", "errors"
    );
    let calls = record_case
        .map(|case| [("GetContact", &case.get), ("UpdateContact", &case.update)])
        .into_iter()
        .flatten();
    for (name, measured) in calls {
        println!(
            "{:>14} | {:>10.0} {:>8.2} {:>8.2} {:>6}",
            name,
            measured.rate(),
            measured.percentile_ms(50.0),
            measured.percentile_ms(99.0),
            measured.errors
        );
        if let Some(error) = &measured.first_error {
            println!("first {name} error: {error}");
        }
    }
    if let Some(history) = history {
        println!(
            "{:>14} | {:>10.0} {:>8.2} {:>8.2} {:>6}   (by sender; 90% known, new source ids)",
            "RecordConv.",
            history.rate(),
            history.percentile_ms(50.0),
            history.percentile_ms(99.0),
            history.errors
        );
        if let Some(error) = &history.first_error {
            println!("first RecordConversation error: {error}");
        }
    }
}

fn print_merge(merge: &merges::MergeTimes) {
    println!(
        "\nMerging a duplicate with {} conversations and {} notes (history written in {:.1}s):",
        merges::CONVERSATIONS,
        merges::NOTES,
        merge.seeding.as_secs_f64()
    );
    println!(
        "{:>14} | {:>8.1} ms\n{:>14} | {:>8.1} ms",
        "PreviewMerge",
        merge.preview.as_secs_f64() * 1000.0,
        "MergeContacts",
        merge.merge.as_secs_f64() * 1000.0
    );
}

fn print_busy(busy: &busy::BusyTimes) {
    println!(
        "\nOne busy contact: {} conversations from {} writers in {:.1}s (it counts {}):",
        busy::CONVERSATIONS,
        busy::WRITERS,
        busy.total.as_secs_f64(),
        busy.counted
    );
    println!("{:>14} | {:>8} {:>8}", "writes", "mean ms", "p99 ms");
    for (name, mean, p99) in [
        (
            format!("first {}", busy::WINDOW),
            busy.first_mean_ms,
            busy.first_p99_ms,
        ),
        (
            format!("last {}", busy::WINDOW),
            busy.last_mean_ms,
            busy.last_p99_ms,
        ),
    ] {
        println!("{name:>14} | {mean:>8.2} {p99:>8.2}");
    }
    println!(
        "{:>14} | {:>7.2}x   (target: at most 1.5x)",
        "last/first",
        busy.growth()
    );
}

fn print_finding(finding: &duplicates::Finding) {
    println!(
        "\nFindDuplicateContacts, first page of {} groups, after {} same-name and {} similar-name pairs were written (target: under 2 s):",
        finding.groups,
        duplicates::PAIRS,
        duplicates::NEAR
    );
    println!(
        "{:>14} | {:>8.1} ms\n{:>14} | {:>8.1} ms\n{:>14} | {:>8.1} ms\n{:>14} | {:>8}",
        "first call",
        finding.first.as_secs_f64() * 1000.0,
        format!("p50 of {}", duplicates::CALLS),
        finding.percentile_ms(50.0),
        "max",
        finding.percentile_ms(100.0),
        "still waiting",
        finding.waiting
    );
}

fn print_exchange(
    exported: Option<&exchange::Exchange>,
    imported: Option<&(exchange::Exchange, Duration)>,
) {
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "\nCSV exchange, the whole tenant (targets: export 100,000 rows/s; import, upsert by email, 40,000 rows/s on PostgreSQL and 30,000 on SQLite; RSS under 200 MiB):"
    );
    println!(
        "{:>9} | {:>9} | {:>8} | {:>7} | {:>13} | outcome",
        "case", "rows", "rows/s", "s", "peak RSS MiB"
    );
    if let Some(exported) = exported {
        println!(
            "{:>9} | {:>9} | {:>8.0} | {:>7.1} | {:>13.1} |",
            "export",
            exported.rows,
            exported.rate(),
            exported.elapsed.as_secs_f64(),
            mib(exported.peak_kib)
        );
    }
    if let Some((imported, import_indexed)) = imported {
        println!(
            "{:>9} | {:>9} | {:>8.0} | {:>7.1} | {:>13.1} | {} created, {} updated, {} unchanged, {} duplicates, {} invalid; upload {:.1}s",
            "import",
            imported.rows,
            imported.rate(),
            imported.elapsed.as_secs_f64(),
            mib(imported.peak_kib),
            imported.outcome[0],
            imported.outcome[1],
            imported.outcome[2],
            imported.outcome[3],
            imported.outcome[4],
            imported.upload.as_secs_f64()
        );
        println!(
            "the duplicate index took the import in {:.1}s after it ended",
            import_indexed.as_secs_f64()
        );
    }
}

fn print_files(file: &files::Transfer) {
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "\nA {} MiB attachment (1 MiB chunks, filesystem store, a crmd of its own):",
        files::FILE_MIB
    );
    println!(
        "{:>9} | {:>7} | {:>13} | {:>13}",
        "direction", "MiB/s", "idle RSS MiB", "peak RSS MiB"
    );
    for (direction, rate, peak) in [
        ("upload", file.upload_mib_s, file.upload_peak_kib),
        ("download", file.download_mib_s, file.download_peak_kib),
    ] {
        println!(
            "{:>9} | {:>7.0} | {:>13.1} | {:>13.1}",
            direction,
            rate,
            mib(file.idle_kib),
            mib(peak)
        );
    }
}
