//! A panic (in gatehouse, or in Pingora's threads) becomes one `error` line of the log, in its
//! format and through its redaction, instead of the standard hook's raw text on stderr, which
//! would break a JSON log and name the build machine's paths (`/home/…/.cargo/registry/…`).

use std::panic::PanicHookInfo;

/// Installed once the subscriber is: before that, a panic keeps the standard hook, which at
/// least prints it.
pub fn install() {
    std::panic::set_hook(Box::new(|info: &PanicHookInfo<'_>| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("(no message)");
        let location = info
            .location()
            .map(|l| format!("{}:{}", source_path(l.file()), l.line()))
            .unwrap_or_default();
        let thread = std::thread::current();
        tracing::error!(
            target: "panic",
            thread = thread.name().unwrap_or("unnamed"),
            location,
            // Debug-quoted: a panic message can hold text a client sent.
            panic = message,
            "a thread panicked"
        );
    }));
}

/// The part of a source path that means something on another machine: the crate and its file
/// (`pingora-core-0.9.1/src/…`) for a dependency, the file within the toolchain for the
/// standard library, the path as compiled (relative) for gatehouse itself.
fn source_path(file: &str) -> &str {
    if !file.starts_with('/') {
        return file;
    }
    for marker in ["/registry/src/", "/git/checkouts/"] {
        if let Some((_, rest)) = file.split_once(marker) {
            // `index.crates.io-<hash>/pingora-core-0.9.1/src/…`: drop the index directory.
            return rest.split_once('/').map_or(rest, |(_, krate)| krate);
        }
    }
    if let Some(library) = file.find("/library/") {
        return &file[library + 1..];
    }
    file.rsplit('/').next().unwrap_or(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_paths_lose_the_build_machine() {
        assert_eq!(source_path("src/gateway/proxy.rs"), "src/gateway/proxy.rs");
        assert_eq!(
            source_path(
                "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/pingora-core-0.9.1/src/apps/mod.rs"
            ),
            "pingora-core-0.9.1/src/apps/mod.rs"
        );
        assert_eq!(
            source_path("/rustc/59807616e/library/core/src/option.rs"),
            "library/core/src/option.rs"
        );
        assert_eq!(source_path("/home/dev/elsewhere/build.rs"), "build.rs");
    }
}
