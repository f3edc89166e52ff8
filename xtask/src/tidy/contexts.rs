//! The edges between bounded contexts in `crm-domain`.
//!
//! The context map in `crates/crm-domain/src/lib.rs` is the single source
//! of truth: a doc table `//! | context | may use |` with one row per
//! context folder. A context may use itself, `kernel` (except `kernel`
//! itself, which may use nothing) and the contexts its row lists;
//! parenthesised notes in a row (`contacts (tags, routing)`) are comments.
//!
//! Every `.rs` file under a context folder is scanned for `crate::<name>`
//! paths, in `use` trees (`use crate::{a::X, b};`) and in expressions
//! alike, outside comments and literals. A path through a name the crate
//! root re-exports (`crate::Contact`, from `pub use contacts::…`) counts as
//! an edge to the context it comes from. The crate root must hold only
//! `lib.rs` and context folders, and every folder must have a row.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::Problem;
use super::lexer::{Lexed, Token, tokens};

/// Where the domain's sources live, relative to the workspace root.
pub const DOMAIN_SRC: &str = "crates/crm-domain/src";
/// The shared vocabulary: every context may use it; it may use none.
const KERNEL: &str = "kernel";

/// The context map: each context and the contexts it may use.
pub type ContextMap = BTreeMap<String, BTreeSet<String>>;

/// Checks the domain at `root` (a workspace root).
pub fn check(root: &Path) -> Vec<Problem> {
    let src = root.join(DOMAIN_SRC);
    let lib = src.join("lib.rs");
    let lib_relative = super::relative(root, &lib);
    let text = match std::fs::read_to_string(&lib) {
        Ok(text) => text,
        Err(error) => {
            return vec![Problem::new(
                lib_relative,
                None,
                format!("cannot read: {error}"),
            )];
        }
    };
    let (map, mut problems) = parse_map(&text);
    for problem in &mut problems {
        problem.path.clone_from(&lib_relative);
    }
    if map.is_empty() {
        return problems;
    }
    let re_exports = root_re_exports(&text, &map);
    problems.extend(check_layout(root, &src, &map));
    for context in map.keys() {
        let folder = src.join(context);
        for file in super::rust_files(&folder) {
            let Ok(source) = std::fs::read_to_string(&file) else {
                problems.push(Problem::new(
                    super::relative(root, &file),
                    None,
                    "cannot read the file",
                ));
                continue;
            };
            let relative = super::relative(root, &file);
            for (line, used, via) in references(&source, &map, &re_exports) {
                if !may_use(&map, context, &used) {
                    let via = via.map_or_else(String::new, |name| {
                        format!(" (through the crate root's re-export `crate::{name}`)")
                    });
                    problems.push(Problem::new(
                        &relative,
                        Some(line),
                        format!(
                            "forbidden edge {context} -> {used}{via}: the context map in \
                             {DOMAIN_SRC}/lib.rs does not let `{context}` use `{used}`"
                        ),
                    ));
                }
            }
        }
    }
    problems
}

/// Whether `from` may use `to`.
fn may_use(map: &ContextMap, from: &str, to: &str) -> bool {
    from == to
        || (to == KERNEL && from != KERNEL)
        || map.get(from).is_some_and(|allowed| allowed.contains(to))
}

