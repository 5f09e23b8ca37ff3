//! The maintenance page as one self-contained HTML document.
//!
//! `page_dir/index.html` with every relative `src="…"` and `href="…"` that names a file of
//! `page_dir` replaced by a `data:` URI of that file. A missing asset is an error: while the
//! platform is closed nothing else can serve it. Without `page_dir`, a plain built-in page.

use std::path::{Component, Path};

use super::{MaintenanceError, MaintenanceSpec};

const DEFAULT_PAGE: &str = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Maintenance</title></head>\n<body><h1>Maintenance in progress</h1><p>The platform is being updated. Please come back in a few minutes.</p></body></html>\n";

/// The page to serve, assets inlined.
pub fn render(spec: &MaintenanceSpec) -> Result<String, MaintenanceError> {
    let Some(dir) = &spec.page_dir else {
        return Ok(DEFAULT_PAGE.to_string());
    };
    let index = dir.join("index.html");
    let html = std::fs::read_to_string(&index).map_err(|source| MaintenanceError::Io {
        path: index.clone(),
        source,
    })?;
    inline_assets(&html, dir).map_err(|what| MaintenanceError::Page { path: index, what })
}

/// Replaces relative `src`/`href` references to files of `dir` by `data:` URIs.
pub fn inline_assets(html: &str, dir: &Path) -> Result<String, String> {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some((before, attr, value, after)) = next_reference(rest) {
        out.push_str(before);
        out.push_str(attr);
        if is_local(value) {
            out.push_str(&data_uri(dir, value)?);
        } else {
            out.push_str(value);
        }
        out.push('"');
        rest = after;
    }
    out.push_str(rest);
    Ok(out)
}

/// The text before the next `src="` or `href="`, the attribute with its `="`, its value and
/// what follows the closing quote.
fn next_reference(text: &str) -> Option<(&str, &str, &str, &str)> {
    let start = ["src=\"", "href=\""]
        .iter()
        .filter_map(|a| text.find(a).map(|i| (i, a.len())))
        .min()?;
    let (i, len) = start;
    let value_start = i + len;
    let end = text[value_start..].find('"')? + value_start;
    Some((
        &text[..i],
        &text[i..value_start],
        &text[value_start..end],
        &text[end + 1..],
    ))
}

fn is_local(value: &str) -> bool {
    !(value.is_empty()
        || value.contains("://")
        || value.starts_with("data:")
        || value.starts_with("mailto:")
        || value.starts_with('#')
        || value.starts_with('/'))
}

fn data_uri(dir: &Path, value: &str) -> Result<String, String> {
    let relative = Path::new(value);
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Err(format!("`{value}`: assets must be files inside page_dir"));
    }
    let path = dir.join(relative);
    let bytes = std::fs::read(&path).map_err(|e| {
        format!(
            "`{value}` ({}): {e}; the page must carry its assets",
            path.display()
        )
    })?;
    Ok(format!("data:{};base64,{}", mime(value), base64(&bytes)))
}

fn mime(name: &str) -> &'static str {
    match name
        .rsplit('.')
        .next()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("css") => "text/css",
        Some("js") => "text/javascript",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("svg") => "image/svg+xml",
        Some("ico") => "image/x-icon",
        Some("webp") => "image/webp",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        _ => "application/octet-stream",
    }
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn local_assets_are_inlined_and_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("style.css"), "h1{color:red}").unwrap();
        std::fs::write(dir.path().join("logo.svg"), "<svg/>").unwrap();
        let html = r##"<link rel="stylesheet" href="style.css"><img src="logo.svg"><a href="https://status.example/">status</a><a href="#top">top</a>"##;
        let page = inline_assets(html, dir.path()).unwrap();
        insta::assert_snapshot!(page);
        let err = inline_assets(r#"<img src="missing.png">"#, dir.path()).unwrap_err();
        assert!(err.contains("missing.png"), "{err}");
        let err = inline_assets(r#"<img src="../secret">"#, dir.path()).unwrap_err();
        assert!(err.contains("inside page_dir"), "{err}");
    }
}
