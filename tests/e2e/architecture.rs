//! The hexagon's dependency rules, read from each crate's `Cargo.toml` (as
//! rust-analyzer's tidy tests do), so a forbidden dependency fails the build
//! instead of waiting for a reviewer to notice.

use std::path::Path;

/// The names in a manifest's `[dependencies]` table (not dev or build).
fn dependencies(krate: &str) -> Vec<String> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(krate)
        .join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap_or_else(|error| panic!("{}: {error}", manifest.display()));
    let mut in_dependencies = false;
    let mut names = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_dependencies = line == "[dependencies]";
            continue;
        }
        if in_dependencies && !line.is_empty() && !line.starts_with('#') {
            let name = line.split(['=', '.', ' ']).next().unwrap_or_default();
            names.push(name.to_owned());
        }
    }
    names
}

fn assert_none_of(krate: &str, forbidden: &[&str]) {
    let found = dependencies(krate);
    assert!(
        !found.is_empty(),
        "{krate} has no [dependencies] table: the reader is broken"
    );
    for name in forbidden {
        assert!(
            !found.iter().any(|dependency| dependency == name),
            "{krate} must not depend on {name}"
        );
    }
}

#[test]
fn the_domain_depends_on_no_adapter_and_no_io_crate() {
    assert_none_of(
        "crates/crm-domain",
        &[
            "crm-store",
            "crm-grpc",
            "crm-proto",
            "crm-server",
            "crm-migrations",
            "crm-blob",
            "object_store",
            "tonic",
            "prost",
            "sea-orm",
            "sqlx",
            "tokio",
        ],
    );
}

#[test]
fn the_grpc_adapter_never_depends_on_the_store() {
    assert_none_of(
        "crates/crm-grpc",
        &[
            "crm-store",
            "crm-blob",
            "object_store",
            "crm-migrations",
            "sea-orm",
            "sqlx",
            "crm-server",
        ],
    );
}

#[test]
fn the_blob_adapter_knows_only_the_domain() {
    assert_none_of(
        "crates/crm-blob",
        &[
            "crm-store",
            "crm-grpc",
            "crm-proto",
            "tonic",
            "sea-orm",
            "crm-server",
        ],
    );
}

#[test]
fn the_store_never_depends_on_the_api() {
    assert_none_of(
        "crates/crm-store",
        &["crm-grpc", "crm-proto", "tonic", "prost", "crm-server"],
    );
}

#[test]
fn generated_code_stands_alone() {
    assert_none_of(
        "crates/crm-proto",
        &["crm-domain", "crm-store", "crm-grpc", "crm-server"],
    );
}

#[test]
fn only_the_composition_root_joins_both_adapters() {
    let server = dependencies("crates/crm-server");
    assert!(
        server.iter().any(|name| name == "crm-store")
            && server.iter().any(|name| name == "crm-grpc")
    );
}
