//! The programs some tests run, found where `scripts/setup` puts them (`.venv/bin` in the
//! repository: schemathesis, and Node when the system's is too old), else on `PATH`.

use std::path::{Path, PathBuf};

/// `.venv/bin/NAME` under the repository when it exists, else `NAME` on `PATH`; `None` when
/// neither is there.
pub fn tool(name: &str) -> Option<PathBuf> {
    let local = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".venv/bin")
        .join(name);
    if local.exists() {
        return Some(local);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The Chromium the browser test drives: `CHROMIUM`, else Debian's package, else the build
/// `scripts/setup` links on Ubuntu (where the package is a snap).
pub fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    ["/usr/bin/chromium", "/usr/local/bin/chromium"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}
