//! The throughput benchmark behind `switchboard bench nlp`: each stage and the full enrichment
//! on real social messages, one thread, with a feature-only baseline measured in the same run.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use crate::data::{self, Dataset};
use crate::enrich::{Buffers, Enricher};
use crate::features::{Scratch, SparseVec};
use crate::lang::Stage;
use crate::urgency::{self, MessageContext};
use crate::{intent, pii};

/// The target of issue 7: full enrichment on one core.
pub const TARGET_PER_SECOND: f64 = 20_000.0;

/// Real social messages: every sentiment validation file (tweets in 8 languages + Chinese
/// reviews, at most 2,000 of each), interleaved so no stage sees one language in a row.
pub fn corpus(dir: &Path) -> Result<Vec<String>, data::DataError> {
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

/// Nanoseconds this thread has spent on a CPU (Linux `/proc/thread-self/schedstat`): on a
/// machine shared with other work, messages per CPU-second is what one core sustains, while
/// wall-clock rates also count the time the scheduler gave to others.
pub fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let v: u64 = s.split_whitespace().next()?.parse().ok()?;
    (v > 0).then_some(v)
}

/// A rate in messages per second: by the wall clock, and per second on the CPU when known.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rate {
    pub wall: f64,
    pub cpu: Option<f64>,
}

impl Rate {
    /// The per-CPU-second rate where measured, else the wall-clock one.
    pub fn best(&self) -> f64 {
        self.cpu.unwrap_or(self.wall)
    }
}

/// Messages per second of `f` over `n` messages cycled from `corpus`, after a warm-up slice.
fn measure(n: usize, corpus: &[String], mut f: impl FnMut(&str)) -> Rate {
    for t in corpus.iter().take(500) {
        f(t);
    }
    let c0 = thread_cpu_ns();
    let t0 = Instant::now();
    for i in 0..n {
        f(&corpus[i % corpus.len()]);
    }
    let wall = n as f64 / t0.elapsed().as_secs_f64().max(1e-9);
    let cpu = match (c0, thread_cpu_ns()) {
        (Some(a), Some(b)) if b > a => Some(n as f64 / ((b - a) as f64 / 1e9)),
        _ => None,
    };
    Rate { wall, cpu }
}

/// Results of one run (messages per second).
#[derive(Clone, Debug, Default)]
pub struct BenchReport {
    pub baseline: Rate,
    pub language: Rate,
    pub sentiment: Rate,
    pub intent: Rate,
    pub urgency: Rate,
    pub pii: Rate,
    pub full: Rate,
    /// Share of messages the language cascade answered by rules, table and lingua.
    pub stages: [f64; 3],
    pub text: String,
}

/// Runs every stage over `n` messages from `corpus` with `enricher`; `line` receives each
/// result line as it is measured.
pub fn run(enricher: &Enricher, corpus: &[String], n: usize, line: &mut dyn FnMut(&str)) -> BenchReport {
    let n = n.max(1);
    let mut r = BenchReport::default();
    let mut emit = |r: &mut BenchReport, name: &str, rate: Rate| {
        let cpu = rate.cpu.map_or("         ?".to_owned(), |c| format!("{c:>10.0}"));
        let l = format!(
            "  {name:<50} {cpu} msg/CPU-s {:>7.1} µs CPU/msg | wall {:>8.0} msg/s",
            1e6 / rate.best(),
            rate.wall
        );
        line(&l);
        r.text.push_str(&l);
        r.text.push('\n');
    };
    let mut counts = [0usize; 3];
    for t in corpus {
        let (_, st) = enricher.lang.detect_traced(t);
        counts[match st {
            Stage::Rules => 0,
            Stage::Table => 1,
            Stage::Lingua => 2,
        }] += 1;
    }
    for (s, c) in r.stages.iter_mut().zip(counts) {
        *s = c as f64 / corpus.len().max(1) as f64;
    }
    let mut scratch = Scratch::default();
    let mut v = SparseVec::default();
    let intent_cfg = enricher.intent.meta.features.clone();
    r.baseline = measure(n, corpus, |t| intent_cfg.extract(t, &mut scratch, &mut v));
    let rate = r.baseline;
    emit(&mut r, "baseline: tokenise + hash features only (intent)", rate);
    r.language = measure(n, corpus, |t| {
        std::hint::black_box(enricher.lang.detect(t));
    });
    let rate = r.language;
    emit(&mut r, "language", rate);
    r.sentiment = measure(n, corpus, |t| {
        std::hint::black_box(enricher.sentiment.predict(t, "en", &mut scratch));
    });
    let rate = r.sentiment;
    emit(&mut r, "sentiment (language given)", rate);
    r.intent = measure(n, corpus, |t| {
        std::hint::black_box(intent::classify(&enricher.intent, t, intent::OTHER, &mut scratch));
    });
    let rate = r.intent;
    emit(&mut r, "intent", rate);
    let ctx = MessageContext { public: true, author_followers: Some(1200), customer_tier: None };
    r.urgency = measure(n, corpus, |t| {
        std::hint::black_box(urgency::assess(t, "complaint", "negative", -0.4, &ctx));
    });
    let rate = r.urgency;
    emit(&mut r, "urgency", rate);
    r.pii = measure(n, corpus, |t| {
        std::hint::black_box(pii::redact(t, enricher.phone_region.as_deref()));
    });
    let rate = r.pii;
    emit(&mut r, "PII detect + redact", rate);
    let mut buf = Buffers::default();
    r.full = measure(n, corpus, |t| {
        std::hint::black_box(enricher.enrich(t, &ctx, &mut buf));
    });
    let rate = r.full;
    emit(&mut r, "full enrichment (all of the above)", rate);
    let _ = writeln!(
        r.text,
        "  language cascade: {:.1}% rules, {:.1}% table, {:.1}% lingua",
        100.0 * r.stages[0],
        100.0 * r.stages[1],
        100.0 * r.stages[2]
    );
    let _ = writeln!(
        r.text,
        "  full / baseline = {:.3} (per CPU-second; wall clock {:.3}); language is {:.0}% of the full time",
        r.full.best() / r.baseline.best(),
        r.full.wall / r.baseline.wall,
        100.0 * r.full.best() / r.language.best()
    );
    let _ = write!(
        r.text,
        "  target: full enrichment >= {TARGET_PER_SECOND:.0} msg/s on one core (per CPU-second): {}",
        if r.full.best() >= TARGET_PER_SECOND { "met" } else { "NOT met" }
    );
    r
}

/// The 1-, 5- and 15-minute load averages (Linux), to print beside the figures.
pub fn load_average() -> Option<String> {
    let s = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}
