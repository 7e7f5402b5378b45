//! `medtech state history` and `state show --version` (a helper is writing them).

use crate::cli::GlobalArgs;
use crate::error::Error;

pub(super) async fn run(_global: &GlobalArgs) -> Result<u8, Error> {
    Err(Error::resource("state history", "not built yet"))
}

pub(super) async fn show_version(_global: &GlobalArgs, _version: &str) -> Result<u8, Error> {
    Err(Error::resource("state show --version", "not built yet"))
}
