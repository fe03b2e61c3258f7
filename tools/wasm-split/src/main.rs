//! `berth-wasm-split INPUT.wasm PKG_DIR`: splits the wasm that cargo built for the browser at
//! the split points of Leptos's lazy routes (`app/src/pages/mod.rs`), as `cargo leptos --split`
//! does, for `scripts/build.sh` (which builds without cargo-leptos).
//!
//! Writes into PKG_DIR:
//! - `berth_split.wasm`: the main module, for wasm-bindgen (`--keep-lld-exports`);
//! - one `.wasm` per split module and chunk of code they share, loaded on demand;
//! - the loader `__wasm_split.______________________.js`, the name Leptos's `HydrationScripts`
//!   expects (its placeholder hash: files are not renamed by content here);
//! - `__wasm_split_manifest.json`: split module → the files it needs, from which the server
//!   preloads the current page's modules beside the main one.
//!
//! The input must be linked with `-Clink-args=--emit-relocs` (`.cargo/config.toml`).

use std::path::PathBuf;

use anyhow::{bail, Context};

/// The loader's name as the main module imports it, relative to `berth.js`.
const LOADER: &str = "./__wasm_split.______________________.js";
/// Where the loader imports the main module's exports from (the site serves `pkg/` there).
const MAIN_MODULE: &str = "/pkg/berth.js";

fn main() -> anyhow::Result<()> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [input, pkg_dir] = args.as_slice() else {
        bail!("usage: berth-wasm-split INPUT.wasm PKG_DIR");
    };
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

    let manifest = serde_json::to_string_pretty(&split.prefetch_map)?;
    std::fs::write(pkg_dir.join("__wasm_split_manifest.json"), manifest)?;
    println!(
        "split {} into the main module and {} modules loaded on demand",
        input.display(),
        split.split_modules.len()
    );
    Ok(())
}
