//! `switchboard demo` (being written).

use clap::Args;

use crate::config::Config;

/// Options of the demo.
#[derive(Debug, Args)]
pub struct DemoArgs {}

/// Runs the demo.
pub async fn run(_cfg: Config, _args: DemoArgs) -> anyhow::Result<()> {
    anyhow::bail!("the demo is not written yet")
}
