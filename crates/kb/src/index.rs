//! The search index: one tantivy document per published locale variant, in a folder of the data
//! directory (or in memory for tests and benchmarks). It is rebuilt from the database at start
//! and updated whenever an article is saved, so the database stays the only source of truth.
//!
//! A query is analysed with its locale's analyser; every word becomes an exact term on title
//! (boosted) and body, and a word of five or more letters that no document contains also a fuzzy
//! term (one edit, two from nine letters) for typo tolerance. Only variants of the query's locale match.
//!
//! [`SearchResults::confidence`] says how well the best hit covers the question, from 0 to 1:
//! the IDF-weighted share of the question's words found (exactly or within one edit) in the
//! best article, blended with its lead over the runner-up. Unlike a raw BM25 score it does not
//! grow with the size of the knowledge base, so one bot threshold works for ten articles or
//! a hundred thousand.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use jieba_rs::Jieba;
use switchboard_store::kb::{Article, ArticleId, ArticleStatus};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, STORED, STRING, Schema, TantivyDocument, TextFieldIndexing, TextOptions, Value,
};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, Term, doc};

use crate::render;
use crate::tokenize::{self, EN, GENERIC, ZH};

/// Errors of the index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// tantivy failed.
    #[error("search index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    /// The index folder cannot be used.
    #[error("search index folder {0}: {1}")]
    Io(String, std::io::Error),
    /// A lock was poisoned by a panic elsewhere.
    #[error("search index writer lock poisoned")]
    Poisoned,
}

/// One search hit.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SearchHit {
    pub article_id: ArticleId,
    pub slug: String,
    pub locale: String,
    pub title: String,
    pub category: String,
    /// Plain-text start of the article (≤ 240 characters).
    pub summary: String,
    pub intents: Vec<String>,
    pub score: f32,
}

/// Hits, best first, and how confident the best one is.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    /// 0–1; see the module documentation.
    pub confidence: f32,
}

#[derive(Clone, Copy)]
struct Fields {
    key: Field,
    article: Field,
    locale: Field,
    slug: Field,
    title: Field,
    category: Field,
    intents: Field,
    summary: Field,
    text: Field,
    title_en: Field,
    body_en: Field,
    title_zh: Field,
    body_zh: Field,
    title_gen: Field,
    body_gen: Field,
}

impl Fields {
    fn for_analyser(&self, a: &str) -> (Field, Field) {
        match a {
            EN => (self.title_en, self.body_en),
            ZH => (self.title_zh, self.body_zh),
            _ => (self.title_gen, self.body_gen),
        }
    }
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = |name: &str| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default().set_tokenizer(name).set_index_option(IndexRecordOption::WithFreqs),
        )
    };
    let f = Fields {
        key: b.add_text_field("key", STRING),
        article: b.add_text_field("article", STRING | STORED),
        locale: b.add_text_field("locale", STRING | STORED),
        slug: b.add_text_field("slug", STORED),
        title: b.add_text_field("title", STORED),
        category: b.add_text_field("category", STRING | STORED),
        intents: b.add_text_field("intents", STRING | STORED),
        summary: b.add_text_field("summary", STORED),
        text: b.add_text_field("text", STORED),
        title_en: b.add_text_field("title_en", text(EN)),
        body_en: b.add_text_field("body_en", text(EN)),
        title_zh: b.add_text_field("title_zh", text(ZH)),
        body_zh: b.add_text_field("body_zh", text(ZH)),
        title_gen: b.add_text_field("title_gen", text(GENERIC)),
        body_gen: b.add_text_field("body_gen", text(GENERIC)),
    };
    (b.build(), f)
}

/// The knowledge-base search index. Share it in an `Arc`.
pub struct KbIndex {
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
    jieba: Arc<Jieba>,
}

/// Writer heap: tantivy's minimum per thread is 15 MB.
const WRITER_HEAP: usize = 48_000_000;

