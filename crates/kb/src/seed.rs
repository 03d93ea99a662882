//! The seed knowledge base shipped in the binary (`crates/kb/seed/<slug>/<locale>.md`): common
//! customer-service topics in English and Simplified Chinese, used by the demo and the tests.

use include_dir::{Dir, include_dir};
use switchboard_store::kb::ArticleInput;

use crate::article::{self, ArticleFileError};

static SEED: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/seed");

/// The seed articles.
pub fn articles() -> Result<Vec<ArticleInput>, ArticleFileError> {
    let mut files = Vec::new();
    for dir in SEED.dirs() {
        let slug = dir.path().file_name().and_then(|s| s.to_str()).unwrap_or_default();
        for f in dir.files() {
            let name = f.path().display().to_string();
            let locale = f.path().file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            let text = f.contents_utf8().ok_or_else(|| ArticleFileError(format!("{name}: not UTF-8")))?;
            let parsed =
                article::parse_file(text, locale, slug).map_err(|e| ArticleFileError(format!("{name}: {e}")))?;
            files.push((name, parsed));
        }
    }
    article::group(files)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn seed_parses_with_both_locales() {
        let a = super::articles().unwrap();
        assert!(a.len() >= 8, "{}", a.len());
        for art in &a {
            let locales: Vec<&str> = art.translations.iter().map(|t| t.locale.as_str()).collect();
            assert!(locales.contains(&"en") && locales.contains(&"zh-CN"), "{}: {locales:?}", art.slug);
            assert!(!art.intents.is_empty(), "{}", art.slug);
        }
    }
}
