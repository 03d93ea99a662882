//! `switchboard nlp train|eval` and `switchboard bench nlp`: the triage models (crate
//! switchboard-nlp) — training from the shared data sets, evaluation, throughput.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use switchboard_nlp::data::{self, Dataset};
use switchboard_nlp::enrich::{Buffers, Enricher};
use switchboard_nlp::eval::{self, Task};
use switchboard_nlp::features::{Scratch, SparseVec};
use switchboard_nlp::urgency::MessageContext;
use switchboard_nlp::{intent, lang, pii, urgency};

const DEFAULT_DATASETS: &str = "../shared/datasets";
/// The "fast" language setting the bench also measures (see docs/nlp.md).
const FAST_MODE_MARGIN: f32 = 0.1;

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

/// Real social messages: every sentiment validation file (tweets in 8 languages + Chinese
/// reviews), interleaved so no stage sees one language in a row.
fn corpus(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut sets: Vec<Dataset> = Vec::new();
    for f in [
        "sentiment_en_tweeteval_val.tsv",
        "sentiment_zh_sophonplus_val.tsv",
        "sentiment_ar_xlmt_val.tsv",
        "sentiment_de_xlmt_val.tsv",
        "sentiment_es_xlmt_val.tsv",
        "sentiment_fr_xlmt_val.tsv",
        "sentiment_hi_xlmt_val.tsv",
        "sentiment_it_xlmt_val.tsv",
        "sentiment_pt_xlmt_val.tsv",
    ] {
        sets.push(data::read_tsv(&dir.join(f))?);
    }
    let mut out = Vec::new();
    let longest = sets.iter().map(Dataset::len).max().unwrap_or(0);
    for i in 0..longest.min(2000) {
        for s in &sets {
            if let Some(t) = s.texts.get(i) {
                out.push(t.clone());
            }
        }
    }
    Ok(out)
}

fn measure(name: &str, n: usize, corpus: &[String], mut f: impl FnMut(&str)) -> f64 {
    // One warm-up pass over a slice, then the measured pass.
    for t in corpus.iter().take(500) {
        f(t);
    }
    let t0 = Instant::now();
    for i in 0..n {
        f(&corpus[i % corpus.len()]);
    }
    let rate = n as f64 / t0.elapsed().as_secs_f64().max(1e-9);
    println!("  {name:<44} {rate:>10.0} msg/s  {:>8.1} µs/msg", 1e6 / rate);
    rate
}

pub fn bench(a: BenchNlpArgs) -> anyhow::Result<()> {
    check_dir(&a.datasets)?;
    let corpus = corpus(&a.datasets)?;
    let codes: Vec<String> = match &a.languages {
        Some(s) => s.split(',').map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()).collect(),
        None => lang::SUPPORTED.iter().map(|s| (*s).to_owned()).collect(),
    };
    let code_refs: Vec<&str> = codes.iter().map(String::as_str).collect();
    let intent_model = intent::train(&intent::default_examples(), 42, "built-in cold-start examples")?;
    let enricher = Enricher::new(&code_refs, intent_model, Some("US".into()))?;
    let n = a.messages.max(1);
    let avg_chars = corpus.iter().map(|t| t.chars().count()).sum::<usize>() as f64 / corpus.len().max(1) as f64;
    println!(
        "bench nlp: {} distinct messages (avg {:.0} chars) from {}, {} per pass, one thread, languages {}",
        corpus.len(),
        avg_chars,
        a.datasets.display(),
        n,
        codes.join(",")
    );
    let mut scratch = Scratch::default();
    let mut v = SparseVec::default();
    let base = measure("baseline: tokenise + hash features only", n, &corpus, |t| {
        switchboard_nlp::intent::features().extract(t, &mut scratch, &mut v);
    });
    let l = measure("language", n, &corpus, |t| {
        std::hint::black_box(enricher.lang.detect(t));
    });
    let s = measure("sentiment (language given)", n, &corpus, |t| {
        std::hint::black_box(enricher.sentiment.predict(t, "en", &mut scratch, &mut v));
    });
    let i = measure("intent", n, &corpus, |t| {
        std::hint::black_box(intent::classify(&enricher.intent, t, intent::OTHER, &mut scratch, &mut v));
    });
    let ctx = MessageContext { public: true, author_followers: Some(1200), customer_tier: None };
    let u = measure("urgency", n, &corpus, |t| {
        std::hint::black_box(urgency::assess(t, "complaint", "negative", -0.4, &ctx));
    });
    let p = measure("PII detect + redact", n, &corpus, |t| {
        std::hint::black_box(pii::redact(t, Some("US")));
    });
    let mut buf = Buffers::default();
    let full = measure("full enrichment (all of the above)", n, &corpus, |t| {
        std::hint::black_box(enricher.enrich(t, &ctx, &mut buf));
    });
    let mut fast = Enricher::new(&code_refs, enricher.intent.clone(), Some("US".into()))?;
    fast.lang.fast_margin = FAST_MODE_MARGIN;
    let full_fast = measure(&format!("full enrichment, language fast_margin {FAST_MODE_MARGIN}"), n, &corpus, |t| {
        std::hint::black_box(fast.enrich(t, &ctx, &mut buf));
    });
    println!("  full / baseline = {:.3}; language alone is {:.0}% of the full time", full / base, 100.0 * full / l);
    let _ = (s, i, u, p);
    println!(
        "  target: full enrichment >= 20000 msg/s on one core: default {}, fast mode {}",
        if full >= 20_000.0 { "met" } else { "NOT met" },
        if full_fast >= 20_000.0 { "met" } else { "NOT met" }
    );
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
