//! `switchboard simulate --products telegram`: runs the local Telegram Bot API simulator next to
//! a Switchboard server, posts customer updates to its webhook with the secret token header
//! (several languages, redeliveries, edits, button presses), and prints what Switchboard sends.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use switchboard_channels::telegram::simulator::{Simulator, SimulatorConfig};
use switchboard_domain::ChannelSlug;

use crate::simulate::SimulateArgs;

/// Seconds Telegram asks to wait during a simulated flood window.
const FLOOD_RETRY_AFTER: u64 = 5;

/// Runs until Ctrl-C.
pub async fn run(args: &SimulateArgs) -> anyhow::Result<()> {
    let slug = &args.telegram_slug;
    ChannelSlug::parse(slug).map_err(|e| anyhow::anyhow!("--telegram-slug: {e}"))?;
    let cfg = SimulatorConfig {
        secret_token: args.telegram_secret.clone(),
        webhook: Some(format!("{}/webhooks/{slug}", args.target.trim_end_matches('/'))),
        ..Default::default()
    };
    let listen: SocketAddr = args.telegram_listen;
    let sim = Simulator::start_on(cfg, listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (--telegram-listen)"))?;
    let c = sim.config();
    println!("Telegram Bot API simulator on {}", sim.api_base_url());
    println!("Channel for switchboard.toml:\n");
    println!(
        "[[channels]]\nslug = \"{slug}\"\nkind = \"telegram\"\nsecret = \"{}\"\n[channels.config]\nbot_token = \"{}\"\nbot_username = \"{}\"\napi_base_url = \"{}\"\n",
        c.secret_token,
        c.bot_token,
        c.bot_username,
        sim.api_base_url()
    );
    let traffic = sim.traffic();
    let (n, pause) = (args.messages, Duration::from_millis(args.interval_ms));
    let generator = tokio::spawn(async move {
        let r = traffic.run(n, pause).await;
        println!(
            "traffic done: {} updates posted ({} redeliveries, {} edits, {} button presses), {} accepted, {} refused or failed",
            r.posted, r.duplicates, r.edits, r.callbacks, r.accepted, r.failed
        );
    });
    let started = tokio::time::Instant::now();
    let mut flooded = false;
    let mut shown = 0;
    let stop = crate::serve::shutdown_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(Duration::from_millis(300)) => {}
        }
        if let Some(after) = args.outage_after
            && !flooded
            && started.elapsed().as_secs() >= after
        {
            sim.flood(Duration::from_secs(args.outage_secs), FLOOD_RETRY_AFTER);
            println!(
                "flood control for {}s: sends answer 429 with retry_after = {FLOOD_RETRY_AFTER}",
                args.outage_secs
            );
            flooded = true;
        }
        let calls = sim.calls();
        for s in &calls[shown..] {
            println!("← {} chat {} {}", s.method, s.body["chat_id"], s.text().unwrap_or(""));
        }
        shown = calls.len();
    }
    generator.abort();
    println!("{} calls accepted, {} refused", sim.calls().len(), sim.refused());
    Ok(())
}
