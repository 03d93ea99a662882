//! `switchboard kb …`: import and export the knowledge base as a folder of Markdown files with
//! front matter, load the seed articles, sign a customer's case-status link; and the `[kb]`
//! configuration section. See docs/kb-bot.md.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use serde::{Deserialize, Serialize};
use switchboard_engine::Engine;
use switchboard_engine::kb::{KbConfig, KbService};
use switchboard_store::DynStore;

use crate::config::Config;

/// `[kb]` settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KbSection {
    /// Open the knowledge base (search index, help center, API) with the server.
    pub enabled: bool,
    /// Run the FAQ bot (it acts only on channels whose bot settings enable it).
    pub bot: bool,
    /// Public base URL of the help center in the bot's links (default: `http://<listen>`).
    pub public_url: Option<String>,
    /// Key of the case-status links' HMAC; default: a random key kept in
    /// `<data_dir>/case-link.key`.
    pub case_link_secret: Option<String>,
    /// Read the key from this file instead.
    pub case_link_secret_file: Option<PathBuf>,
}

impl Default for KbSection {
    fn default() -> Self {
        Self { enabled: true, bot: true, public_url: None, case_link_secret: None, case_link_secret_file: None }
    }
}

/// `switchboard kb` subcommands.
#[derive(Debug, Subcommand)]
pub enum KbCommand {
    /// Imports `DIR/<slug>/<locale>.md` files (front matter + Markdown); existing slugs are
    /// updated, each changed variant gets a new version.
    Import {
        /// The folder.
        dir: PathBuf,
    },
    /// Writes every article variant to `DIR/<slug>/<locale>.md`.
    Export {
        /// The folder (created if missing).
        dir: PathBuf,
    },
    /// Loads the built-in seed articles (English and Chinese customer-service topics).
    Seed,
    /// Retrieval quality (MRR@5, recall@1) and the bot's answer/handoff decisions on labelled
    /// question sets: the seed KB (English, Chinese) and CLINC150 / banking77.
    Eval(crate::bench_kb::EvalArgs),
    /// Prints a signed link to a customer's case-status page.
    CaseLink {
        /// Case number (`SB-000123` or `123`).
        case: String,
        /// Hours the link stays valid.
        #[arg(long, default_value_t = 72)]
        hours: i64,
    },
}

/// The HMAC key for case links: configured, from a file, or generated once and kept.
fn case_link_secret(cfg: &Config) -> anyhow::Result<Vec<u8>> {
    if let Some(s) = &cfg.kb.case_link_secret {
        return Ok(s.as_bytes().to_vec());
    }
    if let Some(p) = &cfg.kb.case_link_secret_file {
        let s = std::fs::read_to_string(p).with_context(|| format!("kb.case_link_secret_file {}", p.display()))?;
        return Ok(s.trim().as_bytes().to_vec());
    }
    let path = cfg.data_dir.join("case-link.key");
    if let Ok(s) = std::fs::read_to_string(&path) {
        return Ok(s.trim().as_bytes().to_vec());
    }
    std::fs::create_dir_all(&cfg.data_dir).with_context(|| format!("cannot create {}", cfg.data_dir.display()))?;
    let key = hex::encode(rand::random::<[u8; 32]>());
    std::fs::write(&path, &key).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(key.into_bytes())
}

/// The engine's knowledge-base settings for this config.
pub fn kb_config(cfg: &Config) -> anyhow::Result<KbConfig> {
    Ok(KbConfig {
        index_dir: Some(cfg.data_dir.join("kb-index")),
        public_url: cfg.kb.public_url.clone().unwrap_or_else(|| format!("http://{}", cfg.listen)),
        bot: cfg.kb.bot,
        languages: cfg.nlp.languages.clone(),
        case_link_secret: case_link_secret(cfg)?,
        ..KbConfig::default()
    })
}

/// Opens the knowledge base with the server (and the bot when configured).
pub async fn start(engine: &Engine, cfg: &Config) -> anyhow::Result<()> {
    if cfg.kb.enabled {
        engine.start_kb(kb_config(cfg)?).await.context("cannot open the knowledge base")?;
    }
    Ok(())
}

/// Runs a `kb` subcommand on `store`.
pub async fn run(cfg: &Config, store: DynStore, command: KbCommand) -> anyhow::Result<()> {
    if let KbCommand::Eval(args) = command {
        return tokio::task::spawn_blocking(move || crate::bench_kb::eval(args)).await?;
    }
    // The running server owns the index folder: the CLI writes the database and indexes in memory;
    // the server's index follows at its next start (or save through the API).
    let kb_cfg = KbConfig { bot: false, index_dir: None, ..kb_config(cfg)? };
    match command {
        KbCommand::Import { dir } => {
            let articles = read(&dir)?;
            let kb = KbService::open(store, kb_cfg).await?;
            let n = articles.len();
            for a in &articles {
                kb.save(a, None).await.with_context(|| format!("article {}", a.slug))?;
            }
            println!("imported {n} articles from {}", dir.display());
        }
        KbCommand::Export { dir } => {
            let articles = store.list_articles().await?;
            let d = dir.clone();
            let files = tokio::task::spawn_blocking(move || switchboard_kb::article::write_dir(&d, &articles))
                .await?
                .with_context(|| format!("cannot write {}", dir.display()))?;
            println!("exported {files} files to {}", dir.display());
        }
        KbCommand::Seed => {
            let n = seed(store, kb_cfg).await?;
            println!("loaded {n} seed articles");
        }
        KbCommand::Eval(_) => {}
        KbCommand::CaseLink { case, hours } => {
            let number: i64 = case
                .trim()
                .trim_start_matches("SB-")
                .parse()
                .map_err(|_| anyhow::anyhow!("case {case:?}: expected a case number such as SB-000123"))?;
            if store.get_conversation_by_case(switchboard_domain::CaseNumber(number)).await?.is_none() {
                anyhow::bail!("case {case} does not exist");
            }
            let kb = KbService::open(store, kb_cfg).await?;
            let link = kb.case_link(number, chrono::Utc::now() + chrono::Duration::hours(hours.clamp(1, 24 * 90)));
            println!("{}{link}", kb.config().public_url.trim_end_matches('/'));
        }
    }
    Ok(())
}

fn read(dir: &Path) -> anyhow::Result<Vec<switchboard_store::kb::ArticleInput>> {
    if !dir.is_dir() {
        anyhow::bail!("{} is not a folder", dir.display());
    }
    Ok(switchboard_kb::article::read_dir(dir)?)
}

/// Saves the seed articles; returns how many.
pub async fn seed(store: DynStore, cfg: KbConfig) -> anyhow::Result<usize> {
    let articles = switchboard_kb::seed::articles()?;
    let kb = KbService::open(store, cfg).await?;
    for a in &articles {
        kb.save(a, None).await.with_context(|| format!("seed article {}", a.slug))?;
    }
    Ok(articles.len())
}

/// The demo's knowledge base: the seed articles, and the bot on the mobile-app channel.
pub async fn demo(engine: &Engine) -> anyhow::Result<()> {
    let Some(kb) = engine.kb() else { return Ok(()) };
    for a in switchboard_kb::seed::articles()? {
        kb.save(&a, None).await.with_context(|| format!("seed article {}", a.slug))?;
    }
    engine
        .store()
        .save_bot_settings("mobile-app", &serde_json::json!({"enabled": true}))
        .await
        .context("cannot enable the demo bot")?;
    Ok(())
}
