//! The shipped models stay above a floor on small committed samples of the validation sets
//! (tests/data, see tests/data/README.md), so a regression in features, training or
//! quantisation fails CI. Floors sit a few points under what the models measured on the same
//! samples when they were trained.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use switchboard_nlp::data::read_tsv;
use switchboard_nlp::eval;
use switchboard_nlp::lang::LanguageId;
use switchboard_nlp::linear::Model;
use switchboard_nlp::models;
use switchboard_nlp::sentiment::SentimentModels;

fn sample(name: &str) -> switchboard_nlp::data::Dataset {
    read_tsv(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)).unwrap()
}

#[test]
fn sentiment_floors() {
    let id = LanguageId::all();
    let m = SentimentModels::embedded().unwrap();
    let en = eval::sentiment(&sample("sentiment_en_tweeteval_val_sample.tsv"), &id, &m).report;
    println!("en macro-recall {:.4}", en.macro_recall);
    assert!(en.macro_recall >= FLOOR_EN, "English macro-recall {:.4}", en.macro_recall);
    let mut f1 = 0.0;
    for l in ["de", "es", "fr"] {
        let r = eval::sentiment(&sample(&format!("sentiment_{l}_xlmt_val_sample.tsv")), &id, &m).report;
        println!("{l} macro-F1 {:.4}", r.macro_f1);
        f1 += r.macro_f1 / 3.0;
    }
    assert!(f1 >= FLOOR_XLMT, "de/es/fr average macro-F1 {f1:.4}");
}

#[test]
fn chinese_sentiment_floor_on_shared_val_when_present() {
    // The Chinese reviews carry no stated licence, so no sample of them is committed; CI has
    // the shared data sets beside the repository.
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/sentiment_zh_sophonplus_val.tsv");
    let Ok(d) = read_tsv(&p) else {
        eprintln!("skipped: {} not found", p.display());
        return;
    };
    let id = LanguageId::all();
    let r = eval::sentiment(&d, &id, &SentimentModels::embedded().unwrap()).report;
    println!("zh accuracy {:.4}", r.accuracy);
    // Measured 0.9249 (val).
    assert!(r.accuracy >= 0.915, "zh accuracy {:.4}", r.accuracy);
}

#[test]
fn language_floors() {
    let id = LanguageId::all();
    let (full, short) = eval::language(&sample("langid_sample.tsv"), &id);
    println!("language full {:.4} short {:.4}", full.report.accuracy, short.report.accuracy);
    assert!(full.report.accuracy >= 0.98, "{}", full.report.accuracy);
    assert!(short.report.accuracy >= 0.92, "{}", short.report.accuracy);
}

#[test]
fn language_unknown_on_gibberish_and_emoji() {
    let id = LanguageId::all();
    for t in ["😀😀😀", "@bob #sale http://x.y 🙏", "1234 5678", "", "!!!", "x"] {
        assert_eq!(id.detect(t).code, "unknown", "{t:?}");
    }
    assert_eq!(id.detect("@bob where is my parcel? it was due yesterday").code, "en");
    assert_eq!(id.detect("我的快递到哪了").code, "zh");
    assert_eq!(id.detect("注文した商品がまだ届きません").code, "ja");
}

#[test]
fn language_cascade_uses_the_table_when_sure_and_lingua_models_when_not() {
    use switchboard_nlp::lang::Stage;
    let id = LanguageId::all();
    let (g, st) = id.detect_traced("@bob where is my parcel? it was due yesterday and nobody answers");
    assert_eq!((g.code, st), ("en", Stage::Table));
    let (g, st) = id.detect_traced("我的快递到哪了");
    assert_eq!((g.code, st), ("zh", Stage::Rules));
    // Spanish and Portuguese share most short words: the table is not sure, lingua's models decide.
    let (g, st) = id.detect_traced("o carro");
    assert_eq!(st, Stage::Lingua);
    assert!(["pt", "es", "it"].contains(&g.code), "{g:?}");
}

#[test]
fn clinc_floor() {
    let d = sample("intent_clinc150_val_sample.tsv");
    let m = Model::from_bytes(models::INTENT_CLINC150).unwrap();
    let o = eval::intent_eval(&d, &m);
    let pred: Vec<String> = {
        let mut s = switchboard_nlp::features::Scratch::default();
        d.texts.iter().map(|t| switchboard_nlp::intent::classify(&m, t, "oos", &mut s).label).collect()
    };
    let (ins, rec) = switchboard_nlp::train::oos_figures(&d.labels, &pred, "oos");
    println!("clinc accuracy {:.4} in-scope {ins:.4} oos recall {rec:.4}", o.report.accuracy);
    assert!(ins >= FLOOR_CLINC_IN && rec >= FLOOR_CLINC_OOS, "in-scope {ins:.4} oos recall {rec:.4}");
}

#[test]
fn banking_floor_on_the_held_out_part_when_present() {
    // The same 10 % of the shared training file that `switchboard nlp eval` reports (the shipped
    // model never saw it); CI has the shared data sets beside the repository.
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/intent_banking77_train.tsv");
    let Ok(d) = read_tsv(&p) else {
        eprintln!("skipped: {} not found", p.display());
        return;
    };
    let (_, held_out) = d.stratified_split(switchboard_nlp::train::BANKING_VAL_FRACTION, switchboard_nlp::train::SEED);
    assert!(held_out.len() > 700, "hold-out of {} rows", held_out.len());
    let m = Model::from_bytes(models::INTENT_BANKING77).unwrap();
    let acc = eval::intent_eval(&held_out, &m).report.accuracy;
    println!("banking77 held-out accuracy {acc:.4}");
    // Measured 0.8985.
    assert!(acc >= 0.88, "banking77 held-out accuracy {acc:.4}");
}

#[test]
fn banking_model_loads_and_answers_in_its_label_set() {
    let m = Model::from_bytes(models::INTENT_BANKING77).unwrap();
    assert_eq!(m.labels().len(), 77);
    let mut s = switchboard_nlp::features::Scratch::default();
    let g = switchboard_nlp::intent::classify(&m, "my card still hasn't arrived", "oos", &mut s);
    assert_eq!(g.label, "card_arrival");
}

/// Measured 0.691 on the sample.
const FLOOR_EN: f64 = 0.64;
/// Measured 0.648 (de 0.668, es 0.587, fr 0.690).
const FLOOR_XLMT: f64 = 0.60;
/// Measured 0.903 in-scope, 0.90 out-of-scope recall.
const FLOOR_CLINC_IN: f64 = 0.86;
const FLOOR_CLINC_OOS: f64 = 0.80;
