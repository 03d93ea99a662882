//! `switchboard bench kb`: indexing throughput and search latency with many articles in the
//! index, and the bot's decision throughput (search + rules per message), on one core; plus
//! `switchboard kb eval`: retrieval quality and bot decisions on labelled question sets.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use switchboard_kb::KbIndex;
use switchboard_kb::bot::{self, BotSettings, History, Input, Signals};
use switchboard_kb::eval::{self, Question};
use switchboard_store::kb::{Article, ArticleId, ArticleStatus, Translation};

/// Options of `bench kb`.
#[derive(Debug, Args)]
pub struct KbBenchArgs {
    /// Synthetic articles in the index (plus the seed articles).
    #[arg(long, default_value_t = 100_000)]
    pub articles: usize,
    /// Timed searches.
    #[arg(long, default_value_t = 20_000)]
    pub queries: usize,
    /// Keep the index on disk in this folder (default: in memory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Pseudo-words with a Zipf-like frequency: a realistic long tail for BM25 and the fuzzy terms.
struct Vocabulary {
    words: Vec<String>,
    cumulative: Vec<f64>,
}

impl Vocabulary {
    fn new(rng: &mut StdRng, n: usize) -> Self {
        const SYL: &[&str] = &[
            "ba", "ke", "ri", "mo", "tu", "la", "ne", "si", "po", "da", "fe", "gi", "ho", "ju", "ka", "lo", "mi", "na",
            "or", "pa", "qu", "re", "sa", "te", "ul", "vi", "wa", "xe", "yo", "zu", "ch", "st", "tr", "an", "en", "in",
        ];
        let words: Vec<String> = (0..n)
            .map(|i| {
                let k = 2 + (i % 3) + usize::from(rng.random_bool(0.3));
                (0..k).map(|_| SYL[rng.random_range(0..SYL.len())]).collect::<String>()
            })
            .collect();
        let mut acc = 0.0;
        let cumulative = (1..=n)
            .map(|r| {
                acc += 1.0 / (r as f64).powf(1.05);
                acc
            })
            .collect();
        Vocabulary { words, cumulative }
    }

    fn pick(&self, rng: &mut StdRng) -> &str {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let x = rng.random_range(0.0..total);
        let i = self.cumulative.partition_point(|c| *c < x).min(self.words.len() - 1);
        &self.words[i]
    }

    fn text(&self, rng: &mut StdRng, n: usize) -> String {
        (0..n).map(|_| self.pick(rng)).collect::<Vec<_>>().join(" ")
    }
}

fn synthetic(rng: &mut StdRng, v: &Vocabulary, n: usize) -> Vec<Article> {
    let now = chrono::Utc::now();
    (0..n)
        .map(|i| Article {
            id: ArticleId(uuid::Uuid::from_u128(0x5eed_0000_0000 + i as u128)),
            slug: format!("synthetic-{i}"),
            category: format!("c{}", i % 40),
            tags: Vec::new(),
            intents: Vec::new(),
            translations: vec![Translation {
                locale: "en".into(),
                title: v.text(rng, 6),
                body: format!("{}\n\n{}", v.text(rng, 60), v.text(rng, 60)),
                status: ArticleStatus::Published,
                version: 1,
                updated_at: now,
            }],
            created_at: now,
            updated_at: now,
        })
        .collect()
}

fn seed_as_articles() -> anyhow::Result<Vec<Article>> {
    let now = chrono::Utc::now();
    Ok(switchboard_kb::seed::articles()?
        .into_iter()
        .enumerate()
        .map(|(i, a)| Article {
            id: ArticleId(uuid::Uuid::from_u128(i as u128 + 1)),
            slug: a.slug,
            category: a.category,
            tags: a.tags,
            intents: a.intents,
            translations: a
                .translations
                .into_iter()
                .map(|t| Translation {
                    locale: t.locale,
                    title: t.title,
                    body: t.body,
                    status: t.status,
                    version: 1,
                    updated_at: now,
                })
                .collect(),
            created_at: now,
            updated_at: now,
        })
        .collect())
}

fn percentile_line(name: &str, h: &Histogram<u64>) -> String {
    format!(
        "{name:<28} p50 {:>7.3} ms   p99 {:>7.3} ms   p99.9 {:>7.3} ms   max {:>7.3} ms",
        h.value_at_quantile(0.5) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0,
        h.value_at_quantile(0.999) as f64 / 1000.0,
        h.max() as f64 / 1000.0
    )
}

/// Runs the benchmark (blocking; call from `spawn_blocking`).
pub fn bench(args: KbBenchArgs) -> anyhow::Result<()> {
    let mut rng = StdRng::seed_from_u64(42);
    let vocab = Vocabulary::new(&mut rng, 50_000);
    let t = Instant::now();
    let mut articles = synthetic(&mut rng, &vocab, args.articles);
    let seed = seed_as_articles()?;
    articles.extend(seed.iter().cloned());
    println!("generated {} articles in {:.1} s", articles.len(), t.elapsed().as_secs_f64());
    let index = KbIndex::open(args.dir.as_deref())?;
    let t = Instant::now();
    let docs = index.rebuild(&articles)?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "indexed {docs} documents in {secs:.1} s: {:.0} articles/s (one writer thread, one commit)",
        docs as f64 / secs
    );

