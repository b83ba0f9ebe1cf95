//! Staging inbound attachments into the agent's private dir (spec 03 §4.6): at most 20,
//! fetched from the agent's vault storage with the turn's minted token, written 0600 to
//! `W/attachments/<safe name>` (names sanitised and de-duplicated, always inside the
//! directory), and listed in a pointer block appended to the prompt. A failed file is
//! skipped; without a vault nothing is staged. The staging dir is created only when a
//! file is staged. Body cap: the vault client's 64 MiB (the reference allows 100 MiB).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::workspace::write_replace;
use crate::util::fsx::PRIVATE_FILE;

/// At most this many attachments are staged per turn.
pub const MAX_ATTACHMENTS: usize = 20;

/// One inbound attachment reference (untrusted).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AttachmentRef {
    pub path: String,
    pub mime_type: String,
    pub filename: String,
}

/// `filename` (else `path`) → last segment, NUL removed, `[^A-Za-z0-9._-]` → `_`, leading
/// dots stripped, empty → `file`, at most 200 chars.
pub fn safe_name(a: &AttachmentRef) -> String {
    let raw = if a.filename.is_empty() {
        &a.path
    } else {
        &a.filename
    };
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .filter(|c| *c != '\0')
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = cleaned.trim_start_matches('.');
    let name = if trimmed.is_empty() { "file" } else { trimmed };
    name.chars().take(200).collect()
}

/// `report.png` → `report-2.png`, `report-3.png`, … until unused.
fn dedupe(name: String, used: &mut HashSet<String>) -> String {
    if used.insert(name.clone()) {
        return name;
    }
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name.as_str(), ""),
    };
    let mut n = 2;
    loop {
        let candidate = format!("{stem}-{n}{ext}");
        if used.insert(candidate.clone()) {
            return candidate;
        }
        n += 1;
    }
}

/// Stage `refs` with `fetch` (path → bytes); returns the prompt with the pointer block
/// appended when anything was staged.
pub fn stage(
    w: &Path,
    message: &str,
    refs: &[AttachmentRef],
    fetch: &dyn Fn(&str) -> Result<Vec<u8>, String>,
) -> String {
    if refs.len() > MAX_ATTACHMENTS {
        log::warn!(
            "{} attachments; staging the first {MAX_ATTACHMENTS}",
            refs.len()
        );
    }
    let dir = w.join("attachments");
    let mut used = HashSet::new();
    let mut staged: Vec<(PathBuf, String)> = Vec::new();
    for a in refs.iter().take(MAX_ATTACHMENTS) {
        let name = dedupe(safe_name(a), &mut used);
        let target = dir.join(&name);
        if target.parent() != Some(dir.as_path()) {
            continue;
        }
        let bytes = match fetch(&a.path) {
            Ok(b) => b,
            Err(e) => {
                log::warn!("attachment {name}: fetch failed ({e}); skipped");
                continue;
            }
        };
        let written = std::fs::create_dir_all(&dir)
            .and_then(|_| write_replace(&target, &bytes, PRIVATE_FILE));
        match written {
            Ok(()) => staged.push((target, a.mime_type.clone())),
            Err(e) => log::warn!("attachment {name}: write failed ({e}); skipped"),
        }
    }
    if staged.is_empty() {
        return message.to_string();
    }
    let mut out = format!("{message}\n\n[Attached files — read them as needed:\n");
    for (p, mime) in &staged {
        let mime = if mime.is_empty() {
            "application/octet-stream"
        } else {
            mime
        };
        out.push_str(&format!("- {} ({mime})\n", p.display()));
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(path: &str, filename: &str) -> AttachmentRef {
        AttachmentRef {
            path: path.into(),
            mime_type: "image/png".into(),
            filename: filename.into(),
        }
    }

    #[test]
    fn names_are_safe_and_unique() {
        assert_eq!(safe_name(&r("../../etc/passwd", "")), "passwd");
        assert_eq!(
            safe_name(&r("x", "..\\..\\evil name?.txt")),
            "evil_name_.txt"
        );
        assert_eq!(safe_name(&r("x", "...")), "file");
        assert_eq!(safe_name(&r("x", &"a".repeat(300))).len(), 200);
        let mut used = HashSet::new();
        assert_eq!(dedupe("report.png".into(), &mut used), "report.png");
        assert_eq!(dedupe("report.png".into(), &mut used), "report-2.png");
        assert_eq!(dedupe("report.png".into(), &mut used), "report-3.png");
    }

    #[test]
    fn staging_isolates_failures_and_caps_the_count() {
        let d = tempfile::tempdir().unwrap();
        let refs: Vec<AttachmentRef> = (0..25)
            .map(|i| {
                r(
                    &format!("att/{i}.png"),
                    if i == 1 { "" } else { "report.png" },
                )
            })
            .collect();
        let fetch = |p: &str| -> Result<Vec<u8>, String> {
            if p == "att/2.png" {
                Err("404".into())
            } else {
                Ok(p.as_bytes().to_vec())
            }
        };
        let msg = stage(d.path(), "look", &refs, &fetch);
        let files: Vec<_> = std::fs::read_dir(d.path().join("attachments"))
            .unwrap()
            .collect();
        assert_eq!(files.len(), 19, "20 tried, one failed");
        assert!(msg.starts_with("look\n\n[Attached files — read them as needed:\n- "));
        assert!(msg.contains("/attachments/report.png (image/png)"));
        assert!(msg.contains("/attachments/1.png (image/png)"));
        assert!(msg.ends_with(']'));
        let none = tempfile::tempdir().unwrap();
        let fail = |_: &str| -> Result<Vec<u8>, String> { Err("down".into()) };
        assert_eq!(stage(none.path(), "m", &refs[..1], &fail), "m");
        assert!(!none.path().join("attachments").exists());
    }
}
