//! The demo's X channel, fed by the X API simulator: signed Account Activity deliveries (public
//! complaints, questions and praise in several languages, long posts, DMs, likes, follows,
//! deletes, duplicates) arrive live, and an agent answers each new conversation — in public for
//! mentions, by DM for DMs — through the simulated X API.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::Context;
use reqwest::Method;
use serde_json::json;
use switchboard_channels::x::simulator::{Simulator, SimulatorConfig};
use switchboard_domain::{ChannelKind, ChannelSlug};
use switchboard_store::ChannelRecord;
use tokio::task::JoinHandle;

use super::{Api, Who};

/// The demo's X channel slug.
pub(super) const SLUG: &str = "x";

const LIVE_INTERVAL: Duration = Duration::from_secs(5);

/// The simulator and its live traffic.
pub(super) struct XDemo {
    pub(super) sim: Simulator,
    live: Option<JoinHandle<()>>,
}

impl Drop for XDemo {
    fn drop(&mut self) {
        if let Some(t) = self.live.take() {
            t.abort();
        }
    }
}

impl XDemo {
    /// Starts the simulator posting to the server at `base`.
    pub(super) async fn start(base: &str) -> anyhow::Result<XDemo> {
        let sim = Simulator::start(SimulatorConfig {
            webhook: Some(format!("{base}/webhooks/{SLUG}")),
            ..Default::default()
        })
        .await
        .context("cannot start the X API simulator")?;
        Ok(XDemo { sim, live: None })
    }

    /// The channel record pointing at the simulator.
    pub(super) fn record(&self) -> anyhow::Result<ChannelRecord> {
        let c = self.sim.config();
        Ok(ChannelRecord {
            slug: ChannelSlug::parse(SLUG)?,
            kind: ChannelKind::X,
            name: "X (Twitter)".into(),
            callback_url: None,
            secret: Some(c.consumer_secret.clone()),
            config: json!({"user_id": c.brand_user_id, "screen_name": c.brand_screen_name,
                "access_token": c.access_token, "api_base_url": self.sim.api_base_url()}),
            created_at: chrono::Utc::now(),
        })
    }

    /// Posts a first burst, answers each new conversation, then keeps X users writing.
    pub(super) async fn feed(&mut self, api: std::sync::Arc<Api>, burst: u64) -> anyhow::Result<usize> {
        let report = self.sim.traffic().run(burst, Duration::ZERO).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut answered = HashSet::new();
        let replies = answer_new(&api, &mut answered).await?;
        let traffic = self.sim.traffic();
        self.live = Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(LIVE_INTERVAL).await;
                traffic.run(1, Duration::ZERO).await;
                tokio::time::sleep(Duration::from_millis(500)).await;
                if let Err(e) = answer_new(&api, &mut answered).await {
                    tracing::warn!(error = %e, "demo agent could not answer on X");
                }
            }
        }));
        println!(
            "X: {} signed Account Activity deliveries from the X API simulator ({} duplicates, {} likes/follows, {} deletes), {} answers sent",
            report.posted, report.redeliveries, report.activities, report.deletes, replies
        );
        Ok(replies)
    }
}

async fn answer_new(api: &Api, answered: &mut HashSet<String>) -> anyhow::Result<usize> {
    let mut n = 0;
    let (_, list) =
        api.ok(Method::GET, &format!("/api/v1/conversations?channel={SLUG}&status=open"), Who::Lin, None, None).await?;
    for c in list["items"].as_array().map_or(&[][..], Vec::as_slice) {
        let Some(id) = c["id"].as_str() else { continue };
        if !answered.insert(id.to_owned()) {
            continue;
        }
        let (_, detail) = api.ok(Method::GET, &format!("/api/v1/conversations/{id}"), Who::Lin, None, None).await?;
        let messages = detail["messages"].as_array().map_or(&[][..], Vec::as_slice);
        let chinese = messages
            .iter()
            .any(|m| m["text"].as_str().unwrap_or("").chars().any(|ch| ('\u{4e00}'..='\u{9fff}').contains(&ch)));
        let public = detail["conversation"]["thread_key"].as_str().is_some_and(|t| t.starts_with("post:"));
        let text = match (public, chinese) {
            (true, true) => "很抱歉给您带来不便！请私信我们订单号，我们马上处理 🙏",
            (true, false) => "Sorry about this! Please DM us your order number and we'll sort it out right away 🙏",
            (false, true) => "您好！我是林小雨，马上为您查询 😊",
            (false, false) => "Hi! This is Lin from support — looking into it now 😊",
        };
        api.ok(
            Method::POST,
            &format!("/api/v1/conversations/{id}/messages"),
            Who::Lin,
            Some(&json!({"text": text})),
            Some(&format!("demo-x-{id}")),
        )
        .await?;
        n += 1;
    }
    Ok(n)
}