impl KbIndex {
    /// Opens (creating or, when its schema is outdated, recreating) the index in `dir`, or an
    /// in-memory one for `None`. Loads the jieba dictionary once.
    pub fn open(dir: Option<&Path>) -> Result<KbIndex, IndexError> {
        let (schema, fields) = schema();
        let index = match dir {
            None => Index::create_in_ram(schema),
            Some(d) => {
                std::fs::create_dir_all(d).map_err(|e| IndexError::Io(d.display().to_string(), e))?;
                let dirh = tantivy::directory::MmapDirectory::open(d)
                    .map_err(|e| IndexError::Tantivy(tantivy::TantivyError::from(e)))?;
                match Index::open_or_create(dirh, schema.clone()) {
                    Ok(i) => i,
                    Err(e) => {
                        // An index from an older schema: it is only a cache of the database.
                        tracing::warn!(error = %e, dir = %d.display(), "recreating the search index");
                        std::fs::remove_dir_all(d).map_err(|e| IndexError::Io(d.display().to_string(), e))?;
                        std::fs::create_dir_all(d).map_err(|e| IndexError::Io(d.display().to_string(), e))?;
                        Index::create_in_dir(d, schema)?
                    }
                }
            }
        };
        let jieba = Arc::new(Jieba::new());
        let tm = index.tokenizers();
        tm.register(EN, tokenize::english());
        tm.register(ZH, tokenize::chinese(jieba.clone()));
        tm.register(GENERIC, tokenize::generic());
        let writer = index.writer_with_num_threads(1, WRITER_HEAP)?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        Ok(KbIndex { reader, writer: Mutex::new(writer), fields, jieba })
    }

    /// The analyser for a locale (for callers that tokenise the same way, e.g. the evaluation).
    pub fn analyser(&self, locale: &str) -> TextAnalyzer {
        match tokenize::analyser_for(locale) {
            EN => tokenize::english(),
            ZH => tokenize::chinese(self.jieba.clone()),
            _ => tokenize::generic(),
        }
    }

    fn add(&self, w: &IndexWriter, a: &Article) -> Result<usize, IndexError> {
        let f = &self.fields;
        let mut n = 0;
        for t in a.translations.iter().filter(|t| t.status == ArticleStatus::Published) {
            let (title_f, body_f) = f.for_analyser(tokenize::analyser_for(&t.locale));
            let plain = render::plain_text(&t.body);
            let body = format!("{plain}\n{}", a.tags.join(" "));
            let mut d = doc!(
                f.key => format!("{}/{}", a.id, t.locale.to_ascii_lowercase()),
                f.article => a.id.to_string(),
                f.locale => t.locale.to_ascii_lowercase(),
                f.slug => a.slug.clone(),
                f.title => t.title.clone(),
                f.category => a.category.clone(),
                f.summary => render::summary(&plain, 240),
                f.text => body.clone(),
                title_f => t.title.clone(),
                body_f => body,
            );
            for i in &a.intents {
                d.add_text(f.intents, i);
            }
            w.add_document(d)?;
            n += 1;
        }
        Ok(n)
    }

    /// Replaces the whole index with `articles` (their published variants). Returns the number
    /// of documents indexed.
    pub fn rebuild(&self, articles: &[Article]) -> Result<usize, IndexError> {
        let mut w = self.writer.lock().map_err(|_| IndexError::Poisoned)?;
        w.delete_all_documents()?;
        let mut n = 0;
        for a in articles {
            n += self.add(&w, a)?;
        }
        w.commit()?;
        self.reader.reload()?;
        Ok(n)
    }

    /// Adds many articles in one commit (bulk loads, benchmarks).
    pub fn add_all(&self, articles: &[Article]) -> Result<usize, IndexError> {
        let mut w = self.writer.lock().map_err(|_| IndexError::Poisoned)?;
        let mut n = 0;
        for a in articles {
            w.delete_term(Term::from_field_text(self.fields.article, &a.id.to_string()));
            n += self.add(&w, a)?;
        }
        w.commit()?;
        self.reader.reload()?;
        Ok(n)
    }

    /// Re-indexes one article after a save (drafts disappear, published variants appear).
    pub fn upsert(&self, a: &Article) -> Result<(), IndexError> {
        self.add_all(std::slice::from_ref(a)).map(|_| ())
    }

