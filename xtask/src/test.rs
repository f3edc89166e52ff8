//! `cargo xtask test`: the single entry point the README and CI use.
//!
//! Steps, each announced by a `==> <step>` header and stopping at the first
//! failure with a non-zero exit code:
//! 1. the lint steps (`cargo xtask tidy`, `cargo fmt --check`, `cargo clippy`,
//!    `buf lint`),
//!    unless `--no-lint` is given;
//! 2. a check that PostgreSQL at `CRM_TEST_DATABASE_URL` is reachable;
//! 3. all tests of the workspace with `cargo nextest run` when nextest is
//!    installed, else `cargo test`, with `CRM_TEST_DATABASE_URL` exported.
//!
//! Arguments other than `--no-lint` (and everything after `--`) go to the
//! test runner, e.g. `cargo xtask test -- contact`.

use std::process::Stdio;

use crate::step::{self, Result};
use crate::{lint, pg};

/// Entry point of `cargo xtask test`.
pub fn run(args: &[String]) -> Result<()> {
    let (no_lint, runner_args) = parse_args(args);
    if !no_lint {
        lint::all()?;
    }
    let database_url = pg::check()?;

    let (title, mut cmd) = if nextest_installed() {
        let mut cmd = step::cargo();
        cmd.args([
            "nextest",
            "run",
            "--workspace",
            "--locked",
            "--no-fail-fast",
        ]);
        ("cargo nextest run --workspace --locked --no-fail-fast", cmd)
    } else {
        let mut cmd = step::cargo();
        cmd.args(["test", "--workspace", "--locked"]);
        (
            "cargo test --workspace --locked (cargo-nextest not installed)",
            cmd,
        )
    };
    cmd.args(&runner_args).env(pg::URL_VAR, database_url);
    let title = if runner_args.is_empty() {
        title.to_owned()
    } else {
        format!("{title} {}", runner_args.join(" "))
    };
    step::run(&title, &mut cmd)?;
    println!("==> all steps passed");
    Ok(())
}

/// Splits `--no-lint` from the arguments meant for the test runner.
fn parse_args(args: &[String]) -> (bool, Vec<String>) {
    let mut no_lint = false;
    let mut runner_args = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--no-lint" => no_lint = true,
            "--" => {
                runner_args.extend(iter.by_ref().cloned());
            }
            _ => runner_args.push(arg.clone()),
        }
    }
    (no_lint, runner_args)
}

/// Whether `cargo nextest --version` works.
fn nextest_installed() -> bool {
    step::cargo()
        .args(["nextest", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(test)]
mod tests {
    use super::parse_args;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn splits_no_lint_from_runner_arguments() {
        assert_eq!(parse_args(&strings(&[])), (false, vec![]));
        assert_eq!(
            parse_args(&strings(&["--no-lint", "--", "contact"])),
            (true, strings(&["contact"]))
        );
        assert_eq!(
            parse_args(&strings(&["contact"])),
            (false, strings(&["contact"]))
        );
        // After `--` everything belongs to the runner, even `--no-lint`.
        assert_eq!(
            parse_args(&strings(&["--", "--no-lint", "--", "x"])),
            (false, strings(&["--no-lint", "--", "x"]))
        );
    }
}
