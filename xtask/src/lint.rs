//! `cargo xtask lint`: the tidy checks, formatting, clippy and protobuf
//! lint, in that order, stopping at the first failure. `cargo xtask test` runs the same steps
//! first through [`all`].

use crate::step::{self, Result};

/// Entry point of `cargo xtask lint`.
pub fn run(args: &[String]) -> Result<()> {
    step::no_args("lint", args)?;
    all()?;
    println!("==> lint passed");
    Ok(())
}

/// The lint steps: `cargo xtask tidy`, `cargo fmt`, `cargo clippy`, `buf lint`.
pub fn all() -> Result<()> {
    crate::tidy::all()?;
    step::run(
        "cargo fmt --all -- --check",
        step::cargo().args(["fmt", "--all", "--", "--check"]),
    )?;
    step::run(
        "cargo clippy --workspace --all-targets --locked -- -D warnings",
        step::cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    crate::buf::lint()
}