    /// Drops an article from the index.
    pub fn remove(&self, id: ArticleId) -> Result<(), IndexError> {
        let mut w = self.writer.lock().map_err(|_| IndexError::Poisoned)?;
        w.delete_term(Term::from_field_text(self.fields.article, &id.to_string()));
        w.commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// Indexed documents (published variants).
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// True when nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Locales that have at least one published variant.
    pub fn has_locale(&self, locale: &str) -> bool {
        let term = Term::from_field_text(self.fields.locale, &locale.to_ascii_lowercase());
        self.reader.searcher().doc_freq(&term).map(|n| n > 0).unwrap_or(false)
    }

    /// Searches the published variants in `locale`; at most `limit` hits.
    pub fn search(&self, q: &str, locale: &str, limit: usize) -> Result<SearchResults, IndexError> {
        let f = self.fields;
        let analyser_name = tokenize::analyser_for(locale);
        let mut analyser = self.analyser(locale);
        let mut words: Vec<String> = Vec::new();
        for t in tokenize::tokens(&mut analyser, q) {
            if !words.contains(&t) {
                words.push(t);
            }
        }
        if words.is_empty() || limit == 0 {
            return Ok(SearchResults::default());
        }
        let (title_f, body_f) = f.for_analyser(analyser_name);
        let searcher = self.reader.searcher();
        let mut should: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for w in &words {
            let tt = Term::from_field_text(title_f, w);
            let bt = Term::from_field_text(body_f, w);
            // Only a word the index does not know is a likely typo: known words skip the
            // (much dearer) fuzzy automaton.
            let known = searcher.doc_freq(&bt).unwrap_or(0) > 0 || searcher.doc_freq(&tt).unwrap_or(0) > 0;
            should.push((
                Occur::Should,
                Box::new(BoostQuery::new(Box::new(TermQuery::new(tt.clone(), IndexRecordOption::WithFreqs)), 2.0)),
            ));
            should.push((Occur::Should, Box::new(TermQuery::new(bt.clone(), IndexRecordOption::WithFreqs))));
            if let Some(d) = fuzzy_distance(w).filter(|_| !known) {
                should
                    .push((Occur::Should, Box::new(BoostQuery::new(Box::new(FuzzyTermQuery::new(tt, d, true)), 0.6))));
                should
                    .push((Occur::Should, Box::new(BoostQuery::new(Box::new(FuzzyTermQuery::new(bt, d, true)), 0.3))));
            }
        }
        let query = BooleanQuery::new(vec![
            (
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(f.locale, &locale.to_ascii_lowercase()),
                    IndexRecordOption::Basic,
                )),
            ),
            (Occur::Must, Box::new(BooleanQuery::new(should))),
        ]);
        let top = searcher.search(&query, &TopDocs::with_limit(limit.max(2)).order_by_score())?;
        let mut hits = Vec::with_capacity(top.len());
        let mut best_text = String::new();
        for (i, (score, addr)) in top.iter().enumerate() {
            let (hit, text) = self.hit(&searcher, *addr, *score)?;
            if i == 0 {
                best_text = text;
            }
            hits.push(hit);
        }
        let confidence = match hits.first() {
            Some(best) => {
                let mut doc_words: HashSet<String> =
                    tokenize::tokens(&mut analyser, &format!("{}\n{}", best.title, best_text)).into_iter().collect();
                doc_words.shrink_to_fit();
                let n = searcher.num_docs().max(1) as f32;
                let (mut got, mut total) = (0f32, 0f32);
                let mut max_idf = 0f32;
                let weights: Vec<(f32, f32)> = words
                    .iter()
                    .map(|w| {
                        let df = searcher.doc_freq(&Term::from_field_text(body_f, w)).unwrap_or(0) as f32;
                        let idf = if df > 0.0 { (1.0 + (n - df + 0.5) / (df + 0.5)).ln() } else { 0.0 };
                        max_idf = max_idf.max(idf);
                        let hit = if doc_words.contains(w) {
                            1.0
                        } else if fuzzy_distance(w).is_some_and(|d| doc_words.iter().any(|x| within(w, x, d))) {
                            0.7
                        } else {
                            0.0
                        };
                        (idf, hit)
                    })
                    .collect();
                for (idf, hit) in weights {
                    // A word no article uses says the question is about something else: it
                    // counts half as much as the rarest known word.
                    let weight = if idf > 0.0 { idf } else { (max_idf * 0.5).max(0.5) };
                    total += weight;
                    got += weight * hit;
                }
                let coverage = if total > 0.0 { got / total } else { 0.0 };
                let margin = match hits.get(1) {
                    Some(second) if best.score > 0.0 => ((best.score - second.score) / best.score).clamp(0.0, 1.0),
                    _ => 1.0,
                };
                (0.75 * coverage + 0.25 * margin).clamp(0.0, 1.0)
            }
            None => 0.0,
        };
        hits.truncate(limit);
        Ok(SearchResults { hits, confidence })
    }

    fn hit(
        &self,
        searcher: &tantivy::Searcher,
        addr: DocAddress,
        score: f32,
    ) -> Result<(SearchHit, String), IndexError> {
        let f = &self.fields;
        let d: TantivyDocument = searcher.doc(addr)?;
        let s = |field: Field| d.get_first(field).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        let id = uuid::Uuid::parse_str(&s(f.article)).unwrap_or_default();
        let hit = SearchHit {
            article_id: ArticleId(id),
            slug: s(f.slug),
            locale: s(f.locale),
            title: s(f.title),
            category: s(f.category),
            summary: s(f.summary),
            intents: d.get_all(f.intents).filter_map(|v| v.as_str()).map(str::to_owned).collect(),
            score,
        };
        Ok((hit, s(f.text)))
    }
}

