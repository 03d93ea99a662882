//! Does the English sentiment model serve romanised Hindi better when it also learns from the
//! XLM-T Hindi training tweets? Romanised Hindi is Latin-script text the language step calls
//! English, so the English model is what scores it. Tuning only: 10 % of each training file
//! (stratified, seed 42) is held out, the validation files are not read.
//! `hinglish_sweep DATASETS [HI_REPEAT…]` (0 = English only).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use switchboard_nlp::lang::LanguageId;
use switchboard_nlp::linear::Model;
use switchboard_nlp::sentiment::SentimentModels;
use switchboard_nlp::train::{self, Recipe};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(&a[1]);
    let repeats: Vec<usize> = a[2..].iter().map(|v| v.parse().unwrap()).collect();
    let (en_tr, en_dev) = train::load(&dir, "sentiment_en_tweeteval_train.tsv")
        .unwrap()
        .stratified_split(train::BANKING_VAL_FRACTION, train::SEED);
    let (hi_tr, hi_dev) = train::load(&dir, "sentiment_hi_xlmt_train.tsv")
        .unwrap()
        .stratified_split(train::BANKING_VAL_FRACTION, train::SEED);
    let id = LanguageId::all();
    let embedded = SentimentModels::embedded().unwrap();
    let detected: Vec<&str> = hi_dev.texts.iter().map(|t| id.detect(t).code).collect();
    let en_share = detected.iter().filter(|c| **c == "en").count() as f64 / detected.len() as f64;
    println!("hi dev: {:.0}% detected as en", 100.0 * en_share);
    for &rep in &repeats {
        let mut tr = en_tr.clone();
        for _ in 0..rep {
            tr.extend(&hi_tr);
        }
        let r = Recipe { provenance: "hinglish_sweep", ..train::english_recipe() };
        let m: Model = train::fit(&r, &tr, &en_dev);
        let en = train::report(&m, &en_dev, None);
        // Hindi dev tweets as the pipeline scores them: detected language, that language's route,
        // with this English model in place of the shipped one.
        let mut s = Default::default();
        let sm = SentimentModels::new(vec![("sentiment-en".into(), m.clone())], "*\tsentiment-en\n");
        let pred: Vec<String> = hi_dev
            .texts
            .iter()
            .zip(&detected)
            .map(|(t, &l)| {
                if l == "en" {
                    sm.predict(t, "en", &mut s).label.to_owned()
                } else {
                    embedded.predict(t, l, &mut s).label.to_owned()
                }
            })
            .collect();
        let hi = switchboard_nlp::metrics::evaluate(&hi_dev.labels, &pred);
        let vader = vader(&dir, &m);
        println!(
            "hi x{rep}: en dev macro-recall {:.4} | hi dev macro-F1 {:.4} (pipeline) | VADER tweets macro-F1 {vader:.4}",
            en.macro_recall, hi.macro_f1
        );
    }
}

fn vader(dir: &std::path::Path, m: &Model) -> f64 {
    train::report(m, &switchboard_nlp::eval::vader_groundtruth(dir).unwrap(), None).macro_f1
}
