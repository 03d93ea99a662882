//! Language-id cascade experiments: table size/order and margins vs accuracy and speed.
//! `cargo run --release -p switchboard-nlp --example lang_sweep -- DATASETS BITS ORDER MARGINS CANDIDATES PRUNES`
//! (the last three comma-separated lists; the tweets decide, the sentences are the evaluation set)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::time::Instant;
use switchboard_nlp::lang::{LanguageId, SUPPORTED, Stage};
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(a.get(1).cloned().unwrap_or("../shared/datasets".into()));
    let bits: u8 = a.get(2).and_then(|v| v.parse().ok()).unwrap_or(18);
    let order: u8 = a.get(3).and_then(|v| v.parse().ok()).unwrap_or(4);
    let margins: Vec<f32> =
        a.get(4).map(|v| v.split(',').filter_map(|x| x.parse().ok()).collect()).unwrap_or(vec![0.6]);
    let cands: Vec<f32> = a.get(5).map(|v| v.split(',').filter_map(|x| x.parse().ok()).collect()).unwrap_or(vec![0.6]);
    let prunes: Vec<f32> =
        a.get(6).map(|v| v.split(',').filter_map(|x| x.parse().ok()).collect()).unwrap_or(vec![f32::INFINITY]);
    let ls = switchboard_nlp::data::read_tsv(&dir.join("langid_sentences.tsv")).unwrap();
    let mut tw = switchboard_nlp::data::Dataset::default();
    for l in ["de", "es", "fr", "it", "pt"] {
        let d = switchboard_nlp::data::read_tsv(&dir.join(format!("sentiment_{l}_xlmt_train.tsv"))).unwrap();
        for t in d.texts.iter().take(600) {
            tw.push(l, t);
        }
    }
    let t0 = Instant::now();
    let table = if bits == 0 { None } else { Some(switchboard_nlp::fastlang::FastLang::distill(bits, order).unwrap()) };
    eprintln!("distilled in {:?}", t0.elapsed());
    let bytes = table.as_ref().map(|t| t.to_bytes());
    for &m in &margins {
        for (&c, &pr) in cands.iter().flat_map(|c| prunes.iter().map(move |p| (c, p))) {
            let mut id = LanguageId::with_table(
                SUPPORTED,
                bytes.as_ref().map(|b| switchboard_nlp::fastlang::FastLang::from_bytes(b).unwrap()),
            )
            .unwrap();
            id.fast_margin = m;
            id.fst_candidates = c as usize;
            id.fst_prune = pr;
            let mut line = format!("bits {bits} order {order} margin {m} cand {c} prune {pr}:");
            for (name, d) in [("sent", &ls), ("tweets", &tw)] {
                for short in [false, true] {
                    let (mut ok, mut lingua) = (0, 0);
                    let t0 = Instant::now();
                    for (g, t) in d.labels.iter().zip(&d.texts) {
                        let t = if short { switchboard_nlp::eval::short_prefix(t) } else { t.clone() };
                        let (p, st) = id.detect_traced(&t);
                        ok += usize::from(p.code == g);
                        lingua += usize::from(st == Stage::Lingua);
                    }
                    let us = t0.elapsed().as_secs_f64() * 1e6 / d.len() as f64;
                    line += &format!(
                        " {name}{} {:.4} ({:.0}% lingua, {us:.0}us)",
                        if short { "-short" } else { "" },
                        ok as f64 / d.len() as f64,
                        100.0 * lingua as f64 / d.len() as f64
                    );
                }
            }
            println!("{line}");
        }
    }
}
