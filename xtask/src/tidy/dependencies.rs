//! The hexagon's dependency rules (docs/ARCHITECTURE: "Dependency
//! direction, and it never reverses"), read from each member's
//! `Cargo.toml`. Only normal dependencies count (`[dependencies]`,
//! `[dependencies.<name>]` and `[target.'…'.dependencies]`): tests and
//! build scripts may use more.

use std::path::Path;

use super::Problem;

/// A crate and the dependencies it must never have.
struct Rule {
    /// The member's folder, relative to the workspace root.
    krate: &'static str,
    /// Why, for the message.
    reason: &'static str,
    /// Dependency names that break the rule.
    forbidden: &'static [&'static str],
}

/// I/O crates: the domain stays pure, so none of these.
const IO_CRATES: &[&str] = &[
    "tonic",
    "prost",
    "sea-orm",
    "sqlx",
    "tokio",
    "object_store",
    "reqwest",
];

/// Every rule except "only the composition root joins both adapters",
/// which [`check`] applies to all members.
const RULES: &[Rule] = &[
    Rule {
        krate: "crates/crm-domain",
        reason: "the domain depends on no crate of ours and no I/O crate",
        forbidden: &[
            "crm-store",
            "crm-grpc",
            "crm-proto",
            "crm-server",
            "crm-migrations",
            "crm-blob",
            "crm-bench",
        ],
    },
    Rule {
        krate: "crates/crm-grpc",
        reason: "the gRPC adapter never depends on the store",
        forbidden: &[
            "crm-store",
            "crm-blob",
            "object_store",
            "crm-migrations",
            "sea-orm",
            "sqlx",
            "crm-server",
        ],
    },
    Rule {
        krate: "crates/crm-blob",
        reason: "the blob adapter knows only the domain",
        forbidden: &[
            "crm-store",
            "crm-grpc",
            "crm-proto",
            "tonic",
            "sea-orm",
            "crm-server",
        ],
    },
    Rule {
        krate: "crates/crm-store",
        reason: "the store never depends on the API",
        forbidden: &["crm-grpc", "crm-proto", "tonic", "prost", "crm-server"],
    },
    Rule {
        krate: "crates/crm-proto",
        reason: "generated code stands alone",
        forbidden: &["crm-domain", "crm-store", "crm-grpc", "crm-server"],
    },
];

/// The composition root: the only member that depends on both adapters.
const COMPOSITION_ROOT: &str = "crates/crm-server";

/// Checks every rule on the workspace at `root`.
pub fn check(root: &Path) -> Vec<Problem> {
    let mut problems = Vec::new();
    for rule in RULES {
        problems.extend(check_rule(root, rule));
    }
    problems.extend(check_domain_is_pure(root));
    problems.extend(check_composition_root(root));
    problems
}

/// The names in a manifest's normal dependency tables, with their lines.
fn dependencies(text: &str) -> Vec<(String, usize)> {
    let mut in_dependencies = false;
    let mut names = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[') {
            let header = header.trim_end_matches(']').trim();
            // `[dependencies.foo]` names one dependency in its header.
            if let Some(name) = header.strip_prefix("dependencies.") {
                names.push((name.trim_matches('"').to_owned(), index + 1));
                in_dependencies = false;
            } else {
                in_dependencies = header == "dependencies"
                    || (header.starts_with("target.") && header.ends_with(".dependencies"));
            }
            continue;
        }
        if in_dependencies && !line.is_empty() && !line.starts_with('#') {
            let name = line.split(['=', '.', ' ']).next().unwrap_or_default();
            names.push((name.trim_matches('"').to_owned(), index + 1));
        }
    }
    names
}

/// Reads the dependencies of the member in `krate`, or says why it cannot.
fn read(root: &Path, krate: &str) -> Result<(std::path::PathBuf, Vec<(String, usize)>), Problem> {
    let manifest = root.join(krate).join("Cargo.toml");
    let relative = super::relative(root, &manifest);
    let text = std::fs::read_to_string(&manifest)
        .map_err(|error| Problem::new(&relative, None, format!("cannot read: {error}")))?;
    Ok((relative, dependencies(&text)))
}

