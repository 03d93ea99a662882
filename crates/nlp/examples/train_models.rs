//! Same as `switchboard nlp train` without the rest of the workspace (quicker to build):
//! `cargo run --release -p switchboard-nlp --example train_models -- DATASETS_DIR OUT_DIR [sentiment|intent]`
fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(out)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: train_models DATASETS_DIR OUT_DIR [sentiment|intent]");
        return std::process::ExitCode::from(2);
    };
    match switchboard_nlp::train::train_all(dir.as_ref(), out.as_ref(), args.get(3).map(String::as_str), &mut |l| {
        println!("{l}")
    }) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("train_models: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
