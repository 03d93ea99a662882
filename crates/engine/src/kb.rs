//! The knowledge base service: the database is the source of truth, the tantivy index in the
//! data directory a cache of its published variants, rebuilt at start and updated on every
//! save through this service. Search runs on the blocking pool. See docs/kb-bot.md.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use switchboard_domain::UserId;
use switchboard_kb::index::IndexError;
use switchboard_kb::{KbIndex, SearchResults};
use switchboard_store::kb::{Article, ArticleId, ArticleInput};
use switchboard_store::{Backend, DynStore, StoreError};

use crate::Engine;

/// Settings of the knowledge base and the bot.
#[derive(Clone)]
pub struct KbConfig {
    /// Folder of the search index (`None`: in memory).
    pub index_dir: Option<PathBuf>,
    /// Public base URL of the help center links the bot sends (`https://help.example.com`).
    pub public_url: String,
    /// Run the FAQ bot job (it still acts only on channels whose bot settings enable it).
    pub bot: bool,
    /// Languages for triage the bot computes itself when the triage step has not run yet.
    pub languages: Vec<String>,
    /// How often a PostgreSQL node rebuilds its index to pick up other nodes' saves.
    pub refresh_every: Duration,
    /// Key of the case-status links' HMAC (never shown).
    pub case_link_secret: Vec<u8>,
}

impl Default for KbConfig {
    fn default() -> Self {
        Self {
            index_dir: None,
            public_url: "http://localhost:8080".into(),
            bot: true,
            languages: vec!["en".into(), "zh".into(), "es".into(), "de".into(), "fr".into(), "pt".into()],
            refresh_every: Duration::from_secs(300),
            case_link_secret: Vec::new(),
        }
    }
}

impl std::fmt::Debug for KbConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KbConfig")
            .field("index_dir", &self.index_dir)
            .field("public_url", &self.public_url)
            .field("bot", &self.bot)
            .field("languages", &self.languages)
            .finish_non_exhaustive()
    }
}

/// Articles and their search index. Cheap to share in an `Arc`.
pub struct KbService {
    store: DynStore,
    index: Arc<KbIndex>,
    config: KbConfig,
    /// Help-center votes per address in the current window (this node's view).
    votes: std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, u32)>>,
}

/// Help-center votes one address may cast per [`VOTE_WINDOW`].
const VOTES_PER_WINDOW: u32 = 10;
const VOTE_WINDOW: Duration = Duration::from_secs(60);