fn check_rule(root: &Path, rule: &Rule) -> Vec<Problem> {
    let (manifest, found) = match read(root, rule.krate) {
        Ok(read) => read,
        Err(problem) => return vec![problem],
    };
    found
        .iter()
        .filter(|(name, _)| rule.forbidden.contains(&name.as_str()))
        .map(|(name, line)| {
            Problem::new(
                &manifest,
                Some(*line),
                format!("depends on `{name}`: {}", rule.reason),
            )
        })
        .collect()
}

/// No crate of ours (`crm-*`) and no I/O crate in the domain.
fn check_domain_is_pure(root: &Path) -> Vec<Problem> {
    let krate = "crates/crm-domain";
    let (manifest, found) = match read(root, krate) {
        Ok(read) => read,
        Err(problem) => return vec![problem],
    };
    let listed = RULES
        .iter()
        .find(|rule| rule.krate == krate)
        .map_or(&[][..], |rule| rule.forbidden);
    found
        .iter()
        // Names the rule table lists were reported by `check_rule` already.
        .filter(|(name, _)| !listed.contains(&name.as_str()))
        .filter(|(name, _)| name.starts_with("crm-") || IO_CRATES.contains(&name.as_str()))
        .map(|(name, line)| {
            Problem::new(
                &manifest,
                Some(*line),
                format!(
                    "depends on `{name}`: the domain depends on no crate of ours and no I/O crate"
                ),
            )
        })
        .collect()
}