/// Parses the `| context | may use |` table out of the crate docs. The
/// problems carry line numbers of `lib.rs` (their path is filled in by
/// the caller).
pub fn parse_map(lib: &str) -> (ContextMap, Vec<Problem>) {
    let mut map = ContextMap::new();
    let mut problems = Vec::new();
    let mut rows: Vec<(usize, String, String)> = Vec::new();
    let mut in_table = false;
    for (index, line) in lib.lines().enumerate() {
        let Some(doc) = line.trim_start().strip_prefix("//!") else {
            if in_table {
                break;
            }
            continue;
        };
        let doc = doc.trim();
        if !doc.starts_with('|') {
            if in_table {
                break;
            }
            continue;
        }
        let cells: Vec<String> = doc
            .trim_matches('|')
            .split('|')
            .map(|cell| cell.trim().to_owned())
            .collect();
        if !in_table {
            let header: Vec<String> = cells.iter().map(|cell| cell.to_lowercase()).collect();
            in_table = header.len() == 2 && header[0] == "context" && header[1] == "may use";
            continue;
        }
        if cells
            .iter()
            .all(|cell| cell.chars().all(|c| matches!(c, '-' | ':' | ' ')))
        {
            continue;
        }
        if cells.len() != 2 {
            problems.push(Problem::new(
                "",
                Some(index + 1),
                "a context map row needs exactly two cells: context and may use",
            ));
            continue;
        }
        rows.push((index + 1, cells[0].clone(), cells[1].clone()));
    }
    if !in_table {
        problems.push(Problem::new(
            "",
            None,
            "no context map: expected a doc table `//! | context | may use |`",
        ));
        return (map, problems);
    }
    let mut lines = BTreeMap::new();
    for (line, context, allowed) in rows {
        let context = context.trim_matches('`').to_owned();
        if map.contains_key(&context) {
            problems.push(Problem::new(
                "",
                Some(line),
                format!("context `{context}` has two rows in the context map"),
            ));
        }
        map.insert(context.clone(), parse_allowed(&allowed));
        lines.insert(context, line);
    }
    if map.get(KERNEL).is_some_and(|allowed| !allowed.is_empty()) {
        problems.push(Problem::new(
            "",
            lines.get(KERNEL).copied(),
            "`kernel` may use nothing: it is the vocabulary every context shares",
        ));
    }
    for (context, allowed) in &map {
        for name in allowed {
            if !map.contains_key(name) {
                problems.push(Problem::new(
                    "",
                    lines.get(context).copied(),
                    format!("`{context}` may use `{name}`, which has no row in the context map"),
                ));
            }
        }
    }
    (map, problems)
}

/// The names in a `may use` cell: comma-separated, `nothing` for none,
/// parenthesised notes dropped.
fn parse_allowed(cell: &str) -> BTreeSet<String> {
    let mut without_notes = String::new();
    let mut depth = 0_usize;
    for c in cell.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            c if depth == 0 => without_notes.push(c),
            _ => {}
        }
    }
    without_notes
        .split(',')
        .map(|name| name.trim().trim_matches('`').trim())
        .filter(|name| !name.is_empty() && !name.eq_ignore_ascii_case("nothing"))
        .map(str::to_owned)
        .collect()
}

