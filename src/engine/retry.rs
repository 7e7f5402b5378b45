//! Step-level retries. The SDK already retries throttling on idempotent calls; what it must
//! not do is repeat a create whose response was lost. So a step that fails with a retryable
//! kind starts over from `read`: the resource it may have created is found by its tags and
//! adopted instead of being created twice.

use std::future::Future;
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};

use crate::context::Ctx;
use crate::error::Error;
use crate::logical::Logical;

#[derive(Clone, Copy, Debug)]
pub(super) struct RetryPolicy {
    /// Give up once this much time has passed since the first attempt.
    pub deadline: Duration,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

impl RetryPolicy {
    /// Creates and updates: transient faults clear within minutes or not at all.
    pub(super) const CONVERGE: Self = Self {
        deadline: Duration::from_secs(5 * 60),
        first_backoff: Duration::from_secs(1),
        max_backoff: Duration::from_secs(30),
    };

    /// Deletes: network interfaces of deleted RDS/ElastiCache resources can hold subnets and
    /// security groups for many minutes after their owner is gone.
    /// The backoff is capped at 15 s like a poll: a delete blocked by lingering network
    /// interfaces is a wait, and it sits on destroy's critical path.
    pub(super) const DESTROY: Self = Self {
        deadline: Duration::from_secs(30 * 60),
        first_backoff: Duration::from_secs(2),
        max_backoff: Duration::from_secs(15),
    };

    /// The pauses between attempts: doubling from `first_backoff` up to `max_backoff`
    /// (backon's schedule), each up to a tenth shorter. Parallel steps that failed together do
    /// not retry together; none waits past `max_backoff`, so a blocked delete (a wait) notices
    /// its release within it, and none much less, so that wait polls about once per
    /// `max_backoff`, like every other wait. (backon's own jitter adds up to the whole delay:
    /// halved to stay within the cap, it polled a blocked delete every 8 to 15 s.)
    fn pauses(&self) -> impl Iterator<Item = Duration> {
        ExponentialBuilder::new()
            .with_min_delay(self.first_backoff)
            .with_max_delay(self.max_backoff)
            .without_max_times()
            .build()
            .map(|nominal| nominal.mul_f64(1.0 - shortening()))
    }
}

/// A random fraction of at most a tenth; none when the system has no randomness to give.
fn shortening() -> f64 {
    getrandom::u32().map_or(0.0, |r| f64::from(r) / f64::from(u32::MAX) / 10.0)
}

/// Runs `attempt` until it succeeds, fails with a non-retryable error, or the deadline passes.
pub(super) async fn with_retries<T, F, Fut>(
    ctx: &Ctx,
    resource: Logical,
    policy: RetryPolicy,
    mut attempt: F,
) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let started = Instant::now();
    let mut pauses = policy.pauses();
    let mut tries = 0u32;
    loop {
        tries += 1;
        match attempt().await {
            Err(err) if is_retryable(&err) && started.elapsed() < ctx.scaled(policy.deadline) => {
                // The schedule has no end of its own: the deadline above is the limit.
                let pause = pauses.next().unwrap_or(policy.max_backoff);
                tracing::info!(resource = resource.as_str(), attempt = tries, error = %err, "retrying in {pause:?}");
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
    fn pauses_double_up_to_their_cap_and_never_past_it() {
        for policy in [RetryPolicy::CONVERGE, RetryPolicy::DESTROY] {
            let mut nominal = policy.first_backoff;
            for (attempt, pause) in policy.pauses().take(40).enumerate() {
                assert!(
                    pause <= nominal,
                    "attempt {attempt}: {pause:?} > {nominal:?}"
                );
                assert!(
                    pause >= nominal.mul_f64(0.9),
                    "attempt {attempt}: {pause:?} < 90 % of {nominal:?}"
                );
                nominal = (nominal * 2).min(policy.max_backoff);
            }
        }
    }

    /// Steps that failed together (a throttled burst) must not come back together.
    #[test]
    fn two_steps_do_not_pause_alike() {
        let policy = RetryPolicy::CONVERGE;
        let first: Vec<Duration> = policy.pauses().take(4).collect();
        let second: Vec<Duration> = policy.pauses().take(4).collect();
        assert_ne!(first, second);
    }
}
