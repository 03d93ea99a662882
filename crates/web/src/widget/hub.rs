//! Wakes open widget streams. The realtime bus (local, and other nodes' through PostgreSQL
//! NOTIFY) says a stream has new items or an agent is typing; the hub holds one watch channel per
//! stream with open connections, and each connection then reads the store from its own cursor.
//! Notifications carry no content: a missed or doubled one costs a read, never a message.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use switchboard_domain::{ChannelKind, ConversationId};
use switchboard_engine::RealtimeEvent;
use switchboard_engine::widget::STREAM_EVENT;
use tokio::sync::{broadcast, watch};

use crate::AppState;
use crate::ui::live::PRESENCE;

/// What a stream's connections are told.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Signal {
    /// Bumped when the stream may have new items.
    pub version: u64,
    /// Bumped on each agent typing report.
    pub typing_version: u64,
    /// The agent's name and whether they are typing, from the latest report.
    pub typing: Option<(String, bool)>,
}

type StreamKey = (String, String);

/// Open streams of this node.
#[derive(Default)]
pub struct Hub {
    streams: Mutex<HashMap<StreamKey, watch::Sender<Signal>>>,
    /// Which widget stream a conversation belongs to (`None`: not a widget conversation).
    conversations: Mutex<HashMap<ConversationId, Option<StreamKey>>>,
    started: OnceLock<()>,
}

/// One connection's subscription; leaving drops the stream's entry when it was the last.
pub struct Subscription {
    hub: Arc<Hub>,
    key: StreamKey,
    /// Changes of the stream.
    pub rx: watch::Receiver<Signal>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Ok(mut map) = self.hub.streams.lock()
            && map.get(&self.key).is_some_and(|tx| tx.receiver_count() <= 1)
        {
            map.remove(&self.key);
        }
    }
}

/// Most conversations remembered.
const CONVERSATIONS_MAX: usize = 50_000;

impl Hub {
    /// Subscribes to a stream, starting the bus listener on first use.
    pub fn subscribe(st: &AppState, channel: &str, subject: &str) -> Subscription {
        let hub = st.widget.hub.clone();
        hub.started.get_or_init(|| {
            tokio::spawn(listen(st.clone(), st.engine.bus().subscribe()));
        });
        let key = (channel.to_owned(), subject.to_owned());
        let rx = match hub.streams.lock() {
            Ok(mut map) => map.entry(key.clone()).or_insert_with(|| watch::channel(Signal::default()).0).subscribe(),
            // A poisoned lock only happens after a panic elsewhere; this connection gets a
            // channel nobody wakes and still reads its backlog.
            Err(_) => watch::channel(Signal::default()).1,
        };
        Subscription { hub, key, rx }
    }

    /// Number of streams with open connections on this node.
    pub fn open_streams(&self) -> usize {
        self.streams.lock().map(|m| m.len()).unwrap_or(0)
    }

    fn bump(&self, key: &StreamKey) {
        if let Ok(map) = self.streams.lock()
            && let Some(tx) = map.get(key)
        {
            tx.send_modify(|s| s.version += 1);
        }
    }

    fn bump_all(&self) {
        if let Ok(map) = self.streams.lock() {
            for tx in map.values() {
                tx.send_modify(|s| s.version += 1);
            }
        }
    }

    fn typing(&self, key: &StreamKey, name: String, on: bool) {
        if let Ok(map) = self.streams.lock()
            && let Some(tx) = map.get(key)
        {
            tx.send_modify(|s| {
                s.typing_version += 1;
                s.typing = Some((name, on));
            });
        }
    }

    /// Remembers a conversation's stream (learned from a delivered reply).
    fn remember(&self, conv: ConversationId, key: Option<StreamKey>) {
        if let Ok(mut map) = self.conversations.lock() {
            if map.len() >= CONVERSATIONS_MAX {
                map.clear();
            }
            map.insert(conv, key);
        }
    }
}

async fn listen(st: AppState, mut rx: broadcast::Receiver<RealtimeEvent>) {
    let hub = st.widget.hub.clone();
    let cancel = st.shutdown.clone();
    loop {
        let ev = tokio::select! {
            _ = cancel.cancelled() => return,
            ev = rx.recv() => ev,
        };
        match ev {
            Ok(ev) if ev.kind == STREAM_EVENT => {
                let data = ev.data.unwrap_or_default();
                let (Some(ch), Some(subject)) = (data["channel"].as_str(), data["subject"].as_str()) else { continue };
                let key = (ch.to_owned(), subject.to_owned());
                hub.remember(ev.conversation_id, Some(key.clone()));
                hub.bump(&key);
            }
            Ok(ev) if ev.kind == PRESENCE => {
                let data = ev.data.clone().unwrap_or_default();
                // Visitors' own typing reports go to agents only.
                if data["customer"].as_bool() == Some(true) || hub.open_streams() == 0 {
                    continue;
                }
                let on = match data["state"].as_str() {
                    Some("typing") => true,
                    Some("left") => false,
                    _ => continue,
                };
                let name = data["name"].as_str().unwrap_or_default().to_owned();
                if let Some(key) = stream_of(&st, &hub, ev.conversation_id).await {
                    hub.typing(&key, name, on);
                }
            }
            Ok(_) => {}
            // Missed events: every open stream re-reads from its cursor.
            Err(broadcast::error::RecvError::Lagged(_)) => hub.bump_all(),
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// The widget stream of a conversation, from memory or the store.
async fn stream_of(st: &AppState, hub: &Hub, conv: ConversationId) -> Option<StreamKey> {
    if let Ok(map) = hub.conversations.lock()
        && let Some(found) = map.get(&conv)
    {
        return found.clone();
    }
    let store = st.engine.store();
    let c = store.get_conversation(conv).await.ok()??;
    let ch = st.channels.get(store, &c.channel).await.ok()??;
    let key = if ch.kind == ChannelKind::Web {
        let contact = store.get_contact(c.contact_id).await.ok()??;
        contact
            .identities
            .iter()
            .find(|i| i.channel == c.channel)
            .map(|i| (c.channel.as_str().to_owned(), i.provider_user_id.clone()))
    } else {
        None
    };
    hub.remember(conv, key.clone());
    key
}
