//! `medtech completions SHELL` and `medtech man`: generated from the same clap definition
//! that parses the command line, so they cannot fall out of step with it.

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;
use crate::error::{Error, exit};

pub(super) fn completions(shell: Shell) -> Result<u8, Error> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "medtech", &mut script);
    crate::stdout::write(&String::from_utf8_lossy(&script));
    Ok(exit::OK)
}

pub(super) fn man() -> Result<u8, Error> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .map_err(|source| Error::Io {
            path: "stdout".into(),
            source,
        })?;
    crate::stdout::write(&String::from_utf8_lossy(&page));
    Ok(exit::OK)
}
