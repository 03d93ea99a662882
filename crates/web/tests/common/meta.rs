//! The Meta channels end to end: the app with WhatsApp `wa`, Messenger `fb` and Instagram `ig`
//! channels that send through a running Graph API simulator, which posts its signed webhooks
//! back to the app; an admin's API token for the agent side.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Value, json};
use switchboard_channels::meta::simulator::{Simulator, SimulatorConfig};
use switchboard_domain::{ChannelKind, ChannelSlug};
use switchboard_engine::{Engine, EngineConfig};
use switchboard_store::{ChannelRecord, DynStore, StoreOptions};
use switchboard_web::{AppState, WebConfig};
use tokio::net::TcpListener;

/// The channels, by kind and slug.
pub const CHANNELS: [(ChannelKind, &str); 3] =
    [(ChannelKind::Whatsapp, "wa"), (ChannelKind::Messenger, "fb"), (ChannelKind::Instagram, "ig")];

/// The running app and simulator.
pub struct MetaApp {
    pub base: String,
    /// An admin's API token.
    pub token: String,
    pub store: DynStore,
    pub sim: Simulator,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// Starts the simulator as `sim` says, its webhooks pointed at the app, and the app on port 0
/// against a fresh SQLite database with the engine that `engine` configures (given the data
/// folder).
pub async fn spawn_meta(sim: SimulatorConfig, engine: impl FnOnce(&Path) -> EngineConfig) -> MetaApp {
    let dir = tempfile::tempdir().unwrap();
    let store =
        switchboard_store::open(dir.path().join("t.db").to_str().unwrap(), &StoreOptions::default()).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let webhooks: HashMap<ChannelKind, String> =
        CHANNELS.iter().map(|(kind, slug)| (*kind, format!("{base}/webhooks/{slug}"))).collect();
    let sim = Simulator::start(SimulatorConfig { webhooks, ..sim }).await.unwrap();
    let c = sim.config().clone();
    for (kind, slug) in CHANNELS {
        store
            .upsert_channel(&ChannelRecord {
                slug: ChannelSlug::parse(slug).unwrap(),
                kind,
                name: slug.into(),
                callback_url: None,
                secret: Some(c.app_secret.clone()),
                config: json!({"verify_token": "meatyhamhock", "access_token": c.access_token,
                    "phone_number_id": c.phone_number_id, "page_id": c.page_id, "ig_account_id": c.ig_account_id,
                    "graph_base_url": sim.graph_base_url()}),
                created_at: chrono::Utc::now(),
            })
            .await
            .unwrap();
    }
    let token = super::admin_api_token(&store, "agent@x.io").await;
    let engine = Engine::start(store.clone(), engine(dir.path())).await;
    let app = switchboard_web::router(AppState::new(engine, WebConfig::default()));
    tokio::spawn(async move { axum::serve(listener, app).await });
    MetaApp { base, token, store, sim, http: reqwest::Client::new(), _dir: dir }
}

impl MetaApp {
    /// `GET path` with the API token, as JSON.
    pub async fn get(&self, path: &str) -> Value {
        super::get_json(&self.http, &format!("{}{path}", self.base), &self.token).await
    }

    /// `method path` with `body` and the API token: the status and the JSON answer (null when
    /// none).
    pub async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        super::send_json(&self.http, method, &format!("{}{path}", self.base), &self.token, Some(&body)).await
    }

    /// `POST path` with `body`: see [`MetaApp::send`].
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, body).await
    }
}
