//! `buf lint` on `proto/` with the rules in `buf.yaml`.
//!
//! buf is not expected on the machine: on first use it is installed from the
//! npm package `@bufbuild/buf` (pinned to [`BUF_VERSION`]) into
//! `target/tools/buf/`, and re-used afterwards. If `proto/` holds no `.proto`
//! file yet the step is skipped with a note, since buf treats an empty module
//! as an error.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::step::{self, Error, Result};

/// The `@bufbuild/buf` version installed into `target/tools/buf/`.
pub const BUF_VERSION: &str = "1.75.0";

/// Entry point of the `cargo xtask buf` helper.
pub fn run(args: &[String]) -> Result<()> {
    step::no_args("buf", args)?;
    lint()
}

/// Runs `buf lint` from the workspace root, installing buf first if needed.
pub fn lint() -> Result<()> {
    let root = step::workspace_root();
    let proto_dir = root.join("proto");
    if !contains_proto_file(&proto_dir) {
        step::header("buf lint");
        println!(
            "note: {} holds no .proto files yet; nothing for buf to lint, skipping",
            proto_dir.display()
        );
        return Ok(());
    }
    let buf = ensure_installed(root)?;
    step::run("buf lint", Command::new(buf).arg("lint").current_dir(root))
}

/// Whether `dir` (recursively) holds at least one `.proto` file.
fn contains_proto_file(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let path = entry.path();
        if path.is_dir() {
            contains_proto_file(&path)
        } else {
            path.extension().is_some_and(|ext| ext == "proto")
        }
    })
}

/// Returns the path of buf [`BUF_VERSION`] under `target/tools/buf/`,
/// installing it with npm when it is missing or another version.
fn ensure_installed(root: &Path) -> Result<PathBuf> {
    let prefix = root.join("target").join("tools").join("buf");
    let buf = prefix.join("node_modules").join(".bin").join("buf");
    let reason = match installed_version(&buf) {
        Some(v) if v == BUF_VERSION => return Ok(buf),
        Some(v) => format!("replacing buf {v}"),
        None => "first use".to_owned(),
    };

    let package = format!("@bufbuild/buf@{BUF_VERSION}");
    let npm_found = Command::new("npm")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !npm_found {
        return Err(Error::new(format!(
            "npm not found on PATH; buf lint needs it once to install {package} into {} \
             (install Node.js with npm, e.g. `apt-get install npm`)",
            prefix.display()
        )));
    }
    let prefix_arg = prefix.to_string_lossy().into_owned();
    step::run(
        &format!("npm install --prefix target/tools/buf {package} ({reason})"),
        Command::new("npm")
            .args(["install", "--prefix", &prefix_arg])
            .args(["--no-audit", "--no-fund", "--silent", &package])
            .current_dir(root),
    )?;
    match installed_version(&buf) {
        Some(v) if v == BUF_VERSION => Ok(buf),
        found => Err(Error::new(format!(
            "npm installed {package} but {} reports version {}",
            buf.display(),
            found.as_deref().unwrap_or("nothing (it does not run)")
        ))),
    }
}

/// The version `buf --version` reports, if the binary runs.
fn installed_version(buf: &Path) -> Option<String> {
    if !buf.is_file() {
        return None;
    }
    let output = Command::new(buf)
        .arg("--version")
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}
