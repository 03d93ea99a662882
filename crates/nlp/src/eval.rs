//! The evaluation harness behind `switchboard nlp eval`.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use crate::data::{self, Dataset};
use crate::features::Scratch;
use crate::intent;
use crate::lang::LanguageId;
use crate::linear::Model;
use crate::metrics::{self, Report};
use crate::models;
use crate::sentiment::SentimentModels;
use crate::train;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    Sentiment,
    Language,
    Intent,
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Data(#[from] data::DataError),
    #[error(transparent)]
    Model(#[from] crate::linear::ModelError),
    #[error("{0}")]
    Labels(String),
}

pub struct Outcome {
    pub report: Report,
    pub per_second: f64,
    pub extra: String,
}

/// First three words, or the first eight characters of text written without spaces.
pub fn short_prefix(t: &str) -> String {
    if t.chars().any(crate::text::is_unspaced_script) {
        t.chars().take(8).collect()
    } else {
        t.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    }
}

fn timed<F: FnMut(&str) -> String>(texts: &[String], mut f: F) -> (Vec<String>, f64) {
    let t0 = Instant::now();
    let pred: Vec<String> = texts.iter().map(|t| f(t)).collect();
    let secs = t0.elapsed().as_secs_f64().max(1e-9);
    (pred, texts.len() as f64 / secs)
}

pub fn language(d: &Dataset, id: &LanguageId) -> (Outcome, Outcome) {
    let (pred, rate) = timed(&d.texts, |t| id.detect(t).code.to_owned());
    let full = Outcome { report: metrics::evaluate(&d.labels, &pred), per_second: rate, extra: String::new() };
    let shorts: Vec<String> = d.texts.iter().map(|t| short_prefix(t)).collect();
    let (pred, rate) = timed(&shorts, |t| id.detect(t).code.to_owned());
    let short = Outcome { report: metrics::evaluate(&d.labels, &pred), per_second: rate, extra: String::new() };
    (full, short)
}

/// Sentiment as the pipeline does it: detect the language, route to that language's model.
pub fn sentiment(d: &Dataset, id: &LanguageId, models: &SentimentModels) -> Outcome {
    let mut s = Scratch::default();
    let (pred, rate) = timed(&d.texts, |t| {
        let lang = id.detect(t);
        models.predict(t, lang.code, &mut s).label.to_owned()
    });
    Outcome { report: metrics::evaluate(&d.labels, &pred), per_second: rate, extra: String::new() }
}

/// The built-in intent model whose label set covers the file's labels.
pub fn pick_intent_model(d: &Dataset) -> Result<Model, EvalError> {
    let labels = d.label_set();
    for bytes in [models::INTENT_BANKING77, models::INTENT_CLINC150] {
        let m = Model::from_bytes(bytes)?;
        if labels.iter().all(|l| m.labels().contains(l)) {
            return Ok(m);
        }
    }
    let support = intent::train(&intent::default_examples(), 42, "built-in cold-start examples")
        .map_err(|e| EvalError::Labels(e.to_string()))?;
    if labels.iter().all(|l| support.labels().iter().any(|m| m == l)) {
        return Ok(support);
    }
    Err(EvalError::Labels(format!(
        "no built-in intent model has all of this file's labels (first few: {})",
        labels.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
    )))
}

pub fn intent_eval(d: &Dataset, model: &Model) -> Outcome {
    let oos = if model.labels().iter().any(|l| l == "oos") { "oos" } else { intent::OTHER };
    let mut s = Scratch::default();
    let (pred, rate) = timed(&d.texts, |t| intent::classify(model, t, oos, &mut s).label);
    let mut extra = String::new();
    if d.labels.iter().any(|l| l == oos) {
        let (ins, rec) = train::oos_figures(&d.labels, &pred, oos);
        let _ = write!(extra, "in-scope accuracy={ins:.4}  out-of-scope recall={rec:.4}");
    }
    Outcome { report: metrics::evaluate(&d.labels, &pred), per_second: rate, extra }
}

pub fn render(title: &str, o: &Outcome, per_label_limit: usize) -> String {
    let mut s = format!("{title}  ({:.0} texts/s)\n", o.per_second);
    if !o.extra.is_empty() {
        let _ = writeln!(s, "  {}", o.extra);
    }
    s.push_str(&o.report.render(per_label_limit));
    s
}

/// One file, one task.
pub fn eval_file(task: Task, path: &Path) -> Result<String, EvalError> {
    let d = data::read_tsv(path)?;
    let name = path.display().to_string();
    Ok(match task {
        Task::Language => {
            let id = LanguageId::all();
            let (full, short) = language(&d, &id);
            format!(
                "{}{}",
                render(&format!("language  {name}  (full text)"), &full, 0),
                render(&format!("language  {name}  (first 3 words / 8 characters)"), &short, 0)
            )
        }
        Task::Sentiment => {
            let id = LanguageId::all();
            let models = SentimentModels::embedded()?;
            render(&format!("sentiment  {name}"), &sentiment(&d, &id, &models), 0)
        }
        Task::Intent => {
            let m = pick_intent_model(&d)?;
            render(&format!("intent ({})  {name}", m.meta.name), &intent_eval(&d, &m), 20)
        }
    })
}

/// Figures of the validation suite, for the results table.
pub struct SuiteRow {
    pub what: String,
    pub metric: String,
    pub value: f64,
    pub target: f64,
}

/// Every validation set; `dir` holds the shared data sets.
pub fn suite(dir: &Path) -> Result<(String, Vec<SuiteRow>), EvalError> {
    let mut out = String::new();
    let mut rows = Vec::new();
    let id = LanguageId::all();
    let models = SentimentModels::embedded()?;
    let te = train::load(dir, "sentiment_en_tweeteval_val.tsv")?;
    let o = sentiment(&te, &id, &models);
    out.push_str(&render("sentiment  TweetEval en val", &o, 0));
    rows.push(SuiteRow {
        what: "English tweet sentiment (TweetEval val)".into(),
        metric: "macro-recall".into(),
        value: o.report.macro_recall,
        target: 0.66,
    });
    // The VADER-style lexicon baseline, on TweetEval and on VADER's own tweet ground truth.
    let lex = crate::lexicon::Lexicon::new();
    let (pred, rate) = timed(&te.texts, |t| lex.label(t).to_owned());
    let lo = Outcome { report: metrics::evaluate(&te.labels, &pred), per_second: rate, extra: String::new() };
    out.push_str(&render("sentiment  TweetEval en val — VADER-style lexicon baseline", &lo, 0));
    rows.push(SuiteRow {
        what: "  VADER-style lexicon baseline on the same set".into(),
        metric: "macro-recall".into(),
        value: lo.report.macro_recall,
        target: f64::NAN,
    });
    if let Ok(vt) = vader_groundtruth(dir) {
        let (pred, rate) = timed(&vt.texts, |t| lex.label(t).to_owned());
        let lo = Outcome { report: metrics::evaluate(&vt.labels, &pred), per_second: rate, extra: String::new() };
        out.push_str(&render("sentiment  VADER tweets ground truth — lexicon baseline", &lo, 0));
        let so = sentiment(&vt, &id, &models);
        out.push_str(&render("sentiment  VADER tweets ground truth — trained English model", &so, 0));
        rows.push(SuiteRow {
            what: "VADER tweet ground truth (score ±0.05), lexicon baseline".into(),
            metric: "macro-F1".into(),
            value: lo.report.macro_f1,
            target: f64::NAN,
        });
        rows.push(SuiteRow {
            what: "  trained English model on the same set".into(),
            metric: "macro-F1".into(),
            value: so.report.macro_f1,
            target: f64::NAN,
        });
    }
    let mut f1 = Vec::new();
    for l in ["ar", "de", "en", "es", "fr", "hi", "it", "pt"] {
        let d = train::load(dir, &format!("sentiment_{l}_xlmt_val.tsv"))?;
        let o = sentiment(&d, &id, &models);
        out.push_str(&render(&format!("sentiment  XLM-T {l} val"), &o, 0));
        rows.push(SuiteRow {
            what: format!("  XLM-T {l}"),
            metric: "macro-F1".into(),
            value: o.report.macro_f1,
            target: f64::NAN,
        });
        f1.push(o.report.macro_f1);
    }
    rows.push(SuiteRow {
        what: "Multilingual tweet sentiment (XLM-T val, 8 languages)".into(),
        metric: "average macro-F1".into(),
        value: f1.iter().sum::<f64>() / f1.len() as f64,
        target: 0.58,
    });
    let zh = train::load(dir, "sentiment_zh_sophonplus_val.tsv")?;
    let o = sentiment(&zh, &id, &models);
    out.push_str(&render("sentiment  Chinese reviews val", &o, 0));
    rows.push(SuiteRow {
        what: "Chinese sentiment (val)".into(),
        metric: "accuracy".into(),
        value: o.report.accuracy,
        target: 0.93,
    });
    let ls = train::load(dir, "langid_sentences.tsv")?;
    let (full, short) = language(&ls, &id);
    out.push_str(&render("language  langid_sentences (full)", &full, 0));
    out.push_str(&render("language  langid_sentences (first 3 words / 8 chars)", &short, 0));
    rows.push(SuiteRow {
        what: "Language id, full sentences".into(),
        metric: "accuracy".into(),
        value: full.report.accuracy,
        target: 0.995,
    });
    rows.push(SuiteRow {
        what: "Language id, 3 words / 8 chars".into(),
        metric: "accuracy".into(),
        value: short.report.accuracy,
        target: 0.95,
    });
    let (_, bval) =
        train::load(dir, "intent_banking77_train.tsv")?.stratified_split(train::BANKING_VAL_FRACTION, train::SEED);
    let bm = Model::from_bytes(models::INTENT_BANKING77)?;
    let o = intent_eval(&bval, &bm);
    out.push_str(&render("intent  banking77 held-out val (10%, seed 42)", &o, 10));
    rows.push(SuiteRow {
        what: "banking77 (held-out 10% of train)".into(),
        metric: "accuracy".into(),
        value: o.report.accuracy,
        target: 0.92,
    });
    let cv = train::load(dir, "intent_clinc150_val.tsv")?;
    let cm = Model::from_bytes(models::INTENT_CLINC150)?;
    let o = intent_eval(&cv, &cm);
    out.push_str(&render("intent  CLINC150 val", &o, 10));
    let (ins, rec) = train::oos_figures(&cv.labels, &intent_predictions(&cv, &cm), "oos");
    rows.push(SuiteRow { what: "CLINC150 val in-scope".into(), metric: "accuracy".into(), value: ins, target: 0.90 });
    rows.push(SuiteRow { what: "CLINC150 val out-of-scope".into(), metric: "recall".into(), value: rec, target: 0.85 });
    Ok((out, rows))
}

/// `vader_tweets_groundtruth.tsv` with its mean ratings bucketed like VADER's compound score
/// (< -0.05 negative, > 0.05 positive, else neutral).
pub fn vader_groundtruth(dir: &Path) -> Result<Dataset, EvalError> {
    let p = dir.join("vader_tweets_groundtruth.tsv");
    let raw =
        std::fs::read_to_string(&p).map_err(|source| data::DataError::Io { path: p.display().to_string(), source })?;
    let mut d = Dataset::default();
    for line in raw.lines().skip(1) {
        let Some((score, text)) = line.split_once('\t') else { continue };
        let Ok(v) = score.trim().parse::<f64>() else { continue };
        let label = if v > 0.05 {
            "positive"
        } else if v < -0.05 {
            "negative"
        } else {
            "neutral"
        };
        d.push(label, text);
    }
    Ok(d)
}

fn intent_predictions(d: &Dataset, m: &Model) -> Vec<String> {
    let mut s = Scratch::default();
    d.texts.iter().map(|t| intent::classify(m, t, "oos", &mut s).label).collect()
}

pub fn render_table(rows: &[SuiteRow]) -> String {
    let mut s = String::from("| task | metric | measured (val) | target | met |\n| --- | --- | --- | --- | --- |\n");
    for r in rows {
        let (t, met) = if r.target.is_nan() {
            ("".to_owned(), "".to_owned())
        } else {
            (format!("≥ {:.3}", r.target), if r.value >= r.target { "yes".into() } else { "no".into() })
        };
        let _ = writeln!(s, "| {} | {} | {:.4} | {} | {} |", r.what, r.metric, r.value, t, met);
    }
    s
}
