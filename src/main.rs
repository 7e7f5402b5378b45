//! The `medtech` binary: parse the command line, set up logging, run, map the outcome to a
//! documented exit code. All work happens in the library.

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

use medtech::cli::Cli;
use medtech::error::exit;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        // A bare `medtech` or `medtech state`: the help is the answer, laid out as clap renders it.
        Err(e) if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            eprint!("{}", e.render());
            return ExitCode::from(exit::INVALID_INPUT);
        }
        Err(e) => {
            // clap's usage errors span several lines; a pipeline log wants one.
            let rendered = e.render().to_string();
            let line: Vec<&str> = rendered
                .lines()
                .map(str::trim)
                .filter(|l| {
                    !l.is_empty()
                        && !l.starts_with("Usage:")
                        && !l.starts_with("For more information")
                })
                .collect();
            eprintln!("{}; see --help", line.join(" "));
            return ExitCode::from(exit::INVALID_INPUT);
        }
    };
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
            // Our errors' own text already says what failed and why; the sources would only
            // repeat it.
            let text = anyhow::Error::from(err).to_string();
            eprintln!("error: {}", text.replace('\n', " "));
            ExitCode::from(code)
        }
    }
}
