//! Calls about something a service has just made, made again while the service does not know
//! it yet. AWS is eventually consistent: a new KMS key is not at once known to every part of
//! KMS ("Eventual consistency" in the KMS developer guide), which refuses calls about it
//! meanwhile. Such a refusal is waited out for a while; every other answer stands.

use std::future::Future;
use std::time::{Duration, Instant};

/// Runs `call` until it answers with anything but an error `unknown_yet` says time will clear,
/// or until `allowance` has passed since the first call. `pause` waits between calls; its
/// error (a run being stopped) ends the wait.
pub(crate) async fn once_known<T, E, F, Fut, P, PFut>(
    allowance: Duration,
    unknown_yet: impl Fn(&E) -> bool,
    mut pause: P,
    mut call: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    P: FnMut() -> PFut,
    PFut: Future<Output = Result<(), E>>,
{
    let started = Instant::now();
    loop {
        match call().await {
            Err(e) if unknown_yet(&e) && started.elapsed() < allowance => pause().await?,
            other => return other,
        }
    }
}
