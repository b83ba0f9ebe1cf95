//! The terminal page and its vendored assets (spec 06 §2.2 rows 2–3, §2.8), embedded in the
//! binary: `static/terminal/index.html` (self-contained, no build step) and xterm.js 5.5.0
//! with the fit addon 0.10.0 from `static/terminal/vendor/` (MIT, licences beside them).
//! Being embedded, an asset can never be unreadable at run time, so the reference's
//! `500 /* terminal asset … unavailable */` answer has no case here. The files are one
//! `util::embed::Bundle` packed by `build.rs`, kept apart from the data boot touches.

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/terminal_assets.rs"));
}

/// The page (the same HTML for `/terminal` and `/terminal/<seg>`; it reads its agent from
/// the path or the query).
pub fn page() -> &'static [u8] {
    embedded::BUNDLE.get("index.html").unwrap_or_default()
}

/// One vendored asset.
pub struct Asset {
    pub body: &'static [u8],
    pub content_type: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// The asset served as `/terminal/assets/<name>`: exactly these three names.
pub fn asset(name: &str) -> Option<Asset> {
    let (file, content_type) = match name {
        "xterm.js" => ("vendor/xterm.js", JS),
        "addon-fit.js" => ("vendor/addon-fit.js", JS),
        "xterm.css" => ("vendor/xterm.css", CSS),
        _ => return None,
    };
    let body = embedded::BUNDLE.get(file)?;
    Some(Asset { body, content_type })
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_three_pinned_assets_exist() {
        let js = super::asset("xterm.js").unwrap();
        assert!(std::str::from_utf8(js.body).unwrap().contains("Terminal"));
        assert_eq!(js.content_type, "text/javascript; charset=utf-8");
        assert_eq!(
            super::asset("xterm.css").unwrap().content_type,
            "text/css; charset=utf-8"
        );
        assert!(super::asset("addon-fit.js").is_some());
        for name in ["evil.js", "../index.html", "", "xterm.js.map", "XTERM.JS"] {
            assert!(super::asset(name).is_none(), "{name}");
        }
        let page = std::str::from_utf8(super::page()).unwrap();
        assert!(page.contains("<title>parachute-agent · terminal</title>"));
        assert!(page.contains(r#"<meta name="referrer" content="no-referrer">"#));
    }
}
