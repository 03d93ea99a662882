//! Knowledge base (issue 9): Markdown articles with front matter ([`article`]), the search index
//! with per-language analysers ([`index`], [`tokenize`]), safe rendering ([`render`]), the seed
//! articles ([`seed`]) and the FAQ bot's decision rules ([`bot`]). See docs/kb-bot.md.
#![forbid(unsafe_code)]

pub mod article;
pub mod bot;
pub mod eval;
pub mod index;
pub mod render;
pub mod seed;
pub mod tokenize;

pub use index::{KbIndex, SearchHit, SearchResults};
