//! `switchboard simulate`: runs the local Graph API simulator (WhatsApp Cloud API, Messenger,
//! Instagram) and the X API simulator next to a Switchboard server, posts signed customer
//! webhooks to it, and prints what Switchboard sends back.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use switchboard_channels::meta::simulator::{Outage, Simulator, SimulatorConfig};
use switchboard_channels::x::simulator::{Simulator as XSimulator, SimulatorConfig as XSimConfig};
use switchboard_domain::{ChannelKind, ChannelSlug};

/// Options of `switchboard simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Where the simulated Graph API listens.
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub listen: SocketAddr,
    /// Switchboard's base URL; webhooks go to `{target}/webhooks/{slug}`.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub target: String,
    /// Products to simulate, comma separated: whatsapp, messenger, instagram, x; or `telegram` (the
    /// Telegram Bot API, simulated on its own at --telegram-listen).
    #[arg(long, default_value = "whatsapp,messenger,instagram,x", value_delimiter = ',')]
    pub products: Vec<String>,
    /// Slug of the WhatsApp channel in Switchboard.
    #[arg(long, default_value = "whatsapp")]
    pub whatsapp_slug: String,
    /// Slug of the Messenger channel.
    #[arg(long, default_value = "messenger")]
    pub messenger_slug: String,
    /// Slug of the Instagram channel.
    #[arg(long, default_value = "instagram")]
    pub instagram_slug: String,
    /// Slug of the X channel.
    #[arg(long, default_value = "x")]
    pub x_slug: String,
    /// Where the simulated X API listens.
    #[arg(long, default_value = "127.0.0.1:9091")]
    pub x_listen: SocketAddr,
    /// App secret that signs the webhooks (the channels' `secret`).
    #[arg(long, default_value = "sim-app-secret")]
    pub app_secret: String,
    /// Access token the send endpoints accept (the channels' `config.access_token`).
    #[arg(long, default_value = "sim-access-token")]
    pub access_token: String,
    /// Where the simulated Telegram Bot API listens.
    #[arg(long, default_value = "127.0.0.1:9091")]
    pub telegram_listen: SocketAddr,
    /// Slug of the Telegram channel.
    #[arg(long, default_value = "telegram")]
    pub telegram_slug: String,
    /// Webhook secret token sent with Telegram updates (the channel's `secret`).
    #[arg(long, default_value = "sim-telegram-secret")]
    pub telegram_secret: String,
    /// Customer messages to post (0: only answer sends).
    #[arg(long, default_value_t = 20)]
    pub messages: u64,
    /// Milliseconds between webhooks.
    #[arg(long, default_value_t = 1000)]
    pub interval_ms: u64,
    /// Start an outage (5xx, timeouts, rate limits) this many seconds after start.
    #[arg(long)]
    pub outage_after: Option<u64>,
    /// How long the outage lasts, in seconds.
    #[arg(long, default_value_t = 15)]
    pub outage_secs: u64,
}

