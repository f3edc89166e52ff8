//! Shared plumbing for the subcommands: the error type, the workspace root,
//! the `cargo` binary to call, and [`run`], which prints a `==> <step>`
//! header, runs one external command and turns a failure into a one-line
//! error.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A failed step; its message is the one-line reason printed after `error: `
/// (it may continue with hints on the following lines).
#[derive(Debug)]
pub struct Error(String);

impl Error {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> &'static Path {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir)
}

/// The `cargo` that launched us (so the same toolchain is used), else `cargo`.
pub fn cargo() -> Command {
    let cargo = std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from);
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root());
    cmd
}

/// Prints the `==> <title>` header line of a step.
pub fn header(title: &str) {
    println!("==> {title}");
}

/// Prints the header, runs `cmd` with inherited stdio and fails with a
/// one-line reason unless it exits successfully.
pub fn run(title: &str, cmd: &mut Command) -> Result<()> {
    header(title);
    let status = cmd
        .status()
        .map_err(|e| Error::new(format!("`{title}` could not be started: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::new(format!("`{title}` failed ({status})")))
    }
}

/// Rejects arguments for subcommands that take none.
pub fn no_args(command: &str, args: &[String]) -> Result<()> {
    match args.first() {
        None => Ok(()),
        Some(arg) => Err(Error::new(format!(
            "`cargo xtask {command}` takes no arguments (got `{arg}`)"
        ))),
    }
}
