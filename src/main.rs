//! The `medtech` binary: parse the command line, set up logging, run, map the outcome to a
//! documented exit code. All work happens in the library.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::error::ErrorKind;

use medtech::cli::{Cli, Command, OutputMode};
use medtech::failure::{Asked, Failure};

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let cli = match Cli::parse_from_args(&args) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            let asked = Asked::scan(&args, |name| std::env::var(name).ok());
            let mut failure = Failure::usage(&e);
            if asked.detailed_exitcode {
                failure = failure.under_detailed_exitcode();
            }
            // A bare `medtech` or `medtech state`: the help is the answer, laid out as clap
            // renders it. (Clap says so itself only when no argument at all was given; a
            // variable like AWS_REGION counts as one.)
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand
            ) {
                eprint!("{}", Cli::help_for(&args));
                if asked.json {
                    medtech::outln!("{}", failure.document(None));
                }
            } else {
                failure.report(None, asked.json);
            }
            return ExitCode::from(failure.exit_code);
        }
    };
    medtech::style::init(cli.global.color);
    medtech::logging::init(
        cli.global.verbose,
        cli.global.quiet,
        medtech::style::stderr(),
    );
    let json = cli.global.output == OutputMode::Json;
    let command = cli.command.path();
    let detailed = matches!(&cli.command, Command::Plan(plan) if plan.detailed_exitcode);
    let outcome = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(medtech::commands::run(cli)),
        Err(e) => Err(medtech::error::Error::Io {
            path: "the async runtime".into(),
            source: e,
        }),
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            let mut failure = Failure::of(err);
            if detailed {
                failure = failure.under_detailed_exitcode();
            }
            failure.report(Some(command), json);
            ExitCode::from(failure.exit_code)
        }
    }
}
