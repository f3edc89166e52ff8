//! Entry point of `cargo xtask`, the project's developer automation.
//!
//! Arguments are parsed by hand from `std::env::args`. Every subcommand lives
//! in its own module exposing `pub fn run(args: &[String]) -> Result<()>` and
//! is registered in [`COMMANDS`]; the usage message is generated from that
//! table. To add one (e.g. `bench`): create `src/bench.rs` with a `//!`
//! header and a `run` function, add `mod bench;` below and one entry to
//! [`COMMANDS`].

mod bench;
mod buf;
mod lint;
mod pg;
mod step;
mod test;
mod tidy;

use std::process::ExitCode;

use step::Result;

/// One `cargo xtask <name>` subcommand.
struct Command {
    /// What the user types after `cargo xtask`.
    name: &'static str,
    /// Argument synopsis shown in the usage message.
    args: &'static str,
    /// One-line description shown in the usage message.
    about: &'static str,
    /// Runs the subcommand with the arguments that follow its name.
    run: fn(&[String]) -> Result<()>,
    /// Single steps of the main commands, listed separately for debugging.
    helper: bool,
}

/// Every subcommand, in the order the usage message lists them.
const COMMANDS: &[Command] = &[
    Command {
        name: "test",
        args: "[--no-lint] [-- <test-runner args>...]",
        about: "lint, check PostgreSQL is reachable, then run all tests (what CI runs)",
        run: test::run,
        helper: false,
    },
    Command {
        name: "lint",
        args: "",
        about: "tidy, cargo fmt --check, cargo clippy -D warnings, buf lint",
        run: lint::run,
        helper: false,
    },
    Command {
        name: "tidy",
        args: "",
        about: "check the architecture: dependency rules, context edges in crm-domain, file sizes",
        run: tidy::run,
        helper: false,
    },
    Command {
        name: "bench",
        args: "[--backend postgres|sqlite|both] [--contacts N] [--seconds S] [--concurrency 1,16,64]",
        about: "release build, seed, and drive ResolveSender(s) and the other cases; prints calls/s, p50/p99, SQL ceiling, peak RSS",
        run: bench::run,
        helper: false,
    },
    Command {
        name: "buf",
        args: "",
        about: "only buf lint on proto/ (installs buf into target/tools/buf on first use)",
        run: buf::run,
        helper: true,
    },
    Command {
        name: "pg-check",
        args: "",
        about: "only check that PostgreSQL at CRM_TEST_DATABASE_URL is reachable",
        run: pg::run,
        helper: true,
    },
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((name, rest)) = args.split_first() else {
        eprintln!("{}", usage());
        return ExitCode::from(2);
    };
    if matches!(name.as_str(), "-h" | "--help" | "help") {
        println!("{}", usage());
        return ExitCode::SUCCESS;
    }
    let Some(command) = COMMANDS.iter().find(|c| c.name == name) else {
        eprintln!("error: unknown command `{name}`\n\n{}", usage());
        return ExitCode::from(2);
    };
    match (command.run)(rest) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The usage message, generated from [`COMMANDS`].
fn usage() -> String {
    let mut out = String::from("Usage: cargo xtask <command> [args]\n\nCommands:\n");
    let width = COMMANDS.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for helper in [false, true] {
        if helper {
            out.push_str("\nSingle steps (for debugging):\n");
        }
        for c in COMMANDS.iter().filter(|c| c.helper == helper) {
            out.push_str(&format!("  {:width$}  {}\n", c.name, c.about));
            if !c.args.is_empty() {
                out.push_str(&format!(
                    "  {:width$}  usage: cargo xtask {} {}\n",
                    "", c.name, c.args
                ));
            }
        }
    }
    out.trim_end().to_owned()
}
