//! The `medtech` binary: parse the command line, set up logging, run, map the outcome to a
//! documented exit code. All work happens in the library.

use std::process::ExitCode;

use clap::Parser;

use medtech::cli::Cli;
use medtech::error::exit;

fn main() -> ExitCode {
    let cli = Cli::parse();
    medtech::logging::init(cli.global.verbose, cli.global.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILED);
        }
    };
    match runtime.block_on(medtech::commands::run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            let code = err.exit_code();
            // `{:#}` joins the error chain on one line: what failed, then why.
            let text = format!("{:#}", anyhow::Error::from(err));
            eprintln!("error: {}", text.replace('\n', " "));
            ExitCode::from(code)
        }
    }
}
