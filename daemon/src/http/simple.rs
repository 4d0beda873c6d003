//! The simple repository API as pages: PEP 503 HTML and PEP 691 JSON (API version 1.1, with
//! PEP 700's `versions`, `size` and `upload-time`), chosen by the `Accept` header; PEP 658/714
//! core metadata and PEP 592 yanks as both formats spell them.

use std::str::FromStr;

use axle_standards::DistFilename;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::serve::ServedFile;

const JSON: &str = "application/vnd.pypi.simple.v1+json";
const HTML_V1: &str = "application/vnd.pypi.simple.v1+html";
const TEXT_HTML: &str = "text/html";

/// The format of a page, as negotiated (PEP 691).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    HtmlV1,
    Html,
}

impl Format {
    /// The format `accept` prefers among those served: the highest quality, ties going to
    /// JSON, then the versioned HTML. No header means HTML (a browser, an old pip); a header
    /// that accepts none of them means none (406).
    pub fn negotiate(accept: Option<&str>) -> Option<Format> {
        let Some(accept) = accept.filter(|text| !text.trim().is_empty()) else {
            return Some(Format::Html);
        };
        let mut best: Option<(f32, Format)> = None;
        for item in accept.split(',') {
            let mut parts = item.split(';').map(str::trim);
            let media = parts.next().unwrap_or("").to_ascii_lowercase();
            let quality = parts
                .filter_map(|param| param.strip_prefix("q=").or_else(|| param.strip_prefix("Q=")))
                .find_map(|value| value.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if quality <= 0.0 {
                continue;
            }
            let format = match media.as_str() {
                JSON => Format::Json,
                HTML_V1 => Format::HtmlV1,
                TEXT_HTML | "text/*" | "*/*" => Format::Html,
                _ => continue,
            };
            let better = match best {
                None => true,
                Some((q, current)) => quality > q || (quality == q && format.rank() < current.rank()),
            };
            if better {
                best = Some((quality, format));
            }
        }
        best.map(|(_, format)| format)
    }

    fn rank(self) -> u8 {
        match self {
            Format::Json => 0,
            Format::HtmlV1 => 1,
            Format::Html => 2,
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Json => JSON,
            Format::HtmlV1 => HTML_V1,
            Format::Html => "text/html; charset=utf-8",
        }
    }

    pub fn respond(self, body: String) -> Response {
        let mut response = body.into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(self.content_type()));
        headers.insert(header::VARY, HeaderValue::from_static("Accept"));
        response
    }
}

/// The path of a project's page, for a name that is safe in one (normalised names are).
pub fn page_path(name: &str) -> Option<String> {
    let normalised = axle_standards::PackageName::from_str(name).ok()?.to_string();
    Some(format!("/simple/{normalised}/"))
}

pub fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub fn render_list(format: Format, projects: &[String]) -> String {
    match format {
        Format::Json => serde_json::json!({
            "meta": { "api-version": "1.1" },
            "projects": projects.iter().map(|name| serde_json::json!({ "name": name })).collect::<Vec<_>>(),
        })
        .to_string(),
        Format::HtmlV1 | Format::Html => {
            let mut out = html_head("Simple index");
            for name in projects {
                let name = html_escape::encode_double_quoted_attribute(name);
                out.push_str(&format!("<a href=\"{name}/\">{name}</a><br>\n"));
            }
            out.push_str("</body>\n</html>\n");
            out
        }
    }
}

/// A file's URL relative to its project page (`/simple/<name>/`).
fn file_url(file: &ServedFile) -> String {
    let name = percent_encoding::utf8_percent_encode(&file.filename, percent_encoding::NON_ALPHANUMERIC);
    format!("../../files/{}/{name}", file.sha256)
}

pub fn render_project(format: Format, name: &str, files: &[ServedFile]) -> String {
    match format {
        Format::Json => render_json(name, files),
        Format::HtmlV1 | Format::Html => render_html(name, files),
    }
}

fn render_json(name: &str, files: &[ServedFile]) -> String {
    let entries: Vec<serde_json::Value> = files
        .iter()
        .map(|file| {
            let mut entry = serde_json::json!({
                "filename": file.filename,
                "url": file_url(file),
                "hashes": { "sha256": file.sha256 },
            });
            if let Some(requires) = &file.requires_python {
                entry["requires-python"] = requires.clone().into();
            }
            entry["yanked"] = match &file.yanked {
                None => false.into(),
                Some(reason) if reason.is_empty() => true.into(),
                Some(reason) => reason.clone().into(),
            };
            let metadata = match &file.metadata_sha256 {
                Some(sha) => serde_json::json!({ "sha256": sha }),
                None => false.into(),
            };
            entry["core-metadata"] = metadata.clone();
            entry["data-dist-info-metadata"] = metadata;
            if let Some(size) = file.size {
                entry["size"] = size.into();
            }
            if let Some(time) = &file.upload_time {
                entry["upload-time"] = time.clone().into();
            }
            entry
        })
        .collect();
    // PEP 700 makes `size` mandatory in 1.1; a page with a file of unknown size says 1.0.
    let version = if files.iter().all(|file| file.size.is_some()) {
        "1.1"
    } else {
        "1.0"
    };
    serde_json::json!({
        "meta": { "api-version": version },
        "name": name,
        "files": entries,
        "versions": versions(files),
    })
    .to_string()
}

