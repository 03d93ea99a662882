//! Same as `switchboard bench nlp` without the rest of the workspace (quicker to build):
//! `cargo run --release -p switchboard-nlp --example bench_nlp -- DATASETS_DIR [MESSAGES] [FST_PRUNE]`
fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(args.get(1).cloned().unwrap_or_else(|| "../shared/datasets".into()));
    let n = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let corpus = match switchboard_nlp::bench::corpus(&dir) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bench_nlp: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut enricher = match switchboard_nlp::enrich::Enricher::default_setup() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("bench_nlp: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // Optional: the language cascade's candidate pruning (see `LanguageId::fst_prune`).
    if let Some(p) = args.get(3).and_then(|v| v.parse().ok()) {
        enricher.lang.fst_prune = p;
    }
    println!("load average before: {}", switchboard_nlp::bench::load_average().unwrap_or_default());
    let r = switchboard_nlp::bench::run(&enricher, &corpus, n, &mut |l| println!("{l}"));
    println!("{}", r.text.lines().skip(7).collect::<Vec<_>>().join("\n"));
    println!("load average after: {}", switchboard_nlp::bench::load_average().unwrap_or_default());
    std::process::ExitCode::SUCCESS
}
