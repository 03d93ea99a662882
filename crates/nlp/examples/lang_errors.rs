//! Language-identification experiments: accuracy on XLM-T training tweets (de/es/fr/it/pt, full
//! and 3-word prefixes) for several table weights; with a FILE, prints that file's errors.
fn main() -> std::process::ExitCode {
    let dir = std::path::Path::new("../shared/datasets");
    if let Some(path) = std::env::args().nth(1) {
        let Ok(d) = switchboard_nlp::data::read_tsv(path.as_ref()) else { return std::process::ExitCode::FAILURE };
        let mut id = switchboard_nlp::lang::LanguageId::all();
        id.fast_weight = std::env::args().nth(2).and_then(|w| w.parse().ok()).unwrap_or(id.fast_weight);
        let mut n = 0;
        for (g, t) in d.labels.iter().zip(&d.texts) {
            let s = switchboard_nlp::eval::short_prefix(t);
            let p = id.detect(&s);
            if p.code != g {
                n += 1;
                println!("{g}\t{}\t{:.2}\t{s}", p.code, p.confidence);
            }
        }
        println!("{n} short errors");
        return std::process::ExitCode::SUCCESS;
    }
    let mut tw = switchboard_nlp::data::Dataset::default();
    for l in ["de", "es", "fr", "it", "pt"] {
        let Ok(d) = switchboard_nlp::data::read_tsv(&dir.join(format!("sentiment_{l}_xlmt_train.tsv"))) else {
            return std::process::ExitCode::FAILURE;
        };
        for t in &d.texts {
            tw.push(l, t);
        }
    }
    for w in [0.0f32, 0.2, 0.35, 0.5] {
        let mut id = switchboard_nlp::lang::LanguageId::all();
        id.fast_weight = w;
        let (full, short) = switchboard_nlp::eval::language(&tw, &id);
        println!("weight {w}: tweets full {:.4} short {:.4}", full.report.accuracy, short.report.accuracy);
    }
    std::process::ExitCode::SUCCESS
}
