//! Typed, layered configuration: defaults ← `switchboard.toml` ← `SWITCHBOARD_*` environment.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use switchboard_domain::{ChannelKind, ChannelSlug};

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// Where the SQLite database and other files live.
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://…`; default: `sqlite://<data_dir>/switchboard.db`.
    pub database_url: Option<String>,
    /// Logging.
    pub log: LogConfig,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// A resolved conversation reopens when the customer writes within this many hours.
    pub reopen_window_hours: u32,
    /// Seconds to finish queued work on shutdown.
    pub shutdown_grace_secs: u64,
    /// Ingest tuning.
    pub ingest: IngestConfig,
    /// Reply delivery.
    pub outbox: OutboxSection,
    /// Channels created or updated at start-up.
    pub channels: Vec<ChannelConfig>,
    /// Triage of inbound messages (language, sentiment, intent, priority, PII); docs/nlp.md.
    pub nlp: NlpSection,
    /// Routing, SLA timers, automation and the automatic acknowledgement.
    pub routing: RoutingSection,
    /// Reverse proxies (CIDRs or addresses) whose `X-Forwarded-For` names the client for the
    /// sign-in throttle; empty: the connection's own address is used.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Surveys, metrics and scheduled reports (docs/metrics.md, docs/reports.md).
    pub quality: crate::report::QualitySection,
    /// Knowledge base, FAQ bot, help center; docs/kb-bot.md.
    pub kb: crate::kb::KbSection,
}

/// Triage settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NlpSection {
    /// Triage every inbound message.
    pub enabled: bool,
    /// ISO 639-1 codes the brand expects; language identification is restricted to them.
    pub languages: Vec<String>,
    /// ISO 3166 region for phone numbers written without a country code ("" = only `+` numbers).
    pub phone_region: String,
    /// Latin-script text is answered by the fast distilled table alone when its two best
    /// languages differ by at least this much per character (lower = faster, less accurate).
    pub language_fast_margin: f32,
    /// Seconds between checks for new agents' intent labels (retraining when there are).
    pub retrain_interval_secs: u64,
    /// Milliseconds routing waits for a new customer message's triage before it routes without
    /// it (0: never waits).
    pub routing_wait_ms: u64,
}

/// Routing settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingSection {
    /// Run the routing job (automation, assignment, SLA clocks and timers) on this node.
    pub enabled: bool,
    /// Send the automatic acknowledgement (case number, expected answer time) on new conversations.
    pub auto_ack: bool,
    /// Also on public threads (an X mention): off means never answer in public automatically.
    pub auto_ack_public: bool,
    /// Milliseconds between rounds of the routing job (SLA timers fire within one round).
    pub tick_ms: u64,
}

/// Logging settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `pretty` or `json`.
    pub format: String,
    /// A tracing filter, e.g. `info` or `info,switchboard_engine=debug`.
    pub level: String,
}

/// Ingest tuning.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// Most events per group commit.
    pub batch_max: usize,
    /// Concurrent group-commit writers; default 1 on SQLite, 4 on PostgreSQL.
    pub writers: Option<usize>,
}

/// Reply delivery settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxSection {
    /// Attempts before a reply is marked failed.
    pub max_attempts: u32,
    /// First retry delay in milliseconds (doubles each attempt).
    pub base_backoff_ms: u64,
    /// Longest retry delay in seconds.
    pub max_backoff_secs: u64,
}

