//! Tuning the romanised-Hindi rule (`lang::ROMANISED_HINDI_MIN_WORDS`) on training files only: for
//! each minimum number of distinct Hindi words (and share of the text's words), the share of each
//! file's tweets the rule would call Hindi — the XLM-T Hindi tweets (to catch) against TweetEval
//! and the other XLM-T languages (not to catch). The validation files are not read.
//! `cargo run --release -p switchboard-nlp --example hinglish_rule -- [DATASETS]`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use switchboard_nlp::lang::romanised_hindi_words;
use switchboard_nlp::text::strip_for_language;

fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "../shared/datasets".into()));
    let mut files = vec![("tweeteval".to_owned(), "sentiment_en_tweeteval_train.tsv".to_owned())];
    for l in ["hi", "en", "de", "es", "fr", "it", "pt", "ar"] {
        files.push((format!("xlmt-{l}"), format!("sentiment_{l}_xlmt_train.tsv")));
    }
    // (distinct Hindi words, number of words) per tweet, per file.
    let counts: Vec<(String, Vec<(usize, usize)>)> = files
        .iter()
        .map(|(name, f)| {
            let d = switchboard_nlp::data::read_tsv(&dir.join(f)).unwrap();
            let c = d
                .texts
                .iter()
                .map(|t| {
                    let clean = strip_for_language(t);
                    (romanised_hindi_words(&clean), clean.split(' ').filter(|w| !w.is_empty()).count())
                })
                .collect();
            (name.clone(), c)
        })
        .collect();
    for (k, share) in [(1usize, 0.0f64), (1, 0.1), (1, 0.2), (2, 0.0), (2, 0.1), (3, 0.0)] {
        let mut line = format!("at least {k} word(s), share >= {share}:");
        for (name, c) in &counts {
            let hits = c.iter().filter(|(h, w)| *h >= k && *h as f64 >= share * *w as f64).count();
            line += &format!(" {name} {:.4}", hits as f64 / c.len().max(1) as f64);
        }
        println!("{line}");
    }
}
