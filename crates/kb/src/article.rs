//! Articles as files: one Markdown file per locale variant with a small front matter, in a folder
//! per article (`DIR/<slug>/<locale>.md`). `switchboard kb import|export` and the seed use it.
//!
//! ```text
//! ---
//! slug: order-status
//! title: "Where is my order?"
//! category: orders
//! tags: [orders, tracking]
//! intents: [order_status]
//! status: published
//! ---
//! Markdown body…
//! ```
//!
//! The front matter is a flat `key: value` subset of YAML: strings (bare or JSON-quoted) and
//! one-line lists `[a, b]`. Unknown keys are an error, so a typo is not silently dropped.

use std::collections::BTreeMap;
use std::path::Path;

use switchboard_store::kb::{Article, ArticleInput, ArticleStatus, Translation, TranslationInput, valid_locale};

/// A problem with an article file or folder; the message names the file and the field.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ArticleFileError(pub String);

/// One parsed file: the article fields it carries and its locale variant.
#[derive(Debug, Clone, PartialEq)]
pub struct ArticleFile {
    pub slug: String,
    pub category: String,
    pub tags: Vec<String>,
    pub intents: Vec<String>,
    pub translation: TranslationInput,
}

fn unquote(v: &str) -> Result<String, String> {
    let v = v.trim();
    if v.starts_with('"') {
        serde_json::from_str::<String>(v).map_err(|e| format!("bad quoted string {v}: {e}"))
    } else {
        Ok(v.to_owned())
    }
}

fn list(v: &str) -> Result<Vec<String>, String> {
    let v = v.trim();
    if let Ok(all_quoted) = serde_json::from_str::<Vec<String>>(v) {
        return Ok(all_quoted);
    }
    let inner =
        v.strip_prefix('[').and_then(|s| s.strip_suffix(']')).ok_or_else(|| format!("expected [a, b], got {v}"))?;
    inner.split(',').map(str::trim).filter(|s| !s.is_empty()).map(unquote).collect()
}

/// Parses one file. `locale` comes from the file name; `slug_hint` from the folder name (both
/// may be overridden by the front matter).
pub fn parse_file(text: &str, locale: &str, slug_hint: &str) -> Result<ArticleFile, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rest = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
        .ok_or("the file must start with a --- front matter line")?;
    let end = rest.find("\n---").ok_or("the front matter has no closing --- line")?;
    let (head, body) = rest.split_at(end);
    let body = body.trim_start_matches("\n---").trim_start_matches('\r');
    let body = body.strip_prefix('\n').unwrap_or(body);
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    for (n, line) in head.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let (k, v) = line.split_once(':').ok_or_else(|| format!("front matter line {}: expected key: value", n + 2))?;
        fields.insert(k.trim().to_owned(), v.trim().to_owned());
    }
    for k in fields.keys() {
        if !["slug", "title", "category", "tags", "intents", "status", "locale"].contains(&k.as_str()) {
            return Err(format!("unknown front matter key {k:?}"));
        }
    }
    let get = |k: &str| fields.get(k).map(|v| unquote(v)).transpose();
    let title = get("title")?.ok_or("front matter needs a title")?;
    let status = match get("status")?.as_deref() {
        None | Some("published") => ArticleStatus::Published,
        Some("draft") => ArticleStatus::Draft,
        Some(other) => return Err(format!("status {other:?}: use draft or published")),
    };
    let locale = get("locale")?.unwrap_or_else(|| locale.to_owned());
    if !valid_locale(&locale) {
        return Err(format!("locale {locale:?}: use a BCP 47 tag such as en or zh-CN"));
    }
    Ok(ArticleFile {
        slug: get("slug")?.unwrap_or_else(|| slug_hint.to_owned()),
        category: get("category")?.ok_or("front matter needs a category")?,
        tags: fields.get("tags").map(|v| list(v)).transpose()?.unwrap_or_default(),
        intents: fields.get("intents").map(|v| list(v)).transpose()?.unwrap_or_default(),
        translation: TranslationInput { locale, title, body: body.to_owned(), status },
    })
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

fn quote_list(v: &[String]) -> String {
    format!("[{}]", v.iter().map(|s| quote(s)).collect::<Vec<_>>().join(", "))
}

/// The file of one locale variant.
pub fn to_file(a: &Article, t: &Translation) -> String {
    format!(
        "---\nslug: {}\ntitle: {}\ncategory: {}\ntags: {}\nintents: {}\nstatus: {}\n---\n{}",
        a.slug,
        quote(&t.title),
        quote(&a.category),
        quote_list(&a.tags),
        quote_list(&a.intents),
        t.status.as_str(),
        t.body
    )
}

