//! `medtech state bootstrap` (a helper is writing it).

use crate::cli::{BootstrapArgs, GlobalArgs};
use crate::error::Error;

pub(super) async fn run(_global: &GlobalArgs, _args: &BootstrapArgs) -> Result<u8, Error> {
    Err(Error::resource("state bootstrap", "not built yet"))
}
