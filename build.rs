//! Build script: embeds the web UI and the terminal page. Writes `$OUT_DIR/app_assets.rs`
//! (every file under `static/app/`) and `$OUT_DIR/terminal_assets.rs` (the terminal page
//! and its vendored xterm.js files): each a `util::embed::Bundle`, i.e. the files packed
//! into one blob (`…_assets.bin`, included with `include_bytes!`) that is kept apart
//! from the rest of the binary's data, plus a `(relative path, start, end)` table. So the
//! binary serves `/app` and `/terminal` with nothing installed next to it (spec 06 §3.1:
//! "or embed the files in the binary"). A generated table instead of a crate such as
//! `include_dir`: it is a few dozen lines, and it keeps the dependency list to the
//! design's base crates.

use std::path::{Path, PathBuf};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.is_file() {
            out.push(path);
        }
    }
}

/// Packs `files` (relative to `root`) into `<name>.bin` and writes `<name>.rs` with the
/// `BUNDLE` over it.
fn bundle(name: &str, root: &Path, files: &[PathBuf]) {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let mut blob = Vec::new();
    let mut index = String::new();
    for file in files {
        println!("cargo:rerun-if-changed={}", file.display());
        let bytes = std::fs::read(file).expect("read embedded file");
        let rel = file.strip_prefix(root).expect("under root");
        let rel = rel.to_string_lossy().replace('\\', "/");
        index.push_str(&format!(
            "        ({rel:?}, {}, {}),\n",
            blob.len(),
            blob.len() + bytes.len()
        ));
        blob.extend_from_slice(&bytes);
    }
    let bin = out.join(format!("{name}.bin"));
    std::fs::write(&bin, blob).expect("write blob");
    let table = format!(
        "pub static BUNDLE: crate::util::embed::Bundle = crate::util::embed::Bundle {{\n    \
         blob: &crate::util::embed::Isolated(*include_bytes!({:?})),\n    index: &[\n{index}    ],\n}};\n",
        bin.display().to_string()
    );
    std::fs::write(out.join(format!("{name}.rs")), table).expect("write table");
}

fn main() {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("static");
    let app = base.join("app");
    println!("cargo:rerun-if-changed={}", app.display());
    let mut files = Vec::new();
    walk(&app, &mut files);
    files.sort();
    bundle("app_assets", &app, &files);

    let terminal = base.join("terminal");
    let files: Vec<PathBuf> = [
        "index.html",
        "vendor/xterm.js",
        "vendor/addon-fit.js",
        "vendor/xterm.css",
    ]
    .iter()
    .map(|f| terminal.join(f))
    .collect();
    bundle("terminal_assets", &terminal, &files);
}