/// Runs until Ctrl-C.
pub async fn run(args: SimulateArgs) -> anyhow::Result<()> {
    if args.products.iter().any(|p| p.trim() == "telegram") {
        return crate::simulate_telegram::run(&args).await;
    }
    let mut webhooks = HashMap::new();
    let mut slugs = Vec::new();
    let mut with_x = false;
    for p in &args.products {
        if p.trim() == "x" {
            ChannelSlug::parse(&args.x_slug).map_err(|e| anyhow::anyhow!("--x-slug: {e}"))?;
            with_x = true;
            continue;
        }
        let (kind, slug) = match p.trim() {
            "whatsapp" => (ChannelKind::Whatsapp, &args.whatsapp_slug),
            "messenger" => (ChannelKind::Messenger, &args.messenger_slug),
            "instagram" => (ChannelKind::Instagram, &args.instagram_slug),
            other => bail!("--products: {other:?} is not simulated (expected whatsapp, messenger, instagram or x)"),
        };
        ChannelSlug::parse(slug).map_err(|e| anyhow::anyhow!("--{}-slug: {e}", kind.as_str()))?;
        webhooks.insert(kind, format!("{}/webhooks/{slug}", args.target.trim_end_matches('/')));
        slugs.push((kind, slug.clone()));
    }
    let cfg = SimulatorConfig {
        app_secret: args.app_secret.clone(),
        access_token: args.access_token.clone(),
        webhooks,
        ..Default::default()
    };
    let sim = Simulator::start_on(cfg, args.listen)
        .await
        .with_context(|| format!("cannot listen on {} (--listen)", args.listen))?;
    println!("Graph API simulator on {}", sim.graph_base_url());
    println!("Channels for switchboard.toml:\n");
    let c = sim.config();
    for (kind, slug) in &slugs {
        let id_line = match kind {
            ChannelKind::Whatsapp => format!("phone_number_id = \"{}\"", c.phone_number_id),
            ChannelKind::Messenger => format!("page_id = \"{}\"", c.page_id),
            _ => format!("ig_account_id = \"{}\"", c.ig_account_id),
        };
        println!(
            "[[channels]]\nslug = \"{slug}\"\nkind = \"{kind}\"\nsecret = \"{}\"\n[channels.config]\nverify_token = \"sim-verify\"\naccess_token = \"{}\"\n{id_line}\ngraph_base_url = \"{}\"\n",
            c.app_secret,
            c.access_token,
            sim.graph_base_url()
        );
    }
    let x_sim = if with_x {
        let cfg = XSimConfig {
            consumer_secret: args.app_secret.clone(),
            access_token: args.access_token.clone(),
            webhook: Some(format!("{}/webhooks/{}", args.target.trim_end_matches('/'), args.x_slug)),
            ..Default::default()
        };
        let x = XSimulator::start_on(cfg, args.x_listen)
            .await
            .with_context(|| format!("cannot listen on {} (--x-listen)", args.x_listen))?;
        let c = x.config();
        println!("X API simulator on {}", x.api_base_url());
        println!(
            "[[channels]]\nslug = \"{}\"\nkind = \"x\"\nsecret = \"{}\"\n[channels.config]\nuser_id = \"{}\"\nscreen_name = \"{}\"\naccess_token = \"{}\"\napi_base_url = \"{}\"\n",
            args.x_slug,
            c.consumer_secret,
            c.brand_user_id,
            c.brand_screen_name,
            c.access_token,
            x.api_base_url()
        );
        let url = format!("{}/webhooks/{}", args.target.trim_end_matches('/'), args.x_slug);
        match x.check_crc(&url).await {
            Ok(()) => println!("X CRC check passed against {url}"),
            Err(e) => println!("X CRC check failed against {url}: {e} (is the x channel configured?)"),
        }
        let traffic = x.traffic();
        let (n, pause) = (args.messages, Duration::from_millis(args.interval_ms));
        tokio::spawn(async move {
            let r = traffic.run(n, pause).await;
            println!(
                "X traffic done: {} deliveries ({} duplicates), {} accepted, {} posts/DMs, {} likes/follows, {} deletes",
                r.posted, r.redeliveries, r.accepted, r.messages, r.activities, r.deletes
            );
        });
        Some(x)
    } else {
        None
    };
    let mut x_shown = 0;
    let traffic = sim.traffic();
    let (n, pause) = (args.messages, Duration::from_millis(args.interval_ms));
    let generator = tokio::spawn(async move {
        let r = traffic.run(n, pause).await;
        println!(
            "traffic done: {} webhooks posted ({} redeliveries), {} accepted, {} customer messages",
            r.posted, r.redeliveries, r.accepted, r.messages
        );
    });
    let outage = args.outage_after.map(|after| (after, args.outage_secs));
    let started = tokio::time::Instant::now();
    let mut shown = 0;
    let mut in_outage = false;
    let stop = crate::serve::shutdown_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(Duration::from_millis(300)) => {}
        }
        if let Some((after, secs)) = outage {
            let t = started.elapsed().as_secs();
            let want = t >= after && t < after + secs;
            if want != in_outage {
                sim.set_outage(want.then_some(Outage::Mixed));
                println!(
                    "{}",
                    if want { "outage started: sends fail with 5xx, timeouts and rate limits" } else { "outage over" }
                );
                in_outage = want;
            }
        }
        let sent = sim.sent();
        for s in &sent[shown..] {
            println!("← {} {} {}", s.kind, s.path, s.text().unwrap_or("[non-text]"));
        }
        shown = sent.len();
        if let Some(x) = &x_sim {
            let sent = x.sent();
            for s in &sent[x_shown..] {
                println!(
                    "← x {} {} {}",
                    s.kind,
                    s.in_reply_to().map(|r| format!("reply to {r}")).unwrap_or_default(),
                    s.text().unwrap_or("")
                );
            }
            x_shown = sent.len();
        }
    }
    generator.abort();
    println!("{} sends accepted, {} refused", sim.sent().len(), sim.refused());
    Ok(())
}