/// A channel declared in the config file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// URL-safe name.
    pub slug: String,
    /// Provider kind (`api`, `whatsapp`, …).
    pub kind: String,
    /// Display name (defaults to the slug).
    pub name: Option<String>,
    /// API channels: where replies are POSTed.
    pub callback_url: Option<String>,
    /// HMAC secret for signing callbacks.
    pub secret: Option<String>,
    /// Read the secret from this file instead.
    pub secret_file: Option<PathBuf>,
    /// Provider settings (WhatsApp/Messenger/Instagram: `verify_token`, `access_token`,
    /// `phone_number_id` / `page_id` / `ig_account_id`, `graph_base_url`, `human_agent_tag`;
    /// see docs/channels-meta.md).
    pub config: Option<serde_json::Value>,
    /// Read `config.access_token` from this file instead.
    pub access_token_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            log: LogConfig { format: "pretty".into(), level: "info".into() },
            max_body_bytes: 1024 * 1024,
            reopen_window_hours: 7 * 24,
            shutdown_grace_secs: 30,
            ingest: IngestConfig { batch_max: 512, writers: None },
            outbox: OutboxSection { max_attempts: 12, base_backoff_ms: 2000, max_backoff_secs: 1800 },
            channels: Vec::new(),
            nlp: NlpSection {
                enabled: false,
                languages: switchboard_nlp::lang::SUPPORTED.iter().map(|s| (*s).to_owned()).collect(),
                phone_region: String::new(),
                language_fast_margin: switchboard_nlp::lang::FAST_MARGIN,
                retrain_interval_secs: 3600,
                routing_wait_ms: 2000,
            },
            routing: RoutingSection { enabled: true, auto_ack: false, auto_ack_public: false, tick_ms: 2000 },
            trusted_proxies: Vec::new(),
            quality: crate::report::QualitySection::default(),
            kb: crate::kb::KbSection::default(),
        }
    }
}

impl Config {
    /// The trusted proxies, parsed; the error names the key and the entry.
    pub fn proxies(&self) -> anyhow::Result<switchboard_web::ui::proxy::TrustedProxies> {
        switchboard_web::ui::proxy::TrustedProxies::parse(&self.trusted_proxies)
            .map_err(|e| anyhow::anyhow!("invalid configuration: trusted_proxies: {e}"))
    }

