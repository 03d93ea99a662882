//! banking77 experiments on the training part only (the 10 % hold-out that `switchboard nlp eval`
//! reports is never read): `intent_sweep DATASETS FOLDS SPEC…`. FOLDS = 1: a stratified 10 % of
//! the training part (seed 42) as dev; FOLDS ≥ 2: mean over that many stratified folds of the
//! training part. Each SPEC is an ensemble `MEMBER[+MEMBER…]` whose raw scores are summed,
//! MEMBER = `bits:word_ngrams:char_min:char_max:char_wb:word_weight:C:epochs[:lambda]` (float
//! weights, IDF, class-balanced; lambda > 0 = softmax regression by SGD instead of the SVM), or
//! `k` + the same fields for a nearest-neighbour vote (C = its weight; see [`Member::knn`]).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use switchboard_nlp::data::Dataset;
use switchboard_nlp::features::{FeatureConfig, SparseVec};
use switchboard_nlp::linear::{self, Dense, TrainOptions};
use switchboard_nlp::train;

struct Member {
    /// Nearest neighbours instead of a linear model: each class scores `c` × the cosine
    /// similarity of its nearest training example (`C` is that weight; epochs unused).
    knn: bool,
    cfg: FeatureConfig,
    c: f32,
    epochs: usize,
    lambda: f32,
}

fn parse_member(s: &str) -> Member {
    let (knn, s) = match s.strip_prefix('k') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let p: Vec<f32> = s.split(':').map(|v| v.parse().expect("number")).collect();
    Member {
        knn,
        cfg: FeatureConfig {
            bits: p[0] as u8,
            word_ngrams: p[1] as u8,
            char_min: p[2] as u8,
            char_max: p[3] as u8,
            negation: false,
            word_weight: p[5],
            char_wb: p[4] > 0.0,
            block_norm: false,
            jieba_words: 0,
        },
        c: p[6],
        epochs: p[7] as usize,
        lambda: p.get(8).copied().unwrap_or(0.0),
    }
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(&a[1]);
    let folds: usize = a[2].parse().unwrap();
    let specs: Vec<Vec<Member>> = a[3..].iter().map(|s| s.split('+').map(parse_member).collect()).collect();
    let (tr, _held_out) = train::load(&dir, "intent_banking77_train.tsv")
        .unwrap()
        .stratified_split(train::BANKING_VAL_FRACTION, train::SEED);
    let splits: Vec<(Dataset, Dataset)> = if folds <= 1 {
        vec![tr.stratified_split(train::BANKING_VAL_FRACTION, train::SEED)]
    } else {
        (0..folds).map(|f| tr.fold(folds, f, train::SEED)).collect()
    };
    let mut acc = vec![0f64; specs.len()];
    for (fi, (tr, va)) in splits.iter().enumerate() {
        let mut labels = tr.label_set();
        labels.sort();
        let y = train::label_ids(&tr.labels, &labels);
        let yv = train::label_ids(&va.labels, &labels);
        for (si, spec) in specs.iter().enumerate() {
            let t0 = std::time::Instant::now();
            let mut sum = vec![vec![0f32; labels.len()]; va.len()];
            for m in spec {
                if m.knn {
                    knn_scores(m, tr, va, &y, labels.len(), &mut sum);
                    continue;
                }
                let (d, xv) = fit(m, tr, va, &y, labels.len());
                let mut s = vec![0f32; labels.len()];
                for (v, o) in xv.iter().zip(&mut sum) {
                    d.scores(v, &mut s);
                    for (a, b) in o.iter_mut().zip(&s) {
                        *a += b;
                    }
                }
            }
            let ok = sum
                .iter()
                .zip(&yv)
                .filter(|(s, y)| {
                    s.iter().enumerate().fold((0, f32::MIN), |a, (i, &v)| if v > a.1 { (i, v) } else { a }).0 == **y
                })
                .count();
            let r = ok as f64 / va.len() as f64;
            eprintln!("fold {fi} spec {si}: {r:.4} ({:?})", t0.elapsed());
            acc[si] += r;
        }
    }
    for (s, a) in a[3..].iter().zip(&acc) {
        println!(
            "banking@{} {s}: acc {:.4}",
            if folds <= 1 { "dev".to_owned() } else { format!("cv{folds}") },
            a / splits.len() as f64
        );
    }
}

fn fit(m: &Member, tr: &Dataset, va: &Dataset, y: &[usize], k: usize) -> (Dense, Vec<SparseVec>) {
    let x = train::vectorise(&m.cfg, &tr.texts);
    let idf = linear::idf_table(&x, m.cfg.dims());
    let x = train::vectorise_idf(&m.cfg, Some(&idf), &tr.texts);
    let o = TrainOptions { c: m.c, lambda: m.lambda, epochs: m.epochs, balanced: true, seed: train::SEED };
    let d = if m.lambda > 0.0 {
        linear::train_logreg(&x, y, k, m.cfg.dims(), &o)
    } else {
        linear::train_svm(&x, y, k, m.cfg.dims(), &o)
    };
    (d, train::vectorise_idf(&m.cfg, Some(&idf), &va.texts))
}

/// Adds `C` × the best cosine similarity per class (IDF-weighted, L2-normalised vectors).
fn knn_scores(m: &Member, tr: &Dataset, va: &Dataset, y: &[usize], k: usize, sum: &mut [Vec<f32>]) {
    let x = train::vectorise(&m.cfg, &tr.texts);
    let idf = linear::idf_table(&x, m.cfg.dims());
    let x = train::vectorise_idf(&m.cfg, Some(&idf), &tr.texts);
    let xv = train::vectorise_idf(&m.cfg, Some(&idf), &va.texts);
    let mut post: Vec<Vec<(u32, f32)>> = vec![Vec::new(); m.cfg.dims()];
    for (i, v) in x.iter().enumerate() {
        for (&f, &w) in v.idx.iter().zip(&v.val) {
            post[f as usize].push((i as u32, w));
        }
    }
    let mut dot = vec![0f32; x.len()];
    for (v, o) in xv.iter().zip(sum.iter_mut()) {
        dot.iter_mut().for_each(|d| *d = 0.0);
        for (&f, &w) in v.idx.iter().zip(&v.val) {
            for &(i, u) in &post[f as usize] {
                dot[i as usize] += w * u;
            }
        }
        let mut best = vec![0f32; k];
        for (d, &c) in dot.iter().zip(y) {
            best[c] = best[c].max(*d);
        }
        for (a, b) in o.iter_mut().zip(&best) {
            *a += m.c * b;
        }
    }
}
