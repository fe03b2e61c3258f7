//! Build tool of `scripts/build.sh`, which builds without cargo-leptos:
//!
//! - `berth-wasm-split split INPUT.wasm PKG_DIR` splits the wasm that cargo built for the
//!   browser at the split points of Leptos's lazy routes (`app/src/pages/mod.rs`), as
//!   `cargo leptos --split` does;
//! - `berth-wasm-split pack PKG_DIR`, once the modules are final (after wasm-opt), writes each
//!   page's modules into one file, its pack, and names the packs in the manifest.
//!
//! `split` writes into PKG_DIR:
//! - `berth_split.wasm`: the main module, for wasm-bindgen (`--keep-lld-exports`);
//! - one `.wasm` per split module and chunk of code they share, loaded on demand;
//! - the loader `__wasm_split.______________________.js`, the name Leptos's `HydrationScripts`
//!   expects (its placeholder hash: files are not renamed by content here), which fetches a
//!   module from the page's pack when it is in it (`pack_loader.js`);
//! - `__wasm_split_manifest.json`: split module → the files it needs, from which the server
//!   preloads the current page's modules beside the main one.
//!
//! `pack` writes `pack/<split module>.wasm` for each page's split module: a wasm file of custom
//! sections only, one per module it needs, named by the module's file name. The manifest then
//! names the pack alone, so the server preloads one file per page (`__wasm_split_modules.json`
//! keeps what `split` wrote). Leptos 0.8 emits that preload on some pages only (seen: Plans has
//! it, Snapshots does not), so the loader does not rely on it: it opens the pack of the first
//! page module it is asked for. Why packs: compressed as one file, a page's modules are 11–24 %
//! lighter than compressed one by one (issue 22's weight budget; ARCHITECTURE.md).
//!
//! The input must be linked with `-Clink-args=--emit-relocs` (`.cargo/config.toml`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context};

/// The loader's name as the main module imports it, relative to `berth.js`.
const LOADER: &str = "./__wasm_split.______________________.js";
/// Where the loader imports the main module's exports from (the site serves `pkg/` there).
const MAIN_MODULE: &str = "/pkg/berth.js";
/// Split module → the files (stems, in `PKG_DIR`) it needs; Leptos reads it to preload them.
const MANIFEST: &str = "__wasm_split_manifest.json";
/// The manifest as `split` wrote it, once `pack` has replaced it.
const MODULES: &str = "__wasm_split_modules.json";
/// What names a page's split module (a lazy route's view, `__{route}_route_view_{hash}`). Only
/// pages are packed, since the loader opens the pack of the first page only (`pack_loader.js`).
/// A module split inside a page (the editor's Matrix tab, checks, revision list, save) is left
/// out of the packed manifest: the server would preload every file it needs, most of them in the
/// page's pack already, where the loader fetches only those the page lacks.
const PAGE_MODULE: &str = "_route_view_";
/// How the generated loader fetches a module, and what fetches it instead (`pack_loader.js`).
const FETCH: &str = "fetch(new URL(";
const FETCH_MODULE: &str = "fetchModule(new URL(";

type Manifest = HashMap<String, Vec<String>>;

fn main() -> anyhow::Result<()> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    match args.as_slice() {
        [command, input, pkg_dir] if command.as_os_str() == "split" => split(input, pkg_dir),
        [command, pkg_dir] if command.as_os_str() == "pack" => pack(pkg_dir),
        _ => bail!("usage: berth-wasm-split split INPUT.wasm PKG_DIR | berth-wasm-split pack PKG_DIR"),
    }
}

