//! Sentiment routes of several models (probabilities averaged, as `sentiment-routing.tsv` does),
//! quantised and calibrated exactly as shipped: `route_sweep DATASETS TASK SPEC [SPEC…]` with TASK
//! `zh@dev` (tune: 10 % of the training file held out, seed 42) or `zh` (train file → val file),
//! and SPEC `bits,word_ngrams,char_min,char_max,negation,weighting(0 none|1 idf|2 nb),C[,char_wb,block_norm,logreg,jieba_words]`.
//! Prints each model alone, then the average of all of them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use switchboard_nlp::data::Dataset;
use switchboard_nlp::features::{FeatureConfig, Scratch};
use switchboard_nlp::linear::{Model, TrainOptions};
use switchboard_nlp::sentiment::SentimentModels;
use switchboard_nlp::train::{self, Learner, Recipe};

fn recipe(spec: &str, name: &'static str) -> Recipe {
    let v: Vec<f32> = spec.split(',').map(|x| x.parse().unwrap()).collect();
    let g = |i: usize| v.get(i).copied().unwrap_or(0.0);
    Recipe {
        name,
        features: FeatureConfig {
            bits: g(0) as u8,
            word_ngrams: g(1) as u8,
            char_min: g(2) as u8,
            char_max: g(3) as u8,
            negation: g(4) > 0.0,
            word_weight: 1.0,
            char_wb: g(7) > 0.0,
            block_norm: g(8) > 0.0,
            jieba_words: g(10) as u8,
        },
        learner: if g(9) > 0.0 { Learner::LogReg } else { Learner::Svm },
        options: TrainOptions { c: g(6), lambda: 1e-5, epochs: 10, balanced: true, seed: train::SEED },
        oos_label: None,
        idf: g(5) as u8 == 1,
        nb: (g(5) as u8 == 2).then_some((1.0, 0.5)),
        provenance: "route_sweep",
    }
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(&a[1]);
    let task = a[2].as_str();
    let load = |f: &str| train::load(&dir, f).unwrap();
    let (base, dev) = match task.strip_suffix("@dev") {
        Some(t) => (t, true),
        None => (task, false),
    };
    let (tr, va): (Dataset, Dataset) = match base {
        "zh" => (load("sentiment_zh_sophonplus_train.tsv"), load("sentiment_zh_sophonplus_val.tsv")),
        "en" => (load("sentiment_en_tweeteval_train.tsv"), load("sentiment_en_tweeteval_val.tsv")),
        t if t.starts_with("xlmt-") => {
            let l = &t[5..];
            (load(&format!("sentiment_{l}_xlmt_train.tsv")), load(&format!("sentiment_{l}_xlmt_val.tsv")))
        }
        _ => panic!("task"),
    };
    let (tr, va) = if dev { tr.stratified_split(train::BANKING_VAL_FRACTION, train::SEED) } else { (tr, va) };
    const NAMES: [&str; 4] = ["m0", "m1", "m2", "m3"];
    let mut models: Vec<(String, Model)> = Vec::new();
    for (i, spec) in a[3..].iter().enumerate().take(4) {
        let t0 = std::time::Instant::now();
        let m = train::fit(&recipe(spec, NAMES[i]), &tr, &va);
        models.push((NAMES[i].to_owned(), m));
        let r = score(&models, NAMES[i], &va);
        println!("{task} {spec}: acc {:.4} macroF1 {:.4} ({:?})", r.accuracy, r.macro_f1, t0.elapsed());
    }
    let route = NAMES[..models.len()].join("+");
    let r = score(&models, &route, &va);
    println!("{task} average of {route}: acc {:.4} macroF1 {:.4}", r.accuracy, r.macro_f1);
}

fn score(models: &[(String, Model)], route: &str, va: &Dataset) -> switchboard_nlp::metrics::Report {
    let sm = SentimentModels::new(models.to_vec(), &format!("*\t{route}\n"));
    let mut s = Scratch::default();
    let pred: Vec<String> = va.texts.iter().map(|t| sm.predict(t, "*", &mut s).label.to_owned()).collect();
    switchboard_nlp::metrics::evaluate(&va.labels, &pred)
}