/// `crm-server` depends on both adapters, and no other member under
/// `crates/` or `migrations/` does (`tests/` and `xtask/` may).
fn check_composition_root(root: &Path) -> Vec<Problem> {
    let joins_both = |found: &[(String, usize)]| {
        found.iter().any(|(name, _)| name == "crm-store")
            && found.iter().any(|(name, _)| name == "crm-grpc")
    };
    let mut problems = Vec::new();
    match read(root, COMPOSITION_ROOT) {
        Ok((manifest, found)) if !joins_both(&found) => problems.push(Problem::new(
            manifest,
            None,
            "the composition root must depend on both adapters, crm-store and crm-grpc",
        )),
        Ok(_) => {}
        Err(problem) => problems.push(problem),
    }
    let mut members: Vec<String> = std::fs::read_dir(root.join("crates"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.path().join("Cargo.toml").is_file())
        .map(|entry| format!("crates/{}", entry.file_name().to_string_lossy()))
        .collect();
    members.push("migrations".to_owned());
    members.sort();
    for member in members {
        if member == COMPOSITION_ROOT || !root.join(&member).join("Cargo.toml").is_file() {
            continue;
        }
        if let Ok((manifest, found)) = read(root, &member)
            && joins_both(&found)
        {
            problems.push(Problem::new(
                manifest,
                None,
                format!("depends on both adapters: only {COMPOSITION_ROOT} may"),
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step::workspace_root;
    use crate::tidy::fixture::Tree;

    /// The problems the rules find in the real workspace for `krate`.
    fn real(krate: &str) -> Vec<String> {
        let root = workspace_root();
        let rule = RULES
            .iter()
            .find(|rule| rule.krate == krate)
            .expect("a rule for the crate");
        let found = read(root, krate).expect("the manifest reads").1;
        assert!(
            !found.is_empty(),
            "{krate} has no [dependencies] table: the reader is broken"
        );
        check_rule(root, rule)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn the_domain_depends_on_no_adapter_and_no_io_crate() {
        assert_eq!(real("crates/crm-domain"), Vec::<String>::new());
        let pure: Vec<String> = check_domain_is_pure(workspace_root())
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(pure, Vec::<String>::new());
    }

    #[test]
    fn the_grpc_adapter_never_depends_on_the_store() {
        assert_eq!(real("crates/crm-grpc"), Vec::<String>::new());
    }

    #[test]
    fn the_blob_adapter_knows_only_the_domain() {
        assert_eq!(real("crates/crm-blob"), Vec::<String>::new());
    }

    #[test]
    fn the_store_never_depends_on_the_api() {
        assert_eq!(real("crates/crm-store"), Vec::<String>::new());
    }

    #[test]
    fn generated_code_stands_alone() {
        assert_eq!(real("crates/crm-proto"), Vec::<String>::new());
    }

    #[test]
    fn only_the_composition_root_joins_both_adapters() {
        let problems: Vec<String> = check_composition_root(workspace_root())
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(problems, Vec::<String>::new());
    }

    #[test]
    fn reads_every_form_of_a_normal_dependency_and_skips_the_others() {
        let manifest = "\
[package]
name = \"x\"

[dependencies]
# a comment
tokio.workspace = true
sea-orm = { workspace = true }
\"quoted\" = \"1\"

[dependencies.tonic]
version = \"1\"

[target.'cfg(unix)'.dependencies]
sqlx = \"1\"

[dev-dependencies]
prost = \"1\"

[build-dependencies]
protox = \"1\"
";
        let names: Vec<(String, usize)> = dependencies(manifest);
        assert_eq!(
            names,
            [
                ("tokio".to_owned(), 6),
                ("sea-orm".to_owned(), 7),
                ("quoted".to_owned(), 8),
                ("tonic".to_owned(), 10),
                ("sqlx".to_owned(), 14),
            ]
        );
    }

    /// A workspace whose members follow the rules, with `extra` written over it.
    fn workspace(extra: &[(&str, &str)]) -> Tree {
        let tree = Tree::new();
        let manifest = |deps: &str| format!("[package]\nname = \"x\"\n\n[dependencies]\n{deps}\n");
        for (krate, deps) in [
            ("crates/crm-domain", "thiserror.workspace = true"),
            (
                "crates/crm-grpc",
                "crm-domain.workspace = true\ntonic = \"1\"",
            ),
            ("crates/crm-blob", "crm-domain.workspace = true"),
            ("crates/crm-store", "crm-domain.workspace = true"),
            ("crates/crm-proto", "prost = \"1\""),
            (
                "crates/crm-server",
                "crm-store.workspace = true\ncrm-grpc.workspace = true",
            ),
            ("migrations", "sea-orm = \"1\""),
        ] {
            tree.file(&format!("{krate}/Cargo.toml"), &manifest(deps));
        }
        for (krate, deps) in extra {
            tree.file(&format!("{krate}/Cargo.toml"), &manifest(deps));
        }
        tree
    }

    fn found(tree: &Tree) -> Vec<String> {
        check(tree.root()).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_workspace_that_keeps_the_rules_passes() {
        assert_eq!(found(&workspace(&[])), Vec::<String>::new());
    }

    #[test]
    fn a_forbidden_dependency_is_named_with_its_line_and_reason() {
        let tree = workspace(&[(
            "crates/crm-grpc",
            "crm-domain.workspace = true\ncrm-store.workspace = true",
        )]);
        assert_eq!(
            found(&tree),
            ["crates/crm-grpc/Cargo.toml:6: depends on `crm-store`: \
              the gRPC adapter never depends on the store"]
        );
    }

    #[test]
    fn the_domain_may_not_take_any_crate_of_ours_or_an_io_crate() {
        let tree = workspace(&[(
            "crates/crm-domain",
            "crm-reports.workspace = true\nreqwest = \"1\"\nregex = \"1\"",
        )]);
        assert_eq!(
            found(&tree),
            [
                "crates/crm-domain/Cargo.toml:5: depends on `crm-reports`: \
                 the domain depends on no crate of ours and no I/O crate",
                "crates/crm-domain/Cargo.toml:6: depends on `reqwest`: \
                 the domain depends on no crate of ours and no I/O crate",
            ]
        );
    }

    #[test]
    fn only_the_server_may_join_both_adapters() {
        let tree = workspace(&[
            (
                "crates/crm-mcp",
                "crm-store.workspace = true\ncrm-grpc.workspace = true",
            ),
            ("crates/crm-server", "crm-grpc.workspace = true"),
        ]);
        assert_eq!(
            found(&tree),
            [
                "crates/crm-server/Cargo.toml: the composition root must depend on both \
                 adapters, crm-store and crm-grpc",
                "crates/crm-mcp/Cargo.toml: depends on both adapters: only crates/crm-server may",
            ]
        );
    }
}