fn index_err(e: IndexError) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl KbService {
    /// Opens the index and fills it from the database.
    pub async fn open(store: DynStore, config: KbConfig) -> Result<KbService, StoreError> {
        let dir = config.index_dir.clone();
        let index = tokio::task::spawn_blocking(move || KbIndex::open(dir.as_deref()))
            .await
            .map_err(|e| StoreError::Backend(format!("index task: {e}")))?
            .map_err(index_err)?;
        let svc = KbService { store, index: Arc::new(index), config, votes: Default::default() };
        let n = svc.rebuild().await?;
        tracing::info!(documents = n, "knowledge base index built");
        Ok(svc)
    }

    /// The search index.
    pub fn index(&self) -> &Arc<KbIndex> {
        &self.index
    }

    /// The configuration.
    pub fn config(&self) -> &KbConfig {
        &self.config
    }

    /// Rebuilds the index from the database; returns the documents indexed.
    pub async fn rebuild(&self) -> Result<usize, StoreError> {
        let articles = self.store.list_articles().await?;
        let index = self.index.clone();
        tokio::task::spawn_blocking(move || index.rebuild(&articles))
            .await
            .map_err(|e| StoreError::Backend(format!("index task: {e}")))?
            .map_err(index_err)
    }

    /// Saves an article (a new version of each changed variant) and re-indexes it.
    pub async fn save(&self, input: &ArticleInput, by: Option<UserId>) -> Result<Article, StoreError> {
        self.reindex(self.store.save_article(input, by).await?).await
    }

    /// Deletes one locale variant of an article and re-indexes the rest.
    pub async fn delete_translation(&self, id: ArticleId, locale: &str) -> Result<Article, StoreError> {
        self.reindex(self.store.delete_translation(id, locale).await?).await
    }

    /// Puts an article's published variants (as stored now) in the index.
    async fn reindex(&self, article: Article) -> Result<Article, StoreError> {
        let index = self.index.clone();
        let a = article.clone();
        tokio::task::spawn_blocking(move || index.upsert(&a))
            .await
            .map_err(|e| StoreError::Backend(format!("index task: {e}")))?
            .map_err(index_err)?;
        Ok(article)
    }

    /// Deletes an article and drops it from the index.
    pub async fn delete(&self, id: ArticleId) -> Result<(), StoreError> {
        self.store.delete_article(id).await?;
        let index = self.index.clone();
        tokio::task::spawn_blocking(move || index.remove(id))
            .await
            .map_err(|e| StoreError::Backend(format!("index task: {e}")))?
            .map_err(index_err)
    }

    /// Searches the published variants in `locale`.
    pub async fn search(&self, q: &str, locale: &str, limit: usize) -> Result<SearchResults, StoreError> {
        let (index, q, locale) = (self.index.clone(), q.to_owned(), locale.to_owned());
        tokio::task::spawn_blocking(move || index.search(&q, &locale, limit))
            .await
            .map_err(|e| StoreError::Backend(format!("search task: {e}")))?
            .map_err(index_err)
    }

    /// Whether `address` may vote now (and counts the vote).
    pub fn allow_vote(&self, address: &str) -> bool {
        let Ok(mut m) = self.votes.lock() else { return false };
        let now = std::time::Instant::now();
        if m.len() > 100_000 {
            m.retain(|_, (start, _)| now.duration_since(*start) < VOTE_WINDOW);
        }
        let e = m.entry(address.to_owned()).or_insert((now, 0));
        if now.duration_since(e.0) >= VOTE_WINDOW {
            *e = (now, 0);
        }
        e.1 += 1;
        e.1 <= VOTES_PER_WINDOW
    }

    /// A signed path to the customer's case-status page, valid until `expires`.
    pub fn case_link(&self, case: i64, expires: chrono::DateTime<chrono::Utc>) -> String {
        let exp = expires.timestamp();
        format!("/case/{case}?exp={exp}&sig={}", self.case_signature(case, exp))
    }

    fn case_signature(&self, case: i64, exp: i64) -> String {
        use hmac::Mac;
        // HMAC accepts keys of any length; this branch is unreachable.
        let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.config.case_link_secret) else {
            return String::new();
        };
        mac.update(format!("case:{case}:{exp}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whether a case link's signature is right (constant time) and it has not expired.
    pub fn verify_case_link(&self, case: i64, exp: i64, sig: &str, now: chrono::DateTime<chrono::Utc>) -> bool {
        use hmac::Mac;
        if self.config.case_link_secret.is_empty() || exp < now.timestamp() {
            return false;
        }
        let Ok(given) = hex::decode(sig) else { return false };
        let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.config.case_link_secret) else {
            return false;
        };
        mac.update(format!("case:{case}:{exp}").as_bytes());
        mac.verify_slice(&given).is_ok()
    }

    /// The public help-center URL of an article variant.
    pub fn article_url(&self, slug: &str, locale: &str) -> String {
        format!("{}/help/{locale}/articles/{slug}", self.config.public_url.trim_end_matches('/'))
    }
}

impl Engine {
    /// Opens the knowledge base (building its index from the database) and, when configured,
    /// starts the FAQ bot job. Later calls return the service started first.
    pub async fn start_kb(&self, config: KbConfig) -> Result<Arc<KbService>, StoreError> {
        if let Some(kb) = self.inner.kb.get() {
            return Ok(kb.clone());
        }
        let bot = config.bot;
        let refresh = config.refresh_every;
        let kb = Arc::new(KbService::open(self.inner.store.clone(), config).await?);
        if self.inner.kb.set(kb.clone()).is_err() {
            return self.inner.kb.get().cloned().ok_or(StoreError::Closed);
        }
        let mut tasks = Vec::new();
        if bot && self.inner.config.workers {
            tasks.push(tokio::spawn(crate::bot::run(self.clone(), kb.clone(), self.inner.cancel.clone())));
        }
        if self.inner.store.backend() == Backend::Postgres {
            tasks.push(tokio::spawn(refresh_loop(kb.clone(), refresh, self.inner.cancel.clone())));
        }
        if let Ok(mut t) = self.inner.tasks.lock() {
            t.extend(tasks);
        }
        Ok(kb)
    }

    /// The knowledge base, once [`Engine::start_kb`] ran.
    pub fn kb(&self) -> Option<Arc<KbService>> {
        self.inner.kb.get().cloned()
    }
}

/// Other nodes' saves reach this node's index at the next rebuild.
async fn refresh_loop(kb: Arc<KbService>, every: Duration, cancel: tokio_util::sync::CancellationToken) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        if let Err(e) = kb.rebuild().await {
            tracing::warn!(error = %e, "knowledge base index refresh failed");
        }
    }
}
