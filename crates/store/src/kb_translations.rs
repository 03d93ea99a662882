//! Removing one locale variant of a knowledge-base article (the admin editor's "delete this
//! translation"); the other variants, the article and its other history stay.

use async_trait::async_trait;

use crate::Result;
use crate::kb::{Article, ArticleId};

/// Deleting a translation.
#[async_trait]
pub trait KbTranslationStore {
    /// Deletes the `locale` variant of an article (any case of the tag) with its versions and
    /// votes, and returns the article. `NotFound` when the article has no such variant,
    /// `Invalid` when it is the only one (delete the article instead).
    async fn delete_translation(&self, id: ArticleId, locale: &str) -> Result<Article>;
}

pub(crate) fn only_variant(locale: &str) -> crate::StoreError {
    crate::StoreError::Invalid(format!("{locale} is the article's only translation; delete the article instead"))
}
