//! The web UI's files (spec 06 §3.1, spec 01 §2.1.4): embedded in the binary by `build.rs`
//! (`static/app/**`), or read from `--static-dir <dir>/app` for development. Owns the
//! asset-vs-shell decision of spec 01 §2.1.4, content types, ETags and the shell's
//! run-time base: the shell gets a *relative* `<base href>` computed from the request
//! path's depth, so the same files work at `/app/…` daemon-direct and at `/agent/app/…`
//! behind the hub (which strips `/agent`), deep links included, with no inline script.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/app_assets.rs"));
}

/// The marker in `index.html` that the server replaces with the request's relative base.
const BASE_MARKER: &str = "<base href=\"./\">";

/// Where the files come from.
#[derive(Debug, Clone)]
pub enum AssetSource {
    /// The files compiled into the binary.
    Embedded,
    /// `<dir>/index.html`, `<dir>/…` read on every request (development).
    Dir(PathBuf),
}

/// One file ready to send.
pub struct Asset {
    pub body: Cow<'static, [u8]>,
    pub content_type: &'static str,
    /// A strong validator: the first 16 bytes of the SHA-256 of the body, quoted.
    pub etag: String,
}

/// What `/app<sub>` answers.
pub enum Lookup {
    Asset(Asset),
    /// The shell with its `<base href>` rewritten for this request.
    Shell(Vec<u8>),
    /// An asset-shaped path that resolves outside the bundle dir.
    Escapes,
    /// No `index.html` at all (a `--static-dir` without the app).
    Missing,
}

impl AssetSource {
    /// `sub` = the raw request path minus `/app` (`""`, `/`, `/chat/eng`, `/app.js`).
    pub fn lookup(&self, sub: &str) -> Lookup {
        let rel = sub.trim_start_matches('/');
        if is_asset_shaped(rel) {
            match self.file(rel) {
                FileLookup::Found(body) => {
                    let ext = rel.rsplit_once('.').map_or("", |(_, e)| e);
                    return Lookup::Asset(Asset {
                        etag: etag_of(rel, &body, matches!(self, AssetSource::Embedded)),
                        content_type: content_type(ext),
                        body,
                    });
                }
                FileLookup::Escapes => return Lookup::Escapes,
                FileLookup::Absent => {}
            }
        }
        match self.file("index.html") {
            FileLookup::Found(shell) => Lookup::Shell(with_base(&shell, &relative_base(sub))),
            _ => Lookup::Missing,
        }
    }

    fn file(&self, rel: &str) -> FileLookup {
        match self {
            AssetSource::Embedded => embedded::BUNDLE
                .get(rel)
                .map_or(FileLookup::Absent, |bytes| {
                    FileLookup::Found(Cow::Borrowed(bytes))
                }),
            AssetSource::Dir(dir) => disk_file(dir, rel),
        }
    }

    /// Names of the embedded files (for the budget test and `--help`-style listings).
    pub fn embedded_names() -> impl Iterator<Item = (&'static str, usize)> {
        embedded::BUNDLE.files().map(|(n, b)| (n, b.len()))
    }
}

