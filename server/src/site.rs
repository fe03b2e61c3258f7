//! Finding the built web assets (`pkg/berth.js`, `pkg/berth_bg.wasm`, `pkg/berth.css`).
//!
//! They are looked up relative to the executable, not the working directory, so `berth`
//! works wherever it is started from: `site/` beside it (an installed layout), or `../site/`
//! (the layout `scripts/build.sh` produces inside the cargo target directory).

use std::path::{Path, PathBuf};

/// The file whose presence marks a built site.
const MARKER: &str = "pkg/berth.js";

#[derive(Debug, thiserror::Error)]
#[error(
    "the web assets were not found (looked for {MARKER} in {}); build them with `make build` \
     or point --site-root / BERTH_SITE_ROOT at them",
    .looked_in.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
)]
pub struct SiteNotFound {
    pub looked_in: Vec<PathBuf>,
}

pub fn locate_site_root(explicit: Option<&Path>) -> Result<PathBuf, SiteNotFound> {
    let candidates = match explicit {
        Some(path) => vec![path.to_owned()],
        None => beside_executable(),
    };
    candidates
        .iter()
        .find(|candidate| candidate.join(MARKER).is_file())
        .cloned()
        .ok_or(SiteNotFound {
            looked_in: candidates,
        })
}

fn beside_executable() -> Vec<PathBuf> {
    let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.canonicalize().ok())
        .and_then(|exe| exe.parent().map(Path::to_owned))
    else {
        return Vec::new();
    };
    let mut candidates = vec![exe_dir.join("site")];
    if let Some(parent) = exe_dir.parent() {
        candidates.push(parent.join("site"));
    }
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_root_must_hold_the_bundle() {
        let empty = tempfile::tempdir().unwrap();
        let error = locate_site_root(Some(empty.path())).unwrap_err();
        assert_eq!(error.looked_in, vec![empty.path().to_owned()]);
        assert!(error.to_string().contains("BERTH_SITE_ROOT"));

        std::fs::create_dir_all(empty.path().join("pkg")).unwrap();
        std::fs::write(empty.path().join(MARKER), "").unwrap();
        assert_eq!(locate_site_root(Some(empty.path())).unwrap(), empty.path());
    }
}
