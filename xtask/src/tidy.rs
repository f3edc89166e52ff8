//! `cargo xtask tidy`: the architecture's invariants, checked rather than
//! hoped for (as rust-analyzer's tidy tests do). Each check reads files and
//! reports [`Problem`]s; none builds or runs anything, so tidy takes well
//! under a second and runs first in `cargo xtask lint`.
//!
//! - [`dependencies`]: the hexagon's dependency rules, read from each
//!   member's `Cargo.toml`.
//! - [`contexts`]: the edges between bounded contexts in `crm-domain`,
//!   against the context map in `crates/crm-domain/src/lib.rs`.
//! - [`size`]: no file in `crm-domain` grows past [`size::MAX_LINES`]
//!   unless it is on the allow-list, with a reason.

mod contexts;
mod dependencies;
mod lexer;
mod size;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::step::{self, Error, Result};

/// One broken rule: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, relative to the workspace root.
    pub path: PathBuf,
    /// The 1-based line, when the problem sits on one.
    pub line: Option<usize>,
    /// What is wrong, in one sentence.
    pub message: String,
}

impl Problem {
    fn new(path: impl Into<PathBuf>, line: Option<usize>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

/// One check: reads the workspace at the given root, returns what is wrong.
type Check = fn(&Path) -> Vec<Problem>;

/// Entry point of `cargo xtask tidy`.
pub fn run(args: &[String]) -> Result<()> {
    step::no_args("tidy", args)?;
    all()
}

/// Runs every check on the workspace, prints what each finds and fails
/// when any found something.
pub fn all() -> Result<()> {
    step::header("tidy: dependency rules, context edges, file sizes");
    let root = step::workspace_root();
    let checks: [(&str, Check); 3] = [
        ("dependency rules", dependencies::check),
        ("context edges in crm-domain", contexts::check),
        ("file sizes in crm-domain", size::check),
    ];
    let mut total = 0;
    for (name, check) in checks {
        let problems = check(root);
        if problems.is_empty() {
            println!("ok: {name}");
        } else {
            println!("{name}: {} problem(s)", problems.len());
            for problem in &problems {
                println!("  {problem}");
            }
        }
        total += problems.len();
    }
    if total == 0 {
        Ok(())
    } else {
        Err(Error::new(format!("tidy found {total} problem(s)")))
    }
}

/// `path` relative to `root`, for messages.
fn relative(root: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(root).unwrap_or(path).to_path_buf()
}

/// Every `.rs` file below `dir`, sorted, so reports are stable.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[cfg(test)]
pub(crate) mod fixture {
    //! Small workspace trees in temporary directories, so the unit tests
    //! check the checkers themselves rather than today's code.

    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A temporary directory, removed on drop.
    pub struct Tree {
        root: PathBuf,
    }

    impl Tree {
        /// An empty tree, unique to this process and call.
        pub fn new() -> Self {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let root = std::env::temp_dir().join(format!(
                "xtask-tidy-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&root);
            std::fs::create_dir_all(&root).expect("create a fixture tree");
            Self { root }
        }

        /// Writes `text` at `path` (relative), creating folders.
        pub fn file(&self, path: &str, text: &str) -> &Self {
            let path = self.root.join(path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("create a fixture folder");
            }
            std::fs::write(path, text).expect("write a fixture file");
            self
        }

        /// Creates an empty folder at `path` (relative).
        pub fn folder(&self, path: &str) -> &Self {
            std::fs::create_dir_all(self.root.join(path)).expect("create a fixture folder");
            self
        }

        pub fn root(&self) -> &Path {
            &self.root
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}
