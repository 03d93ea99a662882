//! The demo's WhatsApp, Messenger and Instagram channels, fed by the Graph API simulator: signed
//! webhooks in several languages arrive live, an agent answers each new conversation, and the
//! simulator's status webhooks mark the answers delivered and read.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::Context;
use reqwest::Method;
use serde_json::json;
use switchboard_channels::meta::simulator::{Simulator, SimulatorConfig};
use switchboard_domain::{ChannelKind, ChannelSlug};
use switchboard_store::ChannelRecord;
use tokio::task::JoinHandle;

use super::{Api, Who};

/// The demo's Meta channels: kind, slug, display name.
pub(super) const CHANNELS: [(ChannelKind, &str, &str); 3] = [
    (ChannelKind::Whatsapp, "whatsapp", "WhatsApp"),
    (ChannelKind::Messenger, "messenger", "Facebook Messenger"),
    (ChannelKind::Instagram, "instagram", "Instagram"),
];

/// How often the live traffic posts a customer message.
const LIVE_INTERVAL: Duration = Duration::from_secs(4);

/// The simulator and its live traffic.
pub(super) struct MetaDemo {
    pub(super) sim: Simulator,
    live: Option<JoinHandle<()>>,
}

impl Drop for MetaDemo {
    fn drop(&mut self) {
        if let Some(t) = self.live.take() {
            t.abort();
        }
    }
}

impl MetaDemo {
    /// Starts the simulator posting to the server at `base`.
    pub(super) async fn start(base: &str) -> anyhow::Result<MetaDemo> {
        let webhooks = CHANNELS.iter().map(|(k, slug, _)| (*k, format!("{base}/webhooks/{slug}"))).collect();
        let sim = Simulator::start(SimulatorConfig { webhooks, ..Default::default() })
            .await
            .context("cannot start the Graph API simulator")?;
        Ok(MetaDemo { sim, live: None })
    }

    /// The channel records pointing at the simulator.
    pub(super) fn records(&self) -> anyhow::Result<Vec<ChannelRecord>> {
        let c = self.sim.config();
        CHANNELS
            .iter()
            .map(|(kind, slug, name)| {
                Ok(ChannelRecord {
                    slug: ChannelSlug::parse(slug)?,
                    kind: *kind,
                    name: (*name).to_owned(),
                    callback_url: None,
                    secret: Some(c.app_secret.clone()),
                    config: json!({"verify_token": "demo-verify-token", "access_token": c.access_token,
                        "phone_number_id": c.phone_number_id, "page_id": c.page_id, "ig_account_id": c.ig_account_id,
                        "graph_base_url": self.sim.graph_base_url()}),
                    created_at: chrono::Utc::now(),
                })
            })
            .collect()
    }

    /// Posts a first burst of customer messages, has an agent answer each new conversation, then
    /// keeps customers writing every few seconds (answered too) until the demo stops.
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
                    tracing::warn!(error = %e, "demo agent could not answer");
                }
            }
        }));
        println!(
            "WhatsApp, Messenger and Instagram: {} signed webhooks from the Graph API simulator ({} redeliveries), {} answers sent",
            report.posted, report.redeliveries, replies
        );
        Ok(replies)
    }
}

/// Answers every Meta conversation not answered yet; returns how many answers were posted.
async fn answer_new(api: &Api, answered: &mut HashSet<String>) -> anyhow::Result<usize> {
    let mut n = 0;
    for (_, slug, _) in CHANNELS {
        let (_, list) = api
            .ok(Method::GET, &format!("/api/v1/conversations?channel={slug}&status=open"), Who::Lin, None, None)
            .await?;
        for c in list["items"].as_array().map_or(&[][..], Vec::as_slice) {
            let Some(id) = c["id"].as_str() else { continue };
            if !answered.insert(id.to_owned()) {
                continue;
            }
            let (_, w) =
                api.ok(Method::GET, &format!("/api/v1/conversations/{id}/window"), Who::Lin, None, None).await?;
            if w["open"] != true {
                continue;
            }
            let (_, detail) = api.ok(Method::GET, &format!("/api/v1/conversations/{id}"), Who::Lin, None, None).await?;
            let chinese =
                detail["messages"].as_array().map_or(&[][..], Vec::as_slice).iter().any(|m| {
                    m["text"].as_str().unwrap_or("").chars().any(|ch| ('\u{4e00}'..='\u{9fff}').contains(&ch))
                });
            let text = if chinese {
                "您好！我是林小雨，马上为您处理 😊"
            } else {
                "Hi! This is Lin from support — looking into it now 😊"
            };
            api.ok(
                Method::POST,
                &format!("/api/v1/conversations/{id}/messages"),
                Who::Lin,
                Some(&json!({"text": text})),
                Some(&format!("demo-meta-{id}")),
            )
            .await?;
            n += 1;
        }
    }
    Ok(n)
}
