//! `switchboard nlp train|eval` and `switchboard bench nlp`: the triage models (crate
//! switchboard-nlp) — training from the shared data sets, evaluation, throughput.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use switchboard_nlp::enrich::Enricher;
use switchboard_nlp::eval::{self, Task};
use switchboard_nlp::{bench, intent, lang};

const DEFAULT_DATASETS: &str = "../shared/datasets";

#[derive(Debug, Subcommand)]
pub enum NlpCommand {
    /// Trains the shipped models from the shared data sets (deterministic, seed 42).
    Train(TrainArgs),
    /// Evaluates the shipped models: one TSV file (`label<TAB>text`), or the whole validation suite.
    Eval(EvalArgs),
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Folder with the shared data sets.
    #[arg(long, env = "SWITCHBOARD_DATASETS", default_value = DEFAULT_DATASETS)]
    pub datasets: PathBuf,
    /// Where the model files go (commit them to ship them).
    #[arg(long, default_value = "crates/nlp/models")]
    pub out: PathBuf,
    /// Only the sentiment or only the intent models.
    #[arg(long)]
    pub only: Option<TaskArg>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TaskArg {
    Sentiment,
    Language,
    Intent,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[arg(long)]
    pub task: Option<TaskArg>,
    /// TSV file with header `label<TAB>text`; without it the whole validation suite runs.
    #[arg(long)]
    pub file: Option<PathBuf>,
    #[arg(long, env = "SWITCHBOARD_DATASETS", default_value = DEFAULT_DATASETS)]
    pub datasets: PathBuf,
}

pub fn run(cmd: NlpCommand) -> anyhow::Result<()> {
    match cmd {
        NlpCommand::Train(a) => {
            check_dir(&a.datasets)?;
            std::fs::create_dir_all(&a.out).with_context(|| format!("cannot create {}", a.out.display()))?;
            let only = match a.only {
                Some(TaskArg::Sentiment) => Some("sentiment"),
                Some(TaskArg::Intent) => Some("intent"),
                Some(TaskArg::Language) => Some("language"),
                None => None,
            };
            switchboard_nlp::train::train_all(&a.datasets, &a.out, only, &mut |l| println!("{l}"))?;
            println!("models written to {} (rebuild to embed them)", a.out.display());
            Ok(())
        }
        NlpCommand::Eval(a) => match (a.file, a.task) {
            (Some(file), Some(task)) => {
                let t = match task {
                    TaskArg::Sentiment => Task::Sentiment,
                    TaskArg::Language => Task::Language,
                    TaskArg::Intent => Task::Intent,
                };
                print!("{}", eval::eval_file(t, &file)?);
                Ok(())
            }
            (Some(_), None) => bail!("--file needs --task sentiment|language|intent"),
            (None, _) => {
                check_dir(&a.datasets)?;
                let (text, rows) = eval::suite(&a.datasets)?;
                println!("{text}\n{}", eval::render_table(&rows));
                Ok(())
            }
        },
    }
}

fn check_dir(d: &Path) -> anyhow::Result<()> {
    if !d.is_dir() {
        bail!("data set folder {} does not exist (pass --datasets or set SWITCHBOARD_DATASETS)", d.display());
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct BenchNlpArgs {
    #[arg(long, env = "SWITCHBOARD_DATASETS", default_value = DEFAULT_DATASETS)]
    pub datasets: PathBuf,
    /// Messages per measured pass (the corpus is cycled).
    #[arg(long, default_value_t = 20_000)]
    pub messages: usize,
    /// Languages a brand configures, comma-separated (default: all 16 built in).
    #[arg(long)]
    pub languages: Option<String>,
}

pub fn bench(a: BenchNlpArgs) -> anyhow::Result<()> {
    check_dir(&a.datasets)?;
    let corpus = bench::corpus(&a.datasets)?;
    let codes: Vec<String> = match &a.languages {
        Some(s) => s.split(',').map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()).collect(),
        None => lang::SUPPORTED.iter().map(|s| (*s).to_owned()).collect(),
    };
    let code_refs: Vec<&str> = codes.iter().map(String::as_str).collect();
    let intent_model = intent::train(&intent::default_examples(), 42, "built-in cold-start examples")?;
    let enricher = Enricher::new(&code_refs, intent_model, Some("US".into()))?;
    let avg_chars = corpus.iter().map(|t| t.chars().count()).sum::<usize>() as f64 / corpus.len().max(1) as f64;
    println!(
        "bench nlp: {} distinct messages (avg {:.0} chars) from {}, {} per pass, one thread, languages {}",
        corpus.len(),
        avg_chars,
        a.datasets.display(),
        a.messages,
        codes.join(",")
    );
    let load_before = bench::load_average().unwrap_or_else(|| "?".into());
    let r = bench::run(&enricher, &corpus, a.messages, &mut |l| println!("{l}"));
    for l in r.text.lines().skip_while(|l| !l.starts_with("  language cascade")) {
        println!("{l}");
    }
    println!("  load average (1/5/15 min) before: {load_before}, after: {}", bench::load_average().unwrap_or_default());
    Ok(())
}

/// Starts the triage step of a running engine from the `[nlp]` config section.
pub async fn start_triage(engine: &switchboard_engine::Engine, n: &crate::config::NlpSection) -> anyhow::Result<()> {
    let cfg = switchboard_engine::triage::TriageConfig {
        languages: n.languages.clone(),
        phone_region: (!n.phone_region.is_empty()).then(|| n.phone_region.clone()),
        language_fast_margin: n.language_fast_margin,
        retrain_every: std::time::Duration::from_secs(n.retrain_interval_secs),
        routing_wait: std::time::Duration::from_millis(n.routing_wait_ms),
    };
    engine.start_triage(cfg).await.map_err(|e| anyhow::anyhow!("cannot start triage: {e}"))
}