fn render_html(name: &str, files: &[ServedFile]) -> String {
    let mut out = html_head(&format!("Links for {name}"));
    out.push_str(&format!("<h1>Links for {}</h1>\n", html_escape::encode_text(name)));
    for file in files {
        let mut attributes = String::new();
        if let Some(requires) = &file.requires_python {
            attributes.push_str(&format!(
                " data-requires-python=\"{}\"",
                html_escape::encode_double_quoted_attribute(requires)
            ));
        }
        if let Some(reason) = &file.yanked {
            attributes.push_str(&format!(
                " data-yanked=\"{}\"",
                html_escape::encode_double_quoted_attribute(reason)
            ));
        }
        if let Some(sha) = &file.metadata_sha256 {
            attributes.push_str(&format!(
                " data-dist-info-metadata=\"sha256={sha}\" data-core-metadata=\"sha256={sha}\""
            ));
        }
        out.push_str(&format!(
            "<a href=\"{}#sha256={}\"{attributes}>{}</a><br>\n",
            html_escape::encode_double_quoted_attribute(&file_url(file)),
            file.sha256,
            html_escape::encode_text(&file.filename),
        ));
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn html_head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html>\n<head>\n<meta name=\"pypi:repository-version\" content=\"1.1\">\n<title>{}</title>\n</head>\n<body>\n",
        html_escape::encode_text(title)
    )
}

/// The versions of `files`, in PEP 440 order.
fn versions(files: &[ServedFile]) -> Vec<String> {
    let mut versions: Vec<axle_standards::Version> = files
        .iter()
        .filter_map(|file| {
            Some(
                DistFilename::try_from_filename(&file.filename, None)
                    .ok()?
                    .version()
                    .clone(),
            )
        })
        .collect();
    versions.sort();
    versions.dedup();
    versions.iter().map(ToString::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_follows_pep_691() {
        let cases = [
            (None, Some(Format::Html)),
            (Some(""), Some(Format::Html)),
            (Some("text/html"), Some(Format::Html)),
            (Some("*/*"), Some(Format::Html)),
            (Some(JSON), Some(Format::Json)),
            // What pip sends.
            (
                Some(
                    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01",
                ),
                Some(Format::Json),
            ),
            (
                Some("text/html, application/vnd.pypi.simple.v1+json"),
                Some(Format::Json),
            ),
            (
                Some("application/vnd.pypi.simple.v1+json;q=0.2, text/html"),
                Some(Format::Html),
            ),
            (Some("application/vnd.pypi.simple.v1+html"), Some(Format::HtmlV1)),
            (Some("application/vnd.pypi.simple.v1+json;q=0"), None),
            (Some("application/vnd.pypi.simple.latest+json"), None),
            (Some("image/png"), None),
        ];
        for (accept, expected) in cases {
            assert_eq!(Format::negotiate(accept), expected, "{accept:?}");
        }
    }

    fn file(filename: &str, size: Option<u64>) -> ServedFile {
        ServedFile {
            filename: filename.to_string(),
            sha256: "a".repeat(64),
            requires_python: Some(">=3.9".to_string()),
            yanked: None,
            upload_time: None,
            size,
            metadata_sha256: Some("b".repeat(64)),
        }
    }

    #[test]
    fn pages_say_what_pep_503_691_and_700_ask() {
        let files = [
            file("demo-1.0-py3-none-any.whl", Some(10)),
            file("demo-1.10.tar.gz", Some(20)),
        ];
        let json: serde_json::Value = serde_json::from_str(&render_project(Format::Json, "demo", &files)).unwrap();
        assert_eq!(json["meta"]["api-version"], "1.1");
        assert_eq!(json["versions"], serde_json::json!(["1.0", "1.10"]));
        assert_eq!(
            json["files"][0]["url"],
            format!("../../files/{}/demo%2D1%2E0%2Dpy3%2Dnone%2Dany%2Ewhl", "a".repeat(64))
        );
        assert_eq!(json["files"][0]["requires-python"], ">=3.9");
        assert_eq!(json["files"][0]["yanked"], false);
        assert_eq!(json["files"][0]["core-metadata"]["sha256"], "b".repeat(64));
        assert_eq!(json["files"][1]["size"], 20);
        let unsized_page = render_project(Format::Json, "demo", &[file("demo-1.0.tar.gz", None)]);
        assert!(unsized_page.contains("\"api-version\":\"1.0\""), "{unsized_page}");

        let html = render_project(Format::Html, "demo", &files);
        assert!(html.contains("data-requires-python=\"&gt;=3.9\""), "{html}");
        assert!(html.contains(&format!("#sha256={}", "a".repeat(64))), "{html}");
        assert!(
            html.contains(&format!("data-core-metadata=\"sha256={}\"", "b".repeat(64))),
            "{html}"
        );
    }

    #[test]
    fn only_hex_digests_address_files() {
        assert!(is_sha256(&"0f".repeat(32)));
        assert!(!is_sha256(&"0F".repeat(32)));
        assert!(!is_sha256("../../etc/passwd"));
        assert!(!is_sha256(&"a".repeat(63)));
    }
}
