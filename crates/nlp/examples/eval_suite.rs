//! Same as `switchboard nlp eval` (whole validation suite) without the rest of the workspace.
fn main() -> std::process::ExitCode {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "../shared/datasets".into());
    match switchboard_nlp::eval::suite(dir.as_ref()) {
        Ok((text, rows)) => {
            println!("{text}\n{}", switchboard_nlp::eval::render_table(&rows));
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("eval_suite: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