fn split(input: &Path, pkg_dir: &Path) -> anyhow::Result<()> {
    let input_wasm = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    std::fs::create_dir_all(pkg_dir)?;
    let main_out = pkg_dir.join("berth_split.wasm");

    let mut options = wasm_split_cli_support::Options::new(&input_wasm);
    options.output_dir = pkg_dir;
    options.main_out_path = &main_out;
    options.link_name = LOADER;
    options.main_module = MAIN_MODULE;
    let split = wasm_split_cli_support::transform(options)
        .map_err(|error| anyhow::anyhow!("{error:?}"))
        .with_context(|| format!("splitting {}", input.display()))?;

    let loader = pkg_dir.join(LOADER);
    let generated = std::fs::read_to_string(&loader)?;
    std::fs::write(&loader, with_pack_loader(&generated, split.split_modules.len())?)?;
    write_json(&pkg_dir.join(MANIFEST), &split.prefetch_map)?;
    println!(
        "split {} into the main module and {} modules loaded on demand",
        input.display(),
        split.split_modules.len()
    );
    Ok(())
}

/// The generated loader, fetching each module through `fetchModule` (`pack_loader.js`). The
/// splitter's version is pinned; should its loader change, this fails rather than leave a
/// module fetched past the pack.
fn with_pack_loader(generated: &str, modules: usize) -> anyhow::Result<String> {
    let fetches = generated.matches(FETCH).count();
    ensure!(
        fetches == modules,
        "the split loader fetches {fetches} times for {modules} modules: not the loader pack_loader.js expects"
    );
    Ok(generated.replace(FETCH, FETCH_MODULE) + include_str!("pack_loader.js"))
}

fn pack(pkg_dir: &Path) -> anyhow::Result<()> {
    // Packing again (after `split`) starts from the split's manifest, kept aside the first time.
    if !pkg_dir.join(MODULES).exists() {
        std::fs::rename(pkg_dir.join(MANIFEST), pkg_dir.join(MODULES))
            .with_context(|| format!("moving {MANIFEST} aside: run `split` first"))?;
    }
    let manifest: Manifest = serde_json::from_slice(&std::fs::read(pkg_dir.join(MODULES))?)
        .with_context(|| format!("reading {MODULES}"))?;
    std::fs::create_dir_all(pkg_dir.join("pack"))?;
    let mut packed = Manifest::new();
    for (split_module, files) in &manifest {
        if !split_module.contains(PAGE_MODULE) {
            continue;
        }
        let mut modules = files
            .iter()
            .map(|file| {
                let name = format!("{file}.wasm");
                let data = std::fs::read(pkg_dir.join(&name)).with_context(|| format!("reading {name}"))?;
                Ok((name, data))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        // Smallest first: small modules are mostly alike (types, imports), and side by side
        // they compress better (−5 KB on the plan page, measured against the manifest's order).
        modules.sort_by_key(|(name, data)| (data.len(), name.clone()));
        let mut module = wasm_encoder::Module::new();
        for (name, data) in &modules {
            module.section(&wasm_encoder::CustomSection {
                name: name.as_str().into(),
                data: data.as_slice().into(),
            });
        }
        let stem = format!("pack/{split_module}");
        std::fs::write(pkg_dir.join(format!("{stem}.wasm")), module.finish())?;
        packed.insert(split_module.clone(), vec![stem]);
    }
    write_json(&pkg_dir.join(MANIFEST), &packed)?;
    println!("packed the modules of {} pages, one file each", packed.len());
    Ok(())
}

/// JSON sorted by key, so that a build writes the same file twice.
fn write_json(path: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    let sorted: BTreeMap<_, _> = manifest.iter().collect();
    std::fs::write(path, serde_json::to_string_pretty(&sorted)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fetch_of_a_module_goes_through_the_pack() {
        let generated = "const a = () => { const src = fetch(new URL(\"./a.wasm\", import.meta.url)); };\n\
                         const b = () => { const src = fetch(new URL(\"./b.wasm\", import.meta.url)); };\n";
        let loader = with_pack_loader(generated, 2).unwrap();
        assert_eq!(loader.matches(FETCH_MODULE).count(), 2);
        assert!(!loader.contains("= fetch(new URL("), "{loader}");
        assert!(loader.contains("function fetchModule(url)"));
    }

    #[test]
    fn a_loader_that_fetches_otherwise_is_refused() {
        let error = with_pack_loader("const src = fetch(url);", 1).unwrap_err();
        assert!(
            error.to_string().contains("fetches 0 times for 1 modules"),
            "{error}"
        );
    }
}
