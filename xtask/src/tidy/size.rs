//! File sizes in `crm-domain`: a file past [`MAX_LINES`] usually holds
//! more than one idea and wants splitting along the context's nouns. The
//! few that may stay larger are listed in [`ALLOWED`], each with its
//! reason; an entry that is no longer needed is itself a problem, so the
//! list only shrinks.

use std::path::Path;

use super::Problem;

/// The most lines a file in `crm-domain` may have.
pub const MAX_LINES: usize = 800;

/// The crate whose files are measured, relative to the workspace root.
const DOMAIN: &str = "crates/crm-domain";

/// Files allowed past [`MAX_LINES`], relative to the workspace root, with
/// why.
pub const ALLOWED: &[(&str, &str)] = &[
    (
        "crates/crm-domain/src/contacts/service.rs",
        "the contact use cases (~920 lines) and their mock-based tests (~260); \
         resolution and update planning already live beside it",
    ),
    (
        "crates/crm-domain/src/fields/custom_field.rs",
        "one validation rule per custom-field type (~810 lines) with a table test per type (~360)",
    ),
];

/// Checks the files of the domain crate at `root` (a workspace root).
pub fn check(root: &Path) -> Vec<Problem> {
    check_with(root, MAX_LINES, ALLOWED)
}

fn check_with(root: &Path, max_lines: usize, allowed: &[(&str, &str)]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut still_needed = vec![false; allowed.len()];
    for file in super::rust_files(&root.join(DOMAIN)) {
        let relative = super::relative(root, &file);
        let Ok(text) = std::fs::read_to_string(&file) else {
            problems.push(Problem::new(relative, None, "cannot read the file"));
            continue;
        };
        let lines = text.lines().count();
        if lines <= max_lines {
            continue;
        }
        let listed = allowed
            .iter()
            .position(|(path, _)| Path::new(path) == relative);
        match listed {
            Some(index) => still_needed[index] = true,
            None => problems.push(Problem::new(
                relative,
                None,
                format!(
                    "{lines} lines, more than {max_lines}: split it along the context's nouns, \
                     or add it to the allow-list in xtask/src/tidy/size.rs with a reason"
                ),
            )),
        }
    }
    for ((path, _), needed) in allowed.iter().zip(still_needed) {
        if !needed {
            problems.push(Problem::new(
                *path,
                None,
                format!(
                    "on the allow-list in xtask/src/tidy/size.rs but not over {max_lines} lines \
                     (or gone): remove the entry"
                ),
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tidy::fixture::Tree;

    fn lines(count: usize) -> String {
        "// line\n".repeat(count)
    }

    fn found(tree: &Tree, allowed: &[(&str, &str)]) -> Vec<String> {
        check_with(tree.root(), 10, allowed)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn files_up_to_the_limit_pass() {
        let tree = Tree::new();
        tree.file("crates/crm-domain/src/lib.rs", &lines(10))
            .file("crates/crm-domain/tests/big.rs", &lines(3));
        assert_eq!(found(&tree, &[]), Vec::<String>::new());
    }

    #[test]
    fn a_long_file_fails_unless_allowed_with_a_reason() {
        let tree = Tree::new();
        tree.file("crates/crm-domain/src/a/mod.rs", &lines(11))
            .file("crates/crm-domain/src/b/mod.rs", &lines(12))
            .file("crates/other/src/lib.rs", &lines(50));
        assert_eq!(
            found(&tree, &[("crates/crm-domain/src/b/mod.rs", "tables")]),
            [
                "crates/crm-domain/src/a/mod.rs: 11 lines, more than 10: split it along the \
              context's nouns, or add it to the allow-list in xtask/src/tidy/size.rs with a reason"
            ]
        );
    }

    #[test]
    fn an_allow_list_entry_no_longer_needed_is_a_problem() {
        let tree = Tree::new();
        tree.file("crates/crm-domain/src/a/mod.rs", &lines(5));
        assert_eq!(
            found(
                &tree,
                &[
                    ("crates/crm-domain/src/a/mod.rs", "was long"),
                    ("crates/crm-domain/src/gone.rs", "was long")
                ]
            ),
            [
                "crates/crm-domain/src/a/mod.rs: on the allow-list in xtask/src/tidy/size.rs but \
                 not over 10 lines (or gone): remove the entry",
                "crates/crm-domain/src/gone.rs: on the allow-list in xtask/src/tidy/size.rs but \
                 not over 10 lines (or gone): remove the entry",
            ]
        );
    }

    #[test]
    fn every_allowed_file_gives_a_reason() {
        for (path, reason) in ALLOWED {
            assert!(reason.len() > 20, "{path}: give a real reason");
        }
    }
}
