//! The demo's Telegram channel, fed by the Bot API simulator: updates with the secret token
//! header (several languages, a redelivery, an edit, a button press) arrive, and an agent answers
//! each new conversation through `sendMessage`.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::Context;
use reqwest::Method;
use serde_json::json;
use switchboard_channels::telegram::simulator::{Simulator, SimulatorConfig};
use switchboard_domain::{ChannelKind, ChannelSlug};
use switchboard_store::ChannelRecord;

use super::{Api, Who};

/// The demo's Telegram channel slug.
pub(super) const SLUG: &str = "telegram";

/// The simulator.
pub(super) struct TelegramDemo {
    pub(super) sim: Simulator,
}

impl TelegramDemo {
    /// Starts the simulator posting to the server at `base`.
    pub(super) async fn start(base: &str) -> anyhow::Result<TelegramDemo> {
        let cfg = SimulatorConfig { webhook: Some(format!("{base}/webhooks/{SLUG}")), ..Default::default() };
        let sim = Simulator::start(cfg).await.context("cannot start the Telegram Bot API simulator")?;
        Ok(TelegramDemo { sim })
    }

    /// The channel record pointing at the simulator.
    pub(super) fn record(&self) -> anyhow::Result<ChannelRecord> {
        let c = self.sim.config();
        Ok(ChannelRecord {
            slug: ChannelSlug::parse(SLUG)?,
            kind: ChannelKind::Telegram,
            name: "Telegram".into(),
            callback_url: None,
            secret: Some(c.secret_token.clone()),
            config: json!({"bot_token": c.bot_token, "bot_username": c.bot_username,
                "api_base_url": self.sim.api_base_url()}),
            created_at: chrono::Utc::now(),
        })
    }

    /// Posts a burst of updates and has an agent answer each new conversation once.
    pub(super) async fn feed(&self, api: &Api, burst: u64) -> anyhow::Result<usize> {
        let report = self.sim.traffic().run(burst, Duration::ZERO).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (_, list) = api
            .ok(Method::GET, &format!("/api/v1/conversations?channel={SLUG}&status=open"), Who::Lin, None, None)
            .await?;
        let mut answered = HashSet::new();
        for c in list["items"].as_array().map_or(&[][..], Vec::as_slice) {
            let Some(id) = c["id"].as_str() else { continue };
            if !answered.insert(id.to_owned()) {
                continue;
            }
            api.ok(
                Method::POST,
                &format!("/api/v1/conversations/{id}/messages"),
                Who::Lin,
                Some(&json!({"text": "Hi! This is Lin from support 👋 您好，我们马上处理。"})),
                Some(&format!("demo-telegram-{id}")),
            )
            .await?;
        }
        println!(
            "Telegram: {} updates from the Bot API simulator ({} redeliveries, {} edits, {} button presses), {} answers sent",
            report.posted,
            report.duplicates,
            report.edits,
            report.callbacks,
            answered.len()
        );
        Ok(answered.len())
    }
}
