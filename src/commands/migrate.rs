//! `medtech state migrate` (a helper is writing it).

use crate::cli::GlobalArgs;
use crate::error::Error;

pub(super) async fn run(_global: &GlobalArgs, _to: &str) -> Result<u8, Error> {
    Err(Error::resource("state migrate", "not built yet"))
}
