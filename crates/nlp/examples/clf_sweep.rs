//! Classifier experiments on train/validation data only (float weights, no quantisation):
//! `clf_sweep DATASETS TASK BITS WORD_NGRAMS CHAR_MIN CHAR_MAX NEGATION(0|1) WEIGHTING(0 none|1 idf|2 nb)
//! C[,C…] EPOCHS [NB_FLOOR] [WORD_WEIGHT] [CHAR_WB(0|1)] [BLOCK_NORM(0|1)] [LOGREG_LAMBDA (0 = SVM)] [JIEBA_WORDS(0|1|2)]`; TASK: banking | clinc | zh |
//! en | xlmt-LANG | xlmt-all (the joint model's data), optionally with `@dev`: tune on a stratified 10 % of the training data
//! (seed 42) instead of the validation file, which then stays untouched for reporting, or
//! `@cv5`: the mean over 5 stratified folds of the training data (small sets such as XLM-T).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use switchboard_nlp::data::Dataset;
use switchboard_nlp::features::FeatureConfig;
use switchboard_nlp::linear::{self, TrainOptions};
use switchboard_nlp::train;
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(&a[1]);
    let task = a[2].as_str();
    let p = |i: usize, d: f32| a.get(i).and_then(|v| v.parse::<f32>().ok()).unwrap_or(d);
    let cfg = FeatureConfig {
        bits: p(3, 14.0) as u8,
        word_ngrams: p(4, 2.0) as u8,
        char_min: p(5, 2.0) as u8,
        char_max: p(6, 5.0) as u8,
        negation: p(7, 0.0) > 0.0,
        word_weight: p(12, 1.0),
        char_wb: p(13, 0.0) > 0.0,
        block_norm: p(14, 0.0) > 0.0,
        jieba_words: p(16, 0.0) as u8,
    };
    let weighting = p(8, 1.0) as u8;
    let nb_floor = p(11, 0.5);
    let cs: Vec<f32> = a.get(9).map(|v| v.split(',').filter_map(|x| x.parse().ok()).collect()).unwrap_or(vec![1.0]);
    let epochs = p(10, 10.0) as usize;
    let lambda = p(15, 0.0);
    let load = |f: &str| train::load(&dir, f).unwrap();
    let (task, folds) = match (task.strip_suffix("@dev"), task.strip_suffix("@cv5")) {
        (Some(t), _) => (t, 1),
        (_, Some(t)) => (t, 5),
        _ => (task, 0),
    };
    let (tr, va): (Dataset, Dataset) = match task {
        "banking" => load("intent_banking77_train.tsv").stratified_split(train::BANKING_VAL_FRACTION, train::SEED),
        "clinc" => (load("intent_clinc150_train.tsv"), load("intent_clinc150_val.tsv")),
        "zh" => (load("sentiment_zh_sophonplus_train.tsv"), load("sentiment_zh_sophonplus_val.tsv")),
        "en" => (load("sentiment_en_tweeteval_train.tsv"), load("sentiment_en_tweeteval_val.tsv")),
        // The joint model's data: every XLM-T training file (its validation files pooled).
        "xlmt-all" => {
            let (mut tr, mut va) = (Dataset::default(), Dataset::default());
            for l in train::XLMT_LANGS {
                tr.extend(&load(&format!("sentiment_{l}_xlmt_train.tsv")));
                va.extend(&load(&format!("sentiment_{l}_xlmt_val.tsv")));
            }
            (tr, va)
        }
        t if t.starts_with("xlmt-") => {
            let l = &t[5..];
            (load(&format!("sentiment_{l}_xlmt_train.tsv")), load(&format!("sentiment_{l}_xlmt_val.tsv")))
        }
        _ => panic!("task"),
    };
    let splits: Vec<(Dataset, Dataset)> = match folds {
        0 => vec![(tr, va)],
        1 => vec![tr.stratified_split(train::BANKING_VAL_FRACTION, train::SEED)],
        k => (0..k).map(|f| tr.fold(k, f, train::SEED)).collect(),
    };
    let mut sums: Vec<[f64; 3]> = vec![[0.0; 3]; cs.len()];
    for (tr, va) in &splits {
        run(&cfg, tr, va, weighting, nb_floor, &cs, (epochs, lambda), &mut sums);
    }
    let n = splits.len() as f64;
    for (c, s) in cs.iter().zip(&sums) {
        println!(
            "{task}{} {:?} weighting {weighting} floor {nb_floor} C {c} epochs {epochs} logreg {lambda}: acc {:.4} macroF1 {:.4} macroR {:.4}",
            match folds {
                0 => "",
                1 => "@dev",
                _ => "@cv5",
            },
            cfg,
            s[0] / n,
            s[1] / n,
            s[2] / n,
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn run(
    cfg: &FeatureConfig,
    tr: &Dataset,
    va: &Dataset,
    weighting: u8,
    nb_floor: f32,
    cs: &[f32],
    (epochs, lambda): (usize, f32),
    sums: &mut [[f64; 3]],
) {
    let cfg = cfg.clone();
    let mut labels = tr.label_set();
    labels.sort();
    let t0 = std::time::Instant::now();
    let mut x = train::vectorise(&cfg, &tr.texts);
    let y = train::label_ids(&tr.labels, &labels);
    let idf_t = match weighting {
        0 => None,
        1 => Some(linear::idf_table(&x, cfg.dims())),
        _ => Some(linear::nb_table(&x, &y, labels.len(), cfg.dims(), 1.0, nb_floor)),
    };
    if let Some(t) = &idf_t {
        x = train::vectorise_idf(&cfg, Some(t), &tr.texts);
    }
    let xv = train::vectorise_idf(&cfg, idf_t.as_deref(), &va.texts);
    let nnz: usize = x.iter().map(|v| v.idx.len()).sum::<usize>() / x.len().max(1);
    eprintln!("vectorised in {:?}, avg nnz {nnz}", t0.elapsed());
    for (&c, sum) in cs.iter().zip(sums.iter_mut()) {
        let t0 = std::time::Instant::now();
        let o = TrainOptions { c, lambda, epochs, balanced: true, seed: train::SEED };
        let d = if lambda > 0.0 {
            linear::train_logreg(&x, &y, labels.len(), cfg.dims(), &o)
        } else {
            linear::train_svm(&x, &y, labels.len(), cfg.dims(), &o)
        };
        let mut s = vec![0f32; labels.len()];
        let pred: Vec<String> = xv
            .iter()
            .map(|v| {
                d.scores(v, &mut s);
                let i = s.iter().enumerate().fold((0, f32::MIN), |a, (i, &v)| if v > a.1 { (i, v) } else { a }).0;
                labels[i].clone()
            })
            .collect();
        let r = switchboard_nlp::metrics::evaluate(&va.labels, &pred);
        eprintln!("  C {c}: acc {:.4} macroF1 {:.4} ({:?})", r.accuracy, r.macro_f1, t0.elapsed());
        sum[0] += r.accuracy;
        sum[1] += r.macro_f1;
        sum[2] += r.macro_recall;
    }
}
