//! Cheap checks of the architecture invariants in ARCHITECTURE.md, run as ordinary tests.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

fn sources(krate: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    rust_files(&repo().join(krate).join("src"), &mut found);
    found
}

#[test]
fn every_module_opens_with_a_doc_comment() {
    let mut undocumented = Vec::new();
    for krate in ["core", "app", "frontend", "server", "tools/wasm-split"] {
        for file in sources(krate) {
            let text = std::fs::read_to_string(&file).unwrap();
            if !text.trim_start().starts_with("//!") {
                undocumented.push(file.strip_prefix(repo()).unwrap().display().to_string());
            }
        }
    }
    assert!(
        undocumented.is_empty(),
        "modules without a `//!` doc: {undocumented:?}"
    );
}

#[test]
fn core_depends_only_on_pure_crates() {
    let manifest = std::fs::read_to_string(repo().join("core/Cargo.toml")).unwrap();
    let dependencies = manifest
        .split("[dependencies]")
        .nth(1)
        .unwrap()
        .split("\n[")
        .next()
        .unwrap()
        .lines()
        .filter_map(|line| line.split(['.', '=', ' ']).next())
        .filter(|name| !name.is_empty() && !name.starts_with('#'))
        .map(str::to_owned)
        .collect::<Vec<_>>();
    let allowed = [
        "serde",
        "serde_json",
        "thiserror",
        "sha2",
        "hex",
        "starlark",
        "starlark_syntax",
        "allocative",
        "anyhow",
        "unicode-properties",
        "aho-corasick",
        "arbitrary",
        "rand",
        "rand_chacha",
    ];
    let impure: Vec<_> = dependencies
        .iter()
        .filter(|d| !allowed.contains(&d.as_str()))
        .collect();
    assert!(
        impure.is_empty(),
        "core may only use pure crates; found {impure:?}"
    );
}

#[test]
fn core_does_no_io() {
    let forbidden = [
        "std::fs",
        "std::net",
        "std::env",
        "std::process",
        "SystemTime",
        "Instant::now",
        "tokio",
    ];
    for file in sources("core") {
        let text = std::fs::read_to_string(&file).unwrap();
        for word in forbidden {
            assert!(!text.contains(word), "{} uses {word}", file.display());
        }
    }
}

#[test]
fn frontend_only_hydrates() {
    let files = sources("frontend");
    assert_eq!(files.len(), 1, "frontend is one file: {files:?}");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert_eq!(
        text.matches("pub fn").count(),
        1,
        "frontend exports only hydrate()"
    );
    assert!(text.contains("pub fn hydrate()"));
}

#[test]
fn pages_create_resources_through_page_resource() {
    // `Resource::new` decodes with `from_str`, server functions with `from_slice`: one resource
    // made the other way puts every type it carries in the wasm twice (app/src/resource.rs).
    for file in sources("app") {
        let relative = file.strip_prefix(repo()).unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            !text.contains("Resource::new("),
            "{relative} makes a resource with Resource::new; use resource::page_resource"
        );
    }
}

#[test]
fn sql_lives_in_the_store_module_only() {
    for file in sources("server") {
        let relative = file.strip_prefix(repo()).unwrap().to_string_lossy().into_owned();
        if relative.starts_with("server/src/db/") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for word in ["sqlx::query", "query_as(", "SqlitePool"] {
            assert!(
                !text.contains(word),
                "{relative} speaks SQL ({word}); the store module owns it"
            );
        }
    }
}

#[test]
fn routes_are_added_only_with_their_access_rule() {
    // The router is built from `Endpoint`s (path, method, access rule, handler) in
    // `http/mod.rs`; a `.route(` anywhere else would add a route the guard has no rule for.
    // One exception: `--metrics-listen`'s own router (`http/health.rs`), `GET /metrics` alone
    // and unauthenticated by design, on an address of its own (tested in `metrics.rs`).
    for file in sources("server") {
        let relative = file.strip_prefix(repo()).unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&file).unwrap();
        let routes = text.matches(".route(").count();
        let allowed =
            usize::from(relative == "server/src/http/mod.rs" || relative == "server/src/http/health.rs");
        assert!(routes <= allowed, "{relative} adds routes directly ({routes})");
    }
}

#[test]
fn both_databases_have_the_same_migrations() {
    let names = |dir: &str| {
        let mut names: Vec<String> = std::fs::read_dir(repo().join("migrations").join(dir))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        names("sqlite"),
        names("postgres"),
        "a migration is added to both databases"
    );
}