    let real_en = eval::read_tsv(include_str!("../../kb/eval/seed_questions_en.tsv"));
    let real_zh = eval::read_tsv(include_str!("../../kb/eval/seed_questions_zh.tsv"));
    let mut queries: Vec<(String, &str)> = Vec::with_capacity(args.queries);
    for i in 0..args.queries {
        match i % 4 {
            // Real customer questions (half of them with a typo in one word).
            0 => {
                let (_, q) = &real_en[i / 4 % real_en.len()];
                let q = if i.is_multiple_of(8) { typo(q, &mut rng) } else { q.clone() };
                queries.push((q, "en"));
            }
            1 => queries.push((real_zh[i / 4 % real_zh.len()].1.clone(), "zh-CN")),
            _ => {
                let n = rng.random_range(3..9);
                queries.push((vocab.text(&mut rng, n), "en"));
            }
        }
    }
    // Warm-up: caches and the first reader.
    for (q, l) in queries.iter().take(500) {
        index.search(q, l, 5)?;
    }
    let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut real = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut zh = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let t = Instant::now();
    for (i, (q, l)) in queries.iter().enumerate() {
        let s = Instant::now();
        let r = index.search(q, l, 5)?;
        std::hint::black_box(r);
        let us = s.elapsed().as_micros().max(1) as u64;
        all.record(us)?;
        match i % 4 {
            0 => real.record(us)?,
            1 => zh.record(us)?,
            _ => {}
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!("{} searches in {secs:.2} s: {:.0} searches/s on one thread", queries.len(), queries.len() as f64 / secs);
    println!("{}", percentile_line("search, all queries", &all));
    println!("{}", percentile_line("search, English questions", &real));
    println!("{}", percentile_line("search, Chinese questions", &zh));

    // The bot's decision per message: search in the customer's locale + the rules.
    let settings = BotSettings { enabled: true, ..BotSettings::default() };
    let signals =
        Signals { language: "en".into(), sentiment: "neutral".into(), priority: "P4".into(), ..Signals::default() };
    let history = History::default();
    let n = args.queries.min(20_000);
    let t = Instant::now();
    let mut answered = 0usize;
    for i in 0..n {
        let (lang, text) = if i.is_multiple_of(2) {
            ("en", &real_en[i / 2 % real_en.len()].1)
        } else {
            ("zh-CN", &real_zh[i / 2 % real_zh.len()].1)
        };
        let input =
            Input { text, button_data: None, public: false, signals: &signals, history: &history, settings: &settings };
        let d = match bot::decide_before_search(&input) {
            Some(d) => d,
            None => {
                let r = index.search(text, lang, 3)?;
                bot::decide(&input, Some(&r))
            }
        };
        answered += usize::from(matches!(d, bot::Decision::Answer { .. }));
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "bot decisions: {n} messages in {secs:.2} s: {:.0} decisions/s on one thread ({answered} answered)",
        n as f64 / secs
    );
    Ok(())
}

fn typo(q: &str, rng: &mut StdRng) -> String {
    let words: Vec<&str> = q.split(' ').collect();
    let Some((i, w)) = words.iter().enumerate().filter(|(_, w)| w.len() >= 6).max_by_key(|(_, w)| w.len()) else {
        return q.to_owned();
    };
    let mut chars: Vec<char> = w.chars().collect();
    let j = rng.random_range(1..chars.len() - 1);
    chars.swap(j, j + 1);
    let mut out: Vec<String> = words.iter().map(|s| (*s).to_owned()).collect();
    out[i] = chars.into_iter().collect();
    out.join(" ")
}

/// Options of `kb eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Folder with intent_clinc150_train.tsv, intent_clinc150_val.tsv and intent_banking77_train.tsv.
    #[arg(long, default_value = "../shared/datasets")]
    pub datasets: PathBuf,
}

const THRESHOLDS: &[f32] = &[0.4, 0.5, 0.6, 0.7, 0.8];

fn print_report(name: &str, r: &eval::Report) {
    println!(
        "\n{name}: {} questions, {} out of scope\n  MRR@5 {:.4}   recall@1 {:.4}   recall@5 {:.4}",
        r.questions, r.out_of_scope, r.mrr_at_5, r.recall_at_1, r.recall_at_5
    );
    println!("  threshold | answered right | answered wrong | handed off (in scope) | handed off (out of scope)");
    for (t, right, wrong, handed, oos) in &r.decisions {
        let oos = if r.out_of_scope > 0 { format!("{oos:.3}") } else { "-".into() };
        println!("  {t:>9.2} | {right:>14.3} | {wrong:>14.3} | {handed:>21.3} | {oos:>25}");
    }
}

fn questions(rows: &[(String, String)]) -> Vec<Question> {
    rows.iter().map(|(l, t)| Question { label: l.clone(), text: t.clone() }).collect()
}

/// Runs the evaluation (blocking).
pub fn eval(args: EvalArgs) -> anyhow::Result<()> {
    let read = |f: &str| -> anyhow::Result<Vec<(String, String)>> {
        let p = args.datasets.join(f);
        Ok(eval::read_tsv(&std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?))
    };
    // The seed knowledge base with the hand-written questions (English and Chinese).
    let seed = KbIndex::open(None)?;
    seed.rebuild(&seed_as_articles()?)?;
    let en = questions(&eval::read_tsv(include_str!("../../kb/eval/seed_questions_en.tsv")));
    print_report("seed KB, English questions (crates/kb/eval)", &eval::evaluate(&seed, &en, "en", THRESHOLDS)?);
    let zh = questions(&eval::read_tsv(include_str!("../../kb/eval/seed_questions_zh.tsv")));
    print_report("seed KB, Chinese questions (crates/kb/eval)", &eval::evaluate(&seed, &zh, "zh-CN", THRESHOLDS)?);

    // CLINC150: one article per intent from the train split, questions from the validation split.
    let train = read("intent_clinc150_train.tsv")?;
    let val = read("intent_clinc150_val.tsv")?;
    let idx = KbIndex::open(None)?;
    idx.rebuild(&eval::articles_from_examples(&train, "en"))?;
    print_report(
        "CLINC150 (150 articles from train; validation questions)",
        &eval::evaluate(&idx, &questions(&val), "en", THRESHOLDS)?,
    );

    // banking77 has no validation split: every 10th example of each intent is held out.
    let all = read("intent_banking77_train.tsv")?;
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let (mut kb_rows, mut held) = (Vec::new(), Vec::new());
    for (l, t) in &all {
        let k = seen.entry(l.as_str()).or_default();
        if k.is_multiple_of(10) {
            held.push((l.clone(), t.clone()));
        } else {
            kb_rows.push((l.clone(), t.clone()));
        }
        *k += 1;
    }
    let idx = KbIndex::open(None)?;
    idx.rebuild(&eval::articles_from_examples(&kb_rows, "en"))?;
    print_report(
        "banking77 (77 articles; every 10th example held out)",
        &eval::evaluate(&idx, &questions(&held), "en", THRESHOLDS)?,
    );
    Ok(())
}