/// Edit distance allowed for a word: none below five letters or for non-Latin words.
fn fuzzy_distance(w: &str) -> Option<u8> {
    let n = w.chars().count();
    if !w.chars().all(|c| c.is_ascii_alphabetic()) || n < 5 {
        None
    } else if n >= 9 {
        Some(2)
    } else {
        Some(1)
    }
}

/// Whether `a` and `b` are within `d` edits (Levenshtein with adjacent transposition).
fn within(a: &str, b: &str, d: u8) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let d = d as usize;
    if a.len().abs_diff(b.len()) > d {
        return false;
    }
    let mut prev2: Vec<usize> = Vec::new();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        prev2 = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()] <= d
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use switchboard_store::kb::Translation;

    fn article(slug: &str, tr: &[(&str, &str, &str, ArticleStatus)]) -> Article {
        let now = chrono::Utc::now();
        Article {
            id: ArticleId(uuid::Uuid::now_v7()),
            slug: slug.into(),
            category: "orders".into(),
            tags: vec![],
            intents: vec!["order_status".into()],
            translations: tr
                .iter()
                .map(|(l, t, b, s)| Translation {
                    locale: (*l).into(),
                    title: (*t).into(),
                    body: (*b).into(),
                    status: *s,
                    version: 1,
                    updated_at: now,
                })
                .collect(),
            created_at: now,
            updated_at: now,
        }
    }

    fn sample() -> (KbIndex, Vec<Article>) {
        let idx = KbIndex::open(None).unwrap();
        let a = vec![
            article(
                "returns",
                &[
                    (
                        "en",
                        "Returns and refunds",
                        "You can return any item within 30 days for a full refund.",
                        ArticleStatus::Published,
                    ),
                    (
                        "zh-CN",
                        "退货和退款",
                        "收到商品后30天内可以申请退货，退款会退回原支付方式。",
                        ArticleStatus::Published,
                    ),
                ],
            ),
            article(
                "password",
                &[(
                    "en",
                    "Reset your password",
                    "Use the forgotten password link on the sign-in page.",
                    ArticleStatus::Published,
                )],
            ),
            article("secret", &[("en", "Unreleased refund policy", "Draft text about refunds.", ArticleStatus::Draft)]),
        ];
        idx.rebuild(&a).unwrap();
        (idx, a)
    }

    #[test]
    fn finds_by_stem_typo_and_chinese_words() {
        let (idx, a) = sample();
        assert_eq!(idx.len(), 3, "drafts are not indexed");
        let r = idx.search("how do I get refunded for my return", "en", 5).unwrap();
        assert_eq!(r.hits[0].article_id, a[0].id);
        assert!(r.confidence > 0.5, "{}", r.confidence);
        let r = idx.search("pasword reset", "en", 5).unwrap();
        assert_eq!(r.hits[0].slug, "password", "typo tolerated");
        let r = idx.search("我想退款", "zh-CN", 5).unwrap();
        assert_eq!(r.hits[0].slug, "returns");
        assert_eq!(r.hits[0].locale, "zh-cn");
        assert!(idx.search("refund", "zh-CN", 5).unwrap().hits.iter().all(|h| h.locale == "zh-cn"));
        let off = idx.search("do you sell garden furniture", "en", 5).unwrap();
        assert!(off.hits.is_empty() || off.confidence < 0.4, "{off:?}");
        assert!(idx.search("the", "en", 5).unwrap().hits.is_empty());
        assert!(!idx.search("unreleased", "en", 5).unwrap().hits.iter().any(|h| h.slug == "secret"));
    }

    #[test]
    fn upsert_and_remove_follow_the_database() {
        let (idx, mut a) = sample();
        a[1].translations[0].status = ArticleStatus::Draft;
        idx.upsert(&a[1]).unwrap();
        assert!(idx.search("password", "en", 5).unwrap().hits.is_empty());
        idx.remove(a[0].id).unwrap();
        assert!(idx.search("refund", "en", 5).unwrap().hits.is_empty());
        assert!(!idx.has_locale("zh-CN"));
    }

    #[test]
    fn index_on_disk_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let (_, a) = sample();
        {
            let idx = KbIndex::open(Some(dir.path())).unwrap();
            idx.rebuild(&a).unwrap();
        }
        let idx = KbIndex::open(Some(dir.path())).unwrap();
        assert_eq!(idx.len(), 3);
    }

    #[test]
    fn edit_distance() {
        assert!(within("refund", "refnud", 1));
        assert!(within("pasword", "password", 1));
        assert!(!within("refund", "return", 1));
    }
}