/// Names the crate root re-exports from a context (`pub use contacts::{A, B};`
/// gives `A` and `B` from `contacts`), so `crate::A` counts as an edge.
fn root_re_exports(lib: &str, map: &ContextMap) -> BTreeMap<String, String> {
    let tokens = tokens(lib);
    let mut names = BTreeMap::new();
    let mut i = 0;
    while i + 3 < tokens.len() {
        let is_pub_use = tokens[i].token == Token::Ident("pub".to_owned())
            && tokens[i + 1].token == Token::Ident("use".to_owned());
        let context = match &tokens[i + 2].token {
            Token::Ident(name) if is_pub_use && map.contains_key(name) => name.clone(),
            _ => {
                i += 1;
                continue;
            }
        };
        // Each item's last identifier is the name it is exported under
        // (`a::B` gives `B`, `B as C` gives `C`), up to the `;`.
        let mut depth = 0_usize;
        let mut last: Option<String> = None;
        let mut j = i + 3;
        while let Some(lexed) = tokens.get(j) {
            match &lexed.token {
                Token::Ident(name) => last = Some(name.clone()),
                Token::Open => depth += 1,
                Token::Comma | Token::Close | Token::Semi => {
                    if let Some(name) = last.take()
                        && name != "self"
                    {
                        names.insert(name, context.clone());
                    }
                    if lexed.token == Token::Close {
                        depth = depth.saturating_sub(1);
                    }
                    if lexed.token == Token::Semi && depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            j += 1;
        }
        i = j;
    }
    names
}

/// The contexts a source file refers to through `crate::`, with lines and,
/// for a path through a root re-export, the re-exported name.
fn references(
    source: &str,
    map: &ContextMap,
    re_exports: &BTreeMap<String, String>,
) -> Vec<(usize, String, Option<String>)> {
    let tokens = tokens(source);
    let mut found = Vec::new();
    let mut resolve = |lexed: &Lexed| {
        if let Token::Ident(name) = &lexed.token {
            if map.contains_key(name) {
                found.push((lexed.line, name.clone(), None));
            } else if let Some(context) = re_exports.get(name) {
                found.push((lexed.line, context.clone(), Some(name.clone())));
            }
        }
    };
    for (i, lexed) in tokens.iter().enumerate() {
        if lexed.token != Token::Ident("crate".to_owned())
            || tokens.get(i + 1).map(|next| &next.token) != Some(&Token::PathSep)
        {
            continue;
        }
        match tokens.get(i + 2) {
            Some(next) if next.token == Token::Open => {
                // `crate::{a::X, b, c::{Y, Z}}`: the first segment of each
                // item at the top level of the tree.
                let mut depth = 0_usize;
                let mut item_start = true;
                for inner in &tokens[i + 2..] {
                    match &inner.token {
                        Token::Open => {
                            depth += 1;
                            item_start = depth == 1;
                        }
                        Token::Close => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        Token::Comma if depth == 1 => item_start = true,
                        Token::Ident(_) if depth == 1 && item_start => {
                            resolve(inner);
                            item_start = false;
                        }
                        _ if depth == 1 => item_start = false,
                        _ => {}
                    }
                }
            }
            Some(next) => resolve(next),
            None => {}
        }
    }
    found
}

/// The crate root holds `lib.rs` and folders only, and every folder is a
/// context of the map; every context of the map has its folder.
fn check_layout(root: &Path, src: &Path, map: &ContextMap) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(src)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .collect();
    entries.sort();
    let mut folders = BTreeSet::new();
    for path in entries {
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        if path.is_dir() {
            if !map.contains_key(&name) {
                problems.push(Problem::new(
                    super::relative(root, &path),
                    None,
                    format!(
                        "context folder `{name}` has no row in the context map in \
                         {DOMAIN_SRC}/lib.rs"
                    ),
                ));
            }
            folders.insert(name);
        } else if name != "lib.rs" {
            problems.push(Problem::new(
                super::relative(root, &path),
                None,
                "the crate root holds only lib.rs and context folders; move this file into \
                 its context",
            ));
        }
    }
    for context in map.keys() {
        if !folders.contains(context) {
            problems.push(Problem::new(
                super::relative(root, &src.join("lib.rs")),
                None,
                format!(
                    "the context map lists `{context}`, but {DOMAIN_SRC}/{context}/ does not exist"
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

    const LIB: &str = "\
//! The domain.
//!
//! | context    | may use                         |
//! |------------|---------------------------------|
//! | `kernel`   | nothing                         |
//! | `identity` | kernel                          |
//! | `tiers`    | identity, contacts (tags, routing) |
//! | `contacts` | `identity`                      |
//!
//! Prose after the table.

pub mod kernel;
pub mod identity;
pub mod tiers;
pub mod contacts;

pub use contacts::{Contact, tag::Tag as ContactTag};
pub use kernel::Error;
";

    /// A domain with the map above and a folder per context.
    fn domain() -> Tree {
        let tree = Tree::new();
        tree.file(&format!("{DOMAIN_SRC}/lib.rs"), LIB);
        for context in ["kernel", "identity", "tiers", "contacts"] {
            tree.file(
                &format!("{DOMAIN_SRC}/{context}/mod.rs"),
                "//! A context.\n",
            );
        }
        tree
    }

    fn found(tree: &Tree) -> Vec<String> {
        check(tree.root()).iter().map(ToString::to_string).collect()
    }

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn the_table_is_read_with_notes_backticks_and_nothing() {
        let (map, problems) = parse_map(LIB);
        assert_eq!(problems, []);
        assert_eq!(
            map,
            ContextMap::from([
                ("kernel".to_owned(), set(&[])),
                ("identity".to_owned(), set(&["kernel"])),
                ("tiers".to_owned(), set(&["identity", "contacts"])),
                ("contacts".to_owned(), set(&["identity"])),
            ])
        );
    }

    #[test]
    fn a_missing_table_or_a_kernel_with_edges_is_a_problem() {
        let (_, problems) = parse_map("//! No table here.\n");
        assert_eq!(problems.len(), 1, "{problems:?}");
        let (_, problems) = parse_map(
            "//! | context | may use |\n//! |---|---|\n//! | kernel | contacts |\n//! | contacts | nothing |\n",
        );
        assert_eq!(
            problems
                .iter()
                .map(|p| p.message.clone())
                .collect::<Vec<_>>(),
            ["`kernel` may use nothing: it is the vocabulary every context shares"]
        );
        let (_, problems) =
            parse_map("//! | context | may use |\n//! |---|---|\n//! | tiers | contcts |\n");
        assert_eq!(
            problems
                .iter()
                .map(|p| p.message.clone())
                .collect::<Vec<_>>(),
            ["`tiers` may use `contcts`, which has no row in the context map"]
        );
    }

    #[test]
    fn allowed_edges_pass() {
        let tree = domain();
        tree.file(
            &format!("{DOMAIN_SRC}/tiers/service.rs"),
            "use crate::kernel::Error;\nuse crate::{contacts::Contact, identity};\nuse crate::tiers::Tier;\n",
        )
        .file(
            &format!("{DOMAIN_SRC}/identity/key.rs"),
            "fn f() -> crate::kernel::Error { todo!() }\n",
        );
        assert_eq!(found(&tree), Vec::<String>::new());
    }

    #[test]
    fn a_forbidden_edge_is_named_with_file_line_and_edge() {
        let tree = domain();
        tree.file(
            &format!("{DOMAIN_SRC}/identity/matching.rs"),
            "//! Matching.\n\nuse crate::kernel::Error;\nuse crate::contacts::Contact;\n",
        );
        assert_eq!(
            found(&tree),
            [
                "crates/crm-domain/src/identity/matching.rs:4: forbidden edge identity -> contacts: \
              the context map in crates/crm-domain/src/lib.rs does not let `identity` use `contacts`"
            ]
        );
    }

    #[test]
    fn edges_in_use_trees_expressions_and_re_exports_count() {
        let tree = domain();
        tree.file(
            &format!("{DOMAIN_SRC}/contacts/service.rs"),
            "use crate::{\n    kernel::Error,\n    tiers::{Tier, TierId},\n};\n\
             fn f() { let _ = crate::tiers::rank(); }\n\
             fn g(_: crate::kernel::Id) {}\n",
        )
        .file(
            &format!("{DOMAIN_SRC}/kernel/ids.rs"),
            "use crate::Contact;\nuse crate::ContactTag;\nuse crate::Error;\n",
        );
        let problems: Vec<(String, Option<usize>)> = check(tree.root())
            .into_iter()
            .map(|problem| (problem.path.display().to_string(), problem.line))
            .collect();
        assert_eq!(
            problems,
            [
                (
                    "crates/crm-domain/src/contacts/service.rs".to_owned(),
                    Some(3)
                ),
                (
                    "crates/crm-domain/src/contacts/service.rs".to_owned(),
                    Some(5)
                ),
                ("crates/crm-domain/src/kernel/ids.rs".to_owned(), Some(1)),
                ("crates/crm-domain/src/kernel/ids.rs".to_owned(), Some(2)),
            ]
        );
        assert!(
            found(&tree)[2].contains(
                "forbidden edge kernel -> contacts (through the crate root's re-export \
                 `crate::Contact`)"
            ),
            "{:?}",
            found(&tree)
        );
    }

    #[test]
    fn comments_and_strings_do_not_count() {
        let tree = domain();
        tree.file(
            &format!("{DOMAIN_SRC}/identity/key.rs"),
            "//! Unlike crate::contacts, this needs nothing.\n\
             /// See [`crate::contacts::Contact`].\n\
             /* use crate::tiers::Tier; */\n\
             const S: &str = \"crate::contacts\";\n",
        );
        assert_eq!(found(&tree), Vec::<String>::new());
    }

    #[test]
    fn the_root_holds_only_lib_and_listed_context_folders() {
        let tree = domain();
        tree.folder(&format!("{DOMAIN_SRC}/search"))
            .file(&format!("{DOMAIN_SRC}/helpers.rs"), "")
            .file(
                &format!("{DOMAIN_SRC}/search/mod.rs"),
                "use crate::tiers::Tier;\n",
            );
        std::fs::remove_dir_all(tree.root().join(DOMAIN_SRC).join("tiers"))
            .expect("remove the tiers folder");
        assert_eq!(
            found(&tree),
            [
                "crates/crm-domain/src/helpers.rs: the crate root holds only lib.rs and context \
                 folders; move this file into its context",
                "crates/crm-domain/src/search: context folder `search` has no row in the context \
                 map in crates/crm-domain/src/lib.rs",
                "crates/crm-domain/src/lib.rs: the context map lists `tiers`, but \
                 crates/crm-domain/src/tiers/ does not exist",
            ]
        );
    }
}
