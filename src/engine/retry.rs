//! Step-level retries. The SDK already retries throttling on idempotent calls; what it must
//! not do is repeat a create whose response was lost. So a step that fails with a retryable
//! kind starts over from `read`: the resource it may have created is found by its tags and
//! adopted instead of being created twice.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::context::Ctx;
use crate::error::Error;

#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Give up once this much time has passed since the first attempt.
    pub deadline: Duration,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

impl RetryPolicy {
    /// Creates and updates: transient faults clear within minutes or not at all.
    pub const CONVERGE: Self = Self {
        deadline: Duration::from_secs(5 * 60),
        first_backoff: Duration::from_secs(1),
        max_backoff: Duration::from_secs(30),
    };

    /// Deletes: network interfaces of deleted RDS/ElastiCache resources can hold subnets and
    /// security groups for many minutes after their owner is gone.
    /// The backoff is capped at 15 s like a poll: a delete blocked by lingering network
    /// interfaces is a wait, and it sits on destroy's critical path.
    pub const DESTROY: Self = Self {
        deadline: Duration::from_secs(30 * 60),
        first_backoff: Duration::from_secs(2),
        max_backoff: Duration::from_secs(15),
    };

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .first_backoff
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        let capped = exp.min(self.max_backoff);
        // Up to a tenth less, so parallel steps that failed together do not retry together; never
        // more, so a blocked delete (a wait) still notices its release within `max_backoff`.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let jitter = capped / 10 * (nanos % 1000) / 1000;
        capped - jitter
    }
}

/// Runs `attempt` until it succeeds, fails with a non-retryable error, or the deadline passes.
pub async fn with_retries<T, F, Fut>(
    ctx: &Ctx,
    resource: &str,
    policy: RetryPolicy,
    mut attempt: F,
) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let started = Instant::now();
    let mut tries = 0u32;
    loop {
        tries += 1;
        match attempt().await {
            Err(err) if is_retryable(&err) && started.elapsed() < ctx.scaled(policy.deadline) => {
                let pause = policy.backoff(tries);
                tracing::info!(resource, attempt = tries, error = %err, "retrying in {pause:?}");
                ctx.status(
                    resource,
                    &format!("retrying in {}s: {err}", pause.as_secs()),
                );
                ctx.pause(pause).await?;
            }
            other => return other,
        }
    }
}

fn is_retryable(err: &Error) -> bool {
    err.aws_kind().is_some_and(|k| k.is_retryable())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_and_never_past_it() {
        let policy = RetryPolicy::DESTROY;
        for attempt in 1..=12 {
            let pause = policy.backoff(attempt);
            let nominal = (policy.first_backoff * 2u32.pow(attempt - 1)).min(policy.max_backoff);
            assert!(
                pause <= nominal,
                "attempt {attempt}: {pause:?} > {nominal:?}"
            );
            assert!(
                pause >= nominal.mul_f64(0.9),
                "attempt {attempt}: {pause:?}"
            );
        }
        assert!(policy.backoff(12) <= Duration::from_secs(15));
    }
}
