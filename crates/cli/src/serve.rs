//! Starting and stopping the server.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use switchboard_engine::Engine;
use switchboard_store::{DynStore, StoreOptions};
use switchboard_web::{AppState, WebConfig};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::Config;

/// Opens the configured store and runs migrations.
pub async fn open_store(cfg: &Config) -> anyhow::Result<DynStore> {
    let url = cfg.database_url();
    let opts = StoreOptions { max_connections: if cfg.is_postgres() { 16 } else { 8 }, ..Default::default() };
    switchboard_store::open(&url, &opts).await.with_context(|| format!("cannot open database {}", redact(&url)))
}

/// Hides a password in a database URL.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// A running server.
pub struct Running {
    /// The bound address.
    pub addr: SocketAddr,
    /// The engine behind it.
    pub engine: Engine,
    state: AppState,
    server: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Graceful stop: no new connections, in-flight requests finish (their events are committed
    /// and answered), event streams end, then queued work is flushed and the store closed.
    pub async fn stop(self, grace: Duration) {
        self.state.shutdown.cancel();
        match tokio::time::timeout(grace, self.server).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::error!(error = %e, "server error during shutdown"),
            Ok(Err(e)) => tracing::error!(error = %e, "server task failed"),
            Err(_) => tracing::warn!("requests still running after {grace:?}; stopping anyway"),
        }
        self.engine.shutdown(grace).await;
    }
}

/// Starts the server on `listener` with `store`.
pub async fn start(cfg: &Config, store: DynStore, listener: TcpListener) -> anyhow::Result<Running> {
    start_with_workers(cfg, store, listener, true).await
}

/// Like [`start`]; `workers: false` leaves the pipeline and outbox workers off (benchmarks).
pub async fn start_with_workers(
    cfg: &Config,
    store: DynStore,
    listener: TcpListener,
    workers: bool,
) -> anyhow::Result<Running> {
    for ch in cfg.channel_records()? {
        store.upsert_channel(&ch).await.with_context(|| format!("cannot save channel {}", ch.slug))?;
    }
    let engine = Engine::start(store, switchboard_engine::EngineConfig { workers, ..cfg.engine() }).await;
    if cfg.nlp.enabled && workers {
        crate::nlp::start_triage(&engine, &cfg.nlp).await?;
    }
    crate::kb::start(&engine, cfg).await?;
    let state = AppState::new(engine.clone(), WebConfig { max_body_bytes: cfg.max_body_bytes })
        .with_trusted_proxies(cfg.proxies()?);
    let app = switchboard_web::router(state.clone());
    let addr = listener.local_addr()?;
    let stop = state.shutdown.clone();
    let server = tokio::spawn(async move {
        axum::serve(switchboard_web::nodelay(listener), app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(stop.cancelled_owned())
            .await
    });
    Ok(Running { addr, engine, state, server })
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// `switchboard serve`.
pub async fn run(cfg: Config) -> anyhow::Result<()> {
    let store = open_store(&cfg).await?;
    let listener = TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("cannot listen on {} (key `listen`)", cfg.listen))?;
    let running = start(&cfg, store, listener).await?;
    tracing::info!(addr = %running.addr, database = %redact(&cfg.database_url()), "switchboard serving");
    println!("switchboard listening on http://{}", running.addr);
    shutdown_signal().await;
    tracing::info!("shutting down: finishing queued work");
    running.stop(Duration::from_secs(cfg.shutdown_grace_secs)).await;
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://./data/x.db"), "sqlite://./data/x.db");
    }
}
