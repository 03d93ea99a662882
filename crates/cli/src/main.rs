//! `switchboard`: the self-hosted social customer-service desk.
#![forbid(unsafe_code)]

mod admin;
mod bench;
mod bench_kb;
mod bench_reports;
mod bench_routing;
mod bench_ui;
mod bench_widget;
mod config;
mod demo;
mod kb;
mod nlp;
mod report;
mod serve;
mod simulate;
mod simulate_telegram;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::Config;

// The request path allocates many small, short-lived buffers; mimalloc measurably beats glibc's
// allocator there (see README, Performance).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about = "Self-hosted social customer-service desk")]
struct Cli {
    /// Configuration file (default: ./switchboard.toml when present).
    #[arg(long, global = true, env = "SWITCHBOARD_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the server.
    Serve,
    /// Applies database migrations and exits.
    Migrate,
    /// Starts a demo server on a fresh SQLite database full of realistic conversations.
    Demo(demo::DemoArgs),
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        what: bench::BenchCommand,
    },
    /// Triage models: train from the shared data sets, evaluate.
    Nlp {
        #[command(subcommand)]
        command: nlp::NlpCommand,
    },
    /// Runs a local Graph API (WhatsApp, Messenger, Instagram) that posts signed webhooks to a
    /// Switchboard server and answers its sends.
    Simulate(Box<simulate::SimulateArgs>),
    /// Prints the quality report of a period: `--period 2026-W47` or `2026-11`.
    Report(report::ReportArgs),
    /// Knowledge base: import/export Markdown folders, seed articles, case-status links.
    Kb {
        #[command(subcommand)]
        command: kb::KbCommand,
    },
    /// Users, tokens, channels.
    Admin {
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
}

/// `quiet`: unless `RUST_LOG` or a `log.level` other than the default says otherwise, log only
/// warnings (the demo prints what matters itself; per-request lines would bury it).
fn init_logging(cfg: &Config, quiet: bool) {
    let level = if quiet && cfg.log.level == Config::default().log.level { "warn" } else { cfg.log.level.as_str() };
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if cfg.log.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let cfg = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("switchboard: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    init_logging(&cfg, matches!(cli.command, Command::Demo(_)));
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("switchboard: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        match cli.command {
            Command::Serve => serve::run(cfg).await,
            Command::Migrate => {
                let store = serve::open_store(&cfg).await?;
                store.close().await;
                println!("database {} is up to date", serve::redact(&cfg.database_url()));
                Ok(())
            }
            Command::Demo(args) => demo::run(cfg, args).await,
            Command::Bench { what } => bench::run(what).await,
            Command::Nlp { command } => tokio::task::spawn_blocking(move || nlp::run(command)).await?,
            Command::Simulate(args) => simulate::run(*args).await,
            Command::Report(args) => report::run(&cfg, args).await,
            Command::Kb { command } => {
                let store = serve::open_store(&cfg).await?;
                let r = kb::run(&cfg, store.clone(), command).await;
                store.close().await;
                r
            }
            Command::Admin { command } => {
                let store = serve::open_store(&cfg).await?;
                let r = admin::run(store.clone(), command).await;
                store.close().await;
                r
            }
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchboard: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