enum FileLookup {
    Found(Cow<'static, [u8]>),
    Escapes,
    Absent,
}

/// Spec 01 §2.1.4: non-empty, ends in `.<alnum>+`, no `..`.
fn is_asset_shaped(rel: &str) -> bool {
    let Some((_, ext)) = rel.rsplit_once('.') else {
        return false;
    };
    !rel.is_empty()
        && !ext.is_empty()
        && ext.bytes().all(|b| b.is_ascii_alphanumeric())
        && !rel.contains("..")
}

fn disk_file(dir: &Path, rel: &str) -> FileLookup {
    let (Ok(root), Ok(real)) = (dir.canonicalize(), dir.join(rel).canonicalize()) else {
        return FileLookup::Absent;
    };
    if !real.starts_with(&root) {
        return FileLookup::Escapes;
    }
    match std::fs::read(&real) {
        Ok(bytes) if real.is_file() => FileLookup::Found(Cow::Owned(bytes)),
        _ => FileLookup::Absent,
    }
}

/// Embedded bodies never change while the process runs: hash each once.
fn etag_of(rel: &str, body: &[u8], cacheable: bool) -> String {
    static CACHE: OnceLock<parking_lot::Mutex<HashMap<String, String>>> = OnceLock::new();
    let compute = || {
        let digest = Sha256::digest(body);
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("\"{hex}\"")
    };
    if !cacheable {
        return compute();
    }
    let cache = CACHE.get_or_init(Default::default);
    cache
        .lock()
        .entry(rel.to_string())
        .or_insert_with(compute)
        .clone()
}

/// The `<base href>` that makes relative asset URLs resolve to the app root from the
/// document URL of this request: `/app` → `app/`, `/app/` and `/app/chat` → `./`,
/// `/app/chat/eng` → `../`, and so on, one `../` per directory below the app root.
pub fn relative_base(sub: &str) -> String {
    if sub.is_empty() {
        return "app/".to_string();
    }
    let dir = &sub[..sub.rfind('/').map_or(0, |i| i + 1)];
    let depth = dir.matches('/').count().saturating_sub(1);
    if depth == 0 {
        "./".to_string()
    } else {
        "../".repeat(depth)
    }
}

fn with_base(shell: &[u8], base: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(shell);
    text.replacen(BASE_MARKER, &format!("<base href=\"{base}\">"), 1)
        .into_bytes()
}

/// Content type by extension (spec 01 §2.1.4).
pub fn content_type(ext: &str) -> &'static str {
    match ext {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "application/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "json" | "map" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_climbs_one_level_per_directory_below_the_app_root() {
        assert_eq!(relative_base(""), "app/");
        assert_eq!(relative_base("/"), "./");
        assert_eq!(relative_base("/chat"), "./");
        assert_eq!(relative_base("/chat/"), "../");
        assert_eq!(relative_base("/chat/eng"), "../");
        assert_eq!(relative_base("/a/b/c"), "../../");
    }

    #[test]
    fn asset_shape_follows_the_spec() {
        assert!(is_asset_shaped("app.js"));
        assert!(is_asset_shaped("chat/x.css"));
        assert!(!is_asset_shaped("chat/eng"));
        assert!(!is_asset_shaped(""));
        assert!(!is_asset_shaped("a/../b.js"));
        assert!(!is_asset_shaped("x.j-s"));
    }

    /// The shell names every module up front (`<link rel="modulepreload">`), so the browser
    /// fetches them in parallel right after the shell instead of one import level at a time.
    #[test]
    fn the_shell_preloads_every_module() {
        let shell = embedded::BUNDLE.get("index.html").expect("index.html");
        let shell = String::from_utf8_lossy(shell);
        let modules: Vec<&str> = AssetSource::embedded_names()
            .map(|(n, _)| n)
            .filter(|n| n.starts_with("js/") && n.ends_with(".js") && *n != "js/app.js")
            .collect();
        assert!(modules.len() >= 5, "{modules:?}");
        for m in modules {
            assert!(
                shell.contains(&format!("<link rel=\"modulepreload\" href=\"{m}\">")),
                "static/app/index.html does not preload {m}"
            );
        }
    }

    #[test]
    fn embedded_bundle_has_a_shell_with_the_base_marker_and_fits_the_budget() {
        let shell = embedded::BUNDLE
            .get("index.html")
            .expect("static/app/index.html is embedded");
        assert!(String::from_utf8_lossy(shell).contains(BASE_MARKER));
        let code: usize = AssetSource::embedded_names()
            .filter(|(n, _)| n.ends_with(".js") || n.ends_with(".css"))
            .map(|(_, len)| len)
            .sum();
        assert!(
            code <= 150 * 1024,
            "JS + CSS is {code} bytes (budget 150 KB)"
        );
    }
}