/// Groups parsed files by slug into articles; the first file of a slug gives category, tags and
/// intents, and a later file that disagrees is an error.
pub fn group(files: Vec<(String, ArticleFile)>) -> Result<Vec<ArticleInput>, ArticleFileError> {
    let mut by_slug: BTreeMap<String, ArticleInput> = BTreeMap::new();
    for (name, f) in files {
        match by_slug.get_mut(&f.slug) {
            Some(a) => {
                if a.category != f.category || a.tags != f.tags || a.intents != f.intents {
                    return Err(ArticleFileError(format!(
                        "{name}: category, tags and intents must be the same in every locale of {}",
                        f.slug
                    )));
                }
                a.translations.push(f.translation);
            }
            None => {
                by_slug.insert(
                    f.slug.clone(),
                    ArticleInput {
                        slug: f.slug,
                        category: f.category,
                        tags: f.tags,
                        intents: f.intents,
                        translations: vec![f.translation],
                    },
                );
            }
        }
    }
    let articles: Vec<ArticleInput> = by_slug.into_values().collect();
    for a in &articles {
        a.validate().map_err(|e| ArticleFileError(format!("article {}: {e}", a.slug)))?;
    }
    Ok(articles)
}

/// Reads `DIR/<slug>/<locale>.md` files (other files are ignored).
pub fn read_dir(dir: &Path) -> Result<Vec<ArticleInput>, ArticleFileError> {
    let err = |p: &Path, e: &dyn std::fmt::Display| ArticleFileError(format!("{}: {e}", p.display()));
    let mut files = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir).map_err(|e| err(dir, &e))?.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let slug = entry.file_name().to_string_lossy().into_owned();
        let mut inner: Vec<_> = std::fs::read_dir(&path).map_err(|e| err(&path, &e))?.filter_map(Result::ok).collect();
        inner.sort_by_key(|e| e.path());
        for f in inner {
            let p = f.path();
            if p.extension().and_then(|x| x.to_str()) != Some("md") {
                continue;
            }
            let locale = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
            let text = std::fs::read_to_string(&p).map_err(|e| err(&p, &e))?;
            let parsed = parse_file(&text, &locale, &slug).map_err(|e| err(&p, &e))?;
            files.push((p.display().to_string(), parsed));
        }
    }
    if files.is_empty() {
        return Err(ArticleFileError(format!("{}: no <slug>/<locale>.md files found", dir.display())));
    }
    group(files)
}

/// Writes every variant of `articles` to `DIR/<slug>/<locale>.md`.
pub fn write_dir(dir: &Path, articles: &[Article]) -> std::io::Result<usize> {
    let mut n = 0;
    for a in articles {
        let folder = dir.join(&a.slug);
        std::fs::create_dir_all(&folder)?;
        for t in &a.translations {
            std::fs::write(folder.join(format!("{}.md", t.locale)), to_file(a, t))?;
            n += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_round_trips() {
        let text = "---\nslug: order-status\ntitle: \"Where is my order?\"\ncategory: orders\ntags: [\"orders\", \"track, trace\"]\nintents: [order_status]\nstatus: draft\n---\n# Hi\n\nBody: yes\n";
        let f = parse_file(text, "en", "x").unwrap();
        assert_eq!(f.slug, "order-status");
        assert_eq!(f.translation.title, "Where is my order?");
        assert_eq!(f.tags, vec!["orders".to_owned(), "track, trace".to_owned()]);
        assert_eq!(f.intents, vec!["order_status".to_owned()]);
        assert_eq!(f.translation.status, ArticleStatus::Draft);
        assert_eq!(f.translation.body, "# Hi\n\nBody: yes\n");
        let input = group(vec![("a".into(), f.clone())]).unwrap().remove(0);
        let now = chrono::Utc::now();
        let article = Article {
            id: switchboard_store::kb::ArticleId(uuid::Uuid::nil()),
            slug: input.slug.clone(),
            category: input.category.clone(),
            tags: input.tags.clone(),
            intents: input.intents.clone(),
            translations: vec![Translation {
                locale: "en".into(),
                title: f.translation.title.clone(),
                body: f.translation.body.clone(),
                status: f.translation.status,
                version: 1,
                updated_at: now,
            }],
            created_at: now,
            updated_at: now,
        };
        let again = parse_file(&to_file(&article, &article.translations[0]), "en", "y").unwrap();
        assert_eq!(again, ArticleFile { slug: "order-status".into(), ..f });
    }

    #[test]
    fn bad_files_are_named() {
        assert!(parse_file("no front matter", "en", "x").unwrap_err().contains("---"));
        assert!(parse_file("---\ntitle: a\n---\n", "en", "x").unwrap_err().contains("category"));
        assert!(
            parse_file("---\ntitle: a\ncategory: b\ncolour: red\n---\n", "en", "x").unwrap_err().contains("colour")
        );
        assert!(parse_file("---\ntitle: a\ncategory: b\n---\n", "EN_us", "x").unwrap_err().contains("locale"));
        assert!(
            parse_file("---\ntitle: a\ncategory: b\nstatus: live\n---\n", "en", "x").unwrap_err().contains("status")
        );
    }
}
