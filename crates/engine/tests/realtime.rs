//! Live events reach subscribers on the same node, and on PostgreSQL on every node.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use switchboard_domain::{CaseNumber, ConversationId};
use switchboard_engine::{Engine, EngineConfig, RealtimeEvent};
use switchboard_store::StoreOptions;

async fn next_event(rx: &mut tokio::sync::broadcast::Receiver<RealtimeEvent>) -> RealtimeEvent {
    tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.expect("no event within 5 s").unwrap()
}

#[tokio::test]
async fn events_reach_local_subscribers() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        switchboard_store::open(dir.path().join("r.db").to_str().unwrap(), &StoreOptions::default()).await.unwrap();
    let engine = Engine::start(store, EngineConfig { workers: false, ..Default::default() }).await;
    let mut rx = engine.bus().subscribe();
    let ev = RealtimeEvent::new("conversation.updated", ConversationId::new(), Some(CaseNumber(7)), None);
    engine.bus().publish(ev.clone()).await;
    assert_eq!(next_event(&mut rx).await, ev);
    engine.shutdown(Duration::from_secs(5)).await;
}

/// Two nodes on one PostgreSQL database: an event published on one is seen on the other, once.
#[tokio::test]
async fn events_cross_nodes_through_postgres() {
    let Ok(admin) = std::env::var("TEST_DATABASE_URL") else {
        eprintln!("TEST_DATABASE_URL not set: cross-node realtime test skipped");
        return;
    };
    let (url, name) = switchboard_store::postgres::create_scratch_database(&admin, "sb_test_rt").await.unwrap();
    let a = Engine::start(
        switchboard_store::open(&url, &StoreOptions::default()).await.unwrap(),
        EngineConfig { workers: false, ..Default::default() },
    )
    .await;
    let b = Engine::start(
        switchboard_store::open(&url, &StoreOptions::default()).await.unwrap(),
        EngineConfig { workers: false, ..Default::default() },
    )
    .await;
    let mut on_a = a.bus().subscribe();
    let mut on_b = b.bus().subscribe();
    // The LISTEN connections start in the background; publish until node B hears one.
    let mut got = None;
    for _ in 0..50 {
        let ev = RealtimeEvent::new("message.created", ConversationId::new(), Some(CaseNumber(1)), None);
        a.bus().publish(ev.clone()).await;
        assert_eq!(next_event(&mut on_a).await, ev, "the publishing node hears its own event once");
        if let Ok(Ok(seen)) = tokio::time::timeout(Duration::from_millis(200), on_b.recv()).await {
            got = Some((ev, seen));
            break;
        }
    }
    let (sent, seen) = got.expect("node B never received node A's event");
    assert_eq!(sent, seen);
    // A batch crosses whole and in order.
    let batch: Vec<RealtimeEvent> = (2..5)
        .map(|i| RealtimeEvent::new("message.created", ConversationId::new(), Some(CaseNumber(i)), None))
        .collect();
    a.bus().publish_all(batch.clone()).await;
    for ev in &batch {
        assert_eq!(&next_event(&mut on_a).await, ev);
        assert_eq!(&next_event(&mut on_b).await, ev);
    }
    // Node A does not receive its own event a second time through NOTIFY.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(on_a.try_recv().is_err(), "node A heard its own event twice");
    a.shutdown(Duration::from_secs(5)).await;
    b.shutdown(Duration::from_secs(5)).await;
    switchboard_store::postgres::drop_scratch_database(&admin, &name).await.unwrap();
}
