//! Waiting for AWS to finish something: poll with backoff (quick at first, then steady),
//! report the status AWS gives while waiting, and stop at a per-resource timeout that matches
//! how long real AWS takes.

use std::time::{Duration, Instant};

use crate::context::Ctx;
use crate::error::Error;

/// One look at the resource: done, or still in the named AWS state.
pub enum Poll<T> {
    Ready(T),
    Pending(String),
}

const FIRST_INTERVAL: Duration = Duration::from_secs(1);
const MAX_INTERVAL: Duration = Duration::from_secs(15);

/// Polls `check` until it reports `Ready`, an error, or `timeout` passes.
pub async fn until<T, F, Fut>(
    ctx: &Ctx,
    resource: &str,
    goal: &str,
    timeout: Duration,
    mut check: F,
) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, Error>>,
{
    let started = Instant::now();
    let mut interval = FIRST_INTERVAL;
    loop {
        match crate::aws::polling(check()).await? {
            Poll::Ready(value) => return Ok(value),
            Poll::Pending(status) => {
                let waited = started.elapsed();
                if waited >= timeout {
                    return Err(Error::resource(
                        resource,
                        format!(
                            "still {status} after {}s waiting to be {goal}; AWS may yet finish: run the command again to resume waiting",
                            waited.as_secs()
                        ),
                    ));
                }
                ctx.status(resource, &format!("{status} ({}s)", waited.as_secs()));
                ctx.pause(interval).await?;
                interval = (interval * 3 / 2).min(MAX_INTERVAL);
            }
        }
    }
}