    /// Loads defaults, then the file (if given, it must exist; `switchboard.toml` in the working
    /// directory is read when present), then `SWITCHBOARD_*` variables (`__` separates nested
    /// keys: `SWITCHBOARD_LOG__LEVEL=debug`). Validates the result.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        match path {
            Some(p) => {
                if !p.is_file() {
                    bail!("config file {} does not exist", p.display());
                }
                fig = fig.merge(Toml::file_exact(p));
            }
            None => fig = fig.merge(Toml::file("switchboard.toml")),
        }
        // SWITCHBOARD_CONFIG names the file (a CLI option); it is not a key.
        fig = fig.merge(Env::prefixed("SWITCHBOARD_").ignore(&["config"]).split("__"));
        let cfg: Config = fig.extract().map_err(|e| {
            let msgs: Vec<String> = e.into_iter().map(|e| e.to_string()).collect();
            anyhow::anyhow!("invalid configuration: {}", msgs.join("; "))
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks values that parse but make no sense; every message names the key.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.proxies()?;
        self.quality.validate()?;
        for l in &self.nlp.languages {
            if !switchboard_nlp::lang::SUPPORTED.contains(&l.as_str()) {
                bail!(
                    "invalid configuration: nlp.languages has {l:?}; supported: {}",
                    switchboard_nlp::lang::SUPPORTED.join(", ")
                );
            }
        }
        if self.nlp.languages.is_empty() {
            bail!("invalid configuration: nlp.languages must name at least one language");
        }
        if !(0.0..=10.0).contains(&self.nlp.language_fast_margin) {
            bail!("invalid configuration: nlp.language_fast_margin must be between 0 and 10");
        }
        if self.nlp.retrain_interval_secs == 0 {
            bail!("invalid configuration: nlp.retrain_interval_secs must be at least 1");
        }
        if self.max_body_bytes < 1024 || self.max_body_bytes > 64 * 1024 * 1024 {
            bail!(
                "invalid configuration: max_body_bytes must be between 1024 and 67108864, got {}",
                self.max_body_bytes
            );
        }
        if !matches!(self.log.format.as_str(), "pretty" | "json") {
            bail!("invalid configuration: log.format must be \"pretty\" or \"json\", got {:?}", self.log.format);
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|e| anyhow::anyhow!("invalid configuration: log.level {:?}: {e}", self.log.level))?;
        if let Some(url) = &self.database_url {
            let ok = url.starts_with("sqlite://") || url.starts_with("postgres://") || url.starts_with("postgresql://");
            if !ok {
                bail!("invalid configuration: database_url must start with sqlite:// or postgres://, got {url:?}");
            }
        }
        if self.reopen_window_hours == 0 {
            bail!("invalid configuration: reopen_window_hours must be at least 1");
        }
        if self.ingest.batch_max == 0 || self.ingest.batch_max > 10_000 {
            bail!("invalid configuration: ingest.batch_max must be between 1 and 10000");
        }
        if self.ingest.writers == Some(0) {
            bail!("invalid configuration: ingest.writers must be at least 1");
        }
        if !(100..=60_000).contains(&self.routing.tick_ms) {
            bail!("invalid configuration: routing.tick_ms must be between 100 and 60000");
        }
        if self.outbox.max_attempts == 0 {
            bail!("invalid configuration: outbox.max_attempts must be at least 1");
        }
        for (i, ch) in self.channels.iter().enumerate() {
            ChannelSlug::parse(&ch.slug)
                .map_err(|e| anyhow::anyhow!("invalid configuration: channels[{i}].slug: {e}"))?;
            ch.kind
                .parse::<ChannelKind>()
                .map_err(|e| anyhow::anyhow!("invalid configuration: channels[{i}].kind: {e}"))?;
            if ch.secret.is_some() && ch.secret_file.is_some() {
                bail!("invalid configuration: channels[{i}]: set secret or secret_file, not both");
            }
            if let Some(c) = &ch.config
                && !c.is_object()
            {
                bail!("invalid configuration: channels[{i}].config must be a table");
            }
            if let Ok(kind) = ch.kind.parse::<ChannelKind>() {
                let c = ch.config.clone().unwrap_or_else(|| serde_json::json!({}));
                switchboard_channels::validate_config(kind, &c)
                    .map_err(|e| anyhow::anyhow!("invalid configuration: channels[{i}].{e}"))?;
            }
        }
        Ok(())
    }

    /// The database URL in force.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("switchboard.db").display()))
    }

    /// Whether the database is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.database_url().starts_with("postgres")
    }

    /// The engine settings this config implies.
    pub fn engine(&self) -> switchboard_engine::EngineConfig {
        let default_writers = if self.is_postgres() { 4 } else { 1 };
        switchboard_engine::EngineConfig {
            ingest_batch_max: self.ingest.batch_max,
            ingest_writers: self.ingest.writers.unwrap_or(default_writers),
            threading: switchboard_store::ThreadingRules {
                reopen_window: chrono::Duration::hours(self.reopen_window_hours.into()),
            },
            outbox: switchboard_engine::outbox::OutboxConfig {
                max_attempts: self.outbox.max_attempts,
                base_backoff: Duration::from_millis(self.outbox.base_backoff_ms),
                max_backoff: Duration::from_secs(self.outbox.max_backoff_secs),
                ..Default::default()
            },
            routing: switchboard_engine::routing::RoutingConfig {
                enabled: self.routing.enabled,
                auto_ack: self.routing.auto_ack,
                auto_ack_public: self.routing.auto_ack_public,
                tick: Duration::from_millis(self.routing.tick_ms),
                ..Default::default()
            },
            media: Some(switchboard_engine::media::MediaConfig::new(self.data_dir.join("media"))),
            quality: self.quality.engine(),
            ..Default::default()
        }
    }

    /// Channel records declared in the file, with secrets read from their files.
    pub fn channel_records(&self) -> anyhow::Result<Vec<switchboard_store::ChannelRecord>> {
        self.channels
            .iter()
            .enumerate()
            .map(|(i, ch)| {
                let secret = match &ch.secret_file {
                    Some(p) => Some(
                        std::fs::read_to_string(p)
                            .with_context(|| format!("channels[{i}].secret_file {}", p.display()))?
                            .trim()
                            .to_owned(),
                    ),
                    None => ch.secret.clone(),
                };
                let mut config = ch.config.clone().unwrap_or_else(|| serde_json::json!({}));
                if let Some(p) = &ch.access_token_file {
                    let token = std::fs::read_to_string(p)
                        .with_context(|| format!("channels[{i}].access_token_file {}", p.display()))?;
                    config["access_token"] = serde_json::Value::String(token.trim().to_owned());
                }
                Ok(switchboard_store::ChannelRecord {
                    slug: ChannelSlug::parse(&ch.slug)?,
                    kind: ch.kind.parse()?,
                    name: ch.name.clone().unwrap_or_else(|| ch.slug.clone()),
                    callback_url: ch.callback_url.clone(),
                    secret,
                    config,
                    created_at: chrono::Utc::now(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(toml: &str) -> anyhow::Result<Config> {
        let dir = tempfile::tempdir()?;
        let p = dir.path().join("switchboard.toml");
        std::fs::write(&p, toml)?;
        Config::load(Some(&p))
    }

    #[test]
    fn defaults_are_sensible() -> anyhow::Result<()> {
        let c = load_str("")?;
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.max_body_bytes, 1024 * 1024);
        assert!(c.database_url().ends_with("data/switchboard.db"));
        assert!(!c.is_postgres());
        Ok(())
    }

    #[test]
    fn bad_values_name_the_key() {
        let cases = [
            ("listen = \"not an address\"", "listen"),
            ("max_body_bytes = 10", "max_body_bytes"),
            ("max_body_bytes = \"big\"", "max_body_bytes"),
            ("database_url = \"mysql://x\"", "database_url"),
            ("[log]\nformat = \"xml\"", "log.format"),
            ("colour = true", "colour"),
            ("[[channels]]\nslug = \"Bad Slug\"\nkind = \"api\"", "channels[0].slug"),
            ("[[channels]]\nslug = \"ok\"\nkind = \"fax\"", "channels[0].kind"),
            ("[nlp]\nlanguages = [\"en\", \"xx\"]", "nlp.languages"),
            ("[nlp]\nlanguage_fast_margin = -1", "nlp.language_fast_margin"),
            ("[nlp]\ncolour = 1", "colour"),
            ("[routing]\ntick_ms = 5", "routing.tick_ms"),
            ("trusted_proxies = [\"10.0.0.0/33\"]", "trusted_proxies"),
            ("[routing]\nauto_ack = \"yes\"", "routing.auto_ack"),
            ("[[channels]]\nslug = \"wa\"\nkind = \"whatsapp\"\nconfig = { phone_id = \"1\" }", "channels[0].config"),
        ];
        for (toml, key) in cases {
            let err = load_str(toml).expect_err(toml).to_string();
            assert!(err.contains(key), "{toml:?} -> {err}");
        }
    }

    #[test]
    fn meta_channels_take_their_settings_from_the_file() -> anyhow::Result<()> {
        let c = load_str(
            "[[channels]]\nslug = \"wa\"\nkind = \"whatsapp\"\nsecret = \"app\"\n\
             [channels.config]\nverify_token = \"v\"\naccess_token = \"t\"\nphone_number_id = \"106540352242922\"\n",
        )?;
        let recs = c.channel_records()?;
        assert_eq!(recs[0].config["phone_number_id"], "106540352242922");
        assert_eq!(recs[0].secret.as_deref(), Some("app"));
        Ok(())
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let err = Config::load(Some(Path::new("/nonexistent/switchboard.toml"))).expect_err("missing");
        assert!(err.to_string().contains("does not exist"));
    }
}
