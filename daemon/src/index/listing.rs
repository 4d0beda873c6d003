//! The names of the projects the sources hold, for suggesting a name when a requirement names a
//! project none of them has: an index's root page (PEP 691 JSON or PEP 503 HTML) when it is
//! small enough to read, else the projects of that index this daemon has seen (its cached
//! pages); the distributions in `--find-links` directories. Best effort: whatever fails is left
//! out, and the error that asked gets no suggestion.

use std::collections::BTreeSet;

use axle_standards::PackageName;
use reqwest::header::{ACCEPT, HeaderMap, HeaderValue};

use super::{FetchContext, FindLinks, IndexClient, IndexUrl, Sources, find_links};

/// An index root page bigger than this is not read: the public index lists hundreds of
/// thousands of projects in tens of megabytes, too much to fetch for a suggestion.
const MAX_LISTING: u64 = 4 * 1024 * 1024;

const ACCEPT_LISTING: &str = "application/vnd.pypi.simple.v1+json, text/html;q=0.1";

impl IndexClient {
    /// The project names `sources` list, as far as they can be known cheaply.
    pub async fn project_names(&self, sources: &Sources, context: &FetchContext) -> BTreeSet<PackageName> {
        let mut names = BTreeSet::new();
        for index in &sources.indexes {
            match self.listing(index, context).await {
                Some(listed) => names.extend(listed),
                None => names.extend(self.seen_on(index).await),
            }
        }
        for link in &sources.find_links {
            if let FindLinks::Directory(dir) = link {
                for file in find_links::directory(dir).unwrap_or_default() {
                    if let Ok(name) = axle_standards::DistFilename::try_from_filename(&file.filename, None) {
                        names.insert(name.name().clone());
                    }
                }
            }
        }
        names
    }

    /// The names on `index`'s root page, unless it is too big, unreachable or unreadable.
    async fn listing(&self, index: &IndexUrl, context: &FetchContext) -> Option<Vec<PackageName>> {
        if context.offline {
            return None;
        }
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static(ACCEPT_LISTING));
        let answer = self
            .http
            .get(index.url(), headers, MAX_LISTING, &context.settings, &context.counters)
            .await
            .ok()?;
        if !answer.status.is_success() {
            return None;
        }
        let json = answer
            .headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|kind| kind.contains("json"));
        Some(if json {
            names_from_json(&answer.body)?
        } else {
            names_from_html(&String::from_utf8_lossy(&answer.body))
        })
    }

    /// The projects of `index` whose pages this daemon has cached.
    async fn seen_on(&self, index: &IndexUrl) -> Vec<PackageName> {
        let base = index.url().to_string();
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT url FROM index_pages WHERE found = 1 AND url > ? AND url < ?")
                .bind(&base)
                .bind(format!("{base}\u{10FFFF}"))
                .fetch_all(&self.pool)
                .await
                .unwrap_or_default();
        rows.iter()
            .filter_map(|(url,)| url.strip_prefix(&base)?.trim_end_matches('/').parse().ok())
            .collect()
    }
}

/// PEP 691's root page: `{"projects": [{"name": ...}, ...]}`.
fn names_from_json(body: &[u8]) -> Option<Vec<PackageName>> {
    #[derive(serde::Deserialize)]
    struct Root {
        projects: Vec<Project>,
    }
    #[derive(serde::Deserialize)]
    struct Project {
        name: String,
    }
    let root: Root = serde_json::from_slice(body).ok()?;
    Some(
        root.projects
            .iter()
            .filter_map(|project| project.name.parse().ok())
            .collect(),
    )
}

/// PEP 503's root page: one anchor per project, its text the name.
fn names_from_html(body: &str) -> Vec<PackageName> {
    body.split("<a ")
        .skip(1)
        .filter_map(|anchor| {
            let text = anchor.split_once('>')?.1.split_once("</a>")?.0;
            html_escape::decode_html_entities(text.trim()).parse().ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_pages_list_project_names() {
        let html = "<!DOCTYPE html><html><body>\n<a href=\"fastapi/\">fastapi</a>\n<a href=\"/simple/zope-interface/\">zope.interface</a>\n</body></html>";
        let names: Vec<String> = names_from_html(html).iter().map(ToString::to_string).collect();
        assert_eq!(names, ["fastapi", "zope-interface"]);
        let json = br#"{"meta": {"api-version": "1.1"}, "projects": [{"name": "Django"}, {"name": "requests"}]}"#;
        let names: Vec<String> = names_from_json(json)
            .unwrap_or_default()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(names, ["django", "requests"]);
    }
}
