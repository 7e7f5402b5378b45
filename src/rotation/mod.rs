//! `medtech rotate`'s protocol, the one Secrets Manager's rotation functions follow, run by
//! medtech itself: the new value becomes the `AWSPENDING` version, the service is sent it and
//! confirms the change, then `AWSCURRENT` moves to it (the old one becoming `AWSPREVIOUS`).
//! Each step is recorded in state before the next begins and is safe to repeat, so a run
//! killed anywhere is finished by the next one, never started over.
//!
//! For Redis the service accepts both tokens from `ROTATE` until `SET`, so `AWSCURRENT` never
//! holds a token Redis refuses; the `SET` waits for `--grace` or the next run. For RDS the
//! master password changes at once: between the change and the move of `AWSCURRENT` (the
//! seconds of the confirmation), clients that read the secret anew get the old password.

pub(crate) mod checks;
mod service;
pub(crate) mod versions;

use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use serde::Serialize;
use serde_json::{Value, json};
use tracing::Instrument;

use crate::context::Ctx;
use crate::error::Error;
use crate::logical::{Holds, Logical};
use crate::resources::secretsmanager::{credential, secret};
use crate::secret_value::{self, SecretString};
use crate::state::rotation::{Rotation, Step};
use service::Change;
use versions::{CURRENT, PENDING, Versions};

/// Where each step is recorded before the next one starts.
#[async_trait]
pub(crate) trait Journal: Sync {
    /// Records `rotation` as the one under way for `secret` (`None`: none is).
    async fn write(&self, secret: Holds, rotation: Option<&Rotation>) -> Result<(), Error>;
}

/// What the user asked of this run.
pub(crate) struct Request {
    /// Leave a secret whose current value is younger than this.
    pub older_than: Option<Duration>,
    /// Retire the old Redis token this long after the new one became current, in this run.
    pub grace: Option<Duration>,
}

/// What one run did with one secret.
#[derive(Debug, Serialize)]
pub(crate) struct Outcome {
    pub secret: String,
    /// `rotated`, `fresh`, `set-pending`, or `finished` (a pending Redis `SET` done).
    pub action: &'static str,
    /// The version `AWSCURRENT` holds afterwards.
    pub version_id: Option<String>,
    pub detail: String,
}

/// Rotates `secret`, or finishes the rotation `recorded` says is under way.
pub(crate) async fn run(
    ctx: &Ctx,
    journal: &dyn Journal,
    secret: Holds,
    recorded: Option<Rotation>,
    request: &Request,
) -> Result<Outcome, Error> {
    let span = tracing::info_span!("rotate", secret = %Logical::Secret(secret));
    Rotator {
        ctx,
        journal,
        secret,
        arn: ctx.arn_of(Logical::Secret(secret))?,
    }
    .run(recorded, request)
    .instrument(span)
    .await
}

/// A secret younger than `--if-older-than`, left as it is: the version `AWSCURRENT` holds, and
/// its age.
struct Fresh {
    version_id: Option<String>,
    age: Duration,
}

struct Rotator<'a> {
    ctx: &'a Ctx,
    journal: &'a dyn Journal,
    secret: Holds,
    arn: String,
}

impl Rotator<'_> {
    async fn run(&self, recorded: Option<Rotation>, request: &Request) -> Result<Outcome, Error> {
        let mut finished_set = None;
        let recorded = match recorded {
            // The rotation of an earlier run is over but for its SET: that is what this
            // run is for, whatever the age of the secret.
            Some(r) if r.step == Step::Promoted => {
                self.retire_old_token(&r).await?;
                finished_set = Some(r.version_id);
                None
            }
            other => other,
        };
        let resumed = recorded.is_some();
        let rotation = match recorded {
            Some(r) => r,
            None => match self.begin(request.older_than).await? {
                Ok(r) => r,
                Err(fresh) => {
                    return Ok(match finished_set {
                        Some(version_id) => self.outcome(
                            "finished",
                            Some(version_id),
                            "the old Redis AUTH token is retired (SET); only the current one is accepted".into(),
                        ),
                        None => self.outcome(
                            "fresh",
                            fresh.version_id,
                            format!(
                                "nothing to rotate: the current value is {} old",
                                days(fresh.age)
                            ),
                        ),
                    });
                }
            },
        };
        self.carry_on(rotation, request.grace, resumed).await
    }

    /// A new rotation, or `Err` for a secret younger than `older_than`. An
    /// `AWSPENDING` version nothing in state accounts for (a rotation whose state was lost)
    /// is taken up and finished rather than left, or joined by a second one.
    async fn begin(&self, older_than: Option<Duration>) -> Result<Result<Rotation, Fresh>, Error> {
        let versions = Versions::list(self.ctx, &self.arn).await?;
        if let Some(pending) = versions.holding(PENDING) {
            tracing::info!(version_id = %pending.id, "finishing an unrecorded AWSPENDING version");
            let rotation = Rotation {
                step: Step::Staged,
                ..Rotation::begin(pending.id.clone())
            };
            self.journal.write(self.secret, Some(&rotation)).await?;
            return Ok(Ok(rotation));
        }
        if let Some(limit) = older_than {
            let age = age_of_current(&versions, self.secret)?;
            if age < limit {
                let version_id = versions.holding(CURRENT).map(|v| v.id.clone());
                return Ok(Err(Fresh { version_id, age }));
            }
        }
        let id = secret_value::random_uuid().map_err(|e| {
            Error::resource(self.logical(), format!("no randomness from the OS: {e}"))
        })?;
        let rotation = Rotation::begin(id);
        self.journal.write(self.secret, Some(&rotation)).await?;
        Ok(Ok(rotation))
    }

    /// Runs the steps after the one `rotation` records.
    async fn carry_on(
        &self,
        mut rotation: Rotation,
        grace: Option<Duration>,
        resumed: bool,
    ) -> Result<Outcome, Error> {
        loop {
            let span = tracing::info_span!("step", from = ?rotation.step);
            match rotation.step {
                Step::Begun => self.stage(&rotation).instrument(span).await?,
                Step::Staged => {
                    self.send(&rotation).instrument(span).await?;
                    rotation.sent_at = Some(Utc::now());
                }
                Step::Sent => self.promote(&rotation).instrument(span).await?,
                Step::Promoted => break,
            }
            rotation.step = match rotation.step {
                Step::Begun => Step::Staged,
                Step::Staged => Step::Sent,
                _ => Step::Promoted,
            };
            if rotation.step == Step::Promoted {
                match self.secret {
                    Holds::RdsCredentials => {
                        self.journal.write(self.secret, None).await?;
                        return Ok(self.rotated(&rotation, resumed));
                    }
                    Holds::RedisAuthToken => rotation.set_pending_since = Some(Utc::now()),
                }
            }
            self.journal.write(self.secret, Some(&rotation)).await?;
        }
        let Some(grace) = grace else {
            let mut outcome = self.rotated(&rotation, resumed);
            outcome.action = "set-pending";
            outcome.detail.push_str(
                "; Redis accepts the old token too until `medtech rotate` runs again (or pass --grace)",
            );
            return Ok(outcome);
        };
        self.ctx.status(
            self.logical(),
            &format!(
                "both tokens accepted; retiring the old one in {}",
                humantime::format_duration(grace)
            ),
        );
        self.ctx.pause(grace).await?;
        self.retire_old_token(&rotation).await?;
        let mut outcome = self.rotated(&rotation, resumed);
        outcome.detail.push_str("; the old token is retired (SET)");
        Ok(outcome)
    }

    /// The new value as the `AWSPENDING` version: the current JSON with the credential
    /// replaced, and for RDS the host and port as the instance reports them.
    async fn stage(&self, rotation: &Rotation) -> Result<(), Error> {
        let current = Versions::list(self.ctx, &self.arn).await?;
        let current = current.holding(CURRENT).ok_or_else(|| {
            Error::resource(self.logical(), "has no AWSCURRENT version to rotate from")
        })?;
        let mut value = versions::value_of(self.ctx, &self.arn, &current.id).await?;
        let fresh = service::generate(self.secret)?;
        value.insert(credential::field(self.secret).into(), json!(fresh.expose()));
        drop(fresh);
        if self.secret == Holds::RdsCredentials
            && let Some(db) = self.ctx.record(Logical::RdsInstance)
        {
            if let Some(host) = db.attr("endpoint") {
                value.insert("host".into(), json!(host));
            }
            if let Some(port) = db.attr("port").and_then(|p| p.parse::<u16>().ok()) {
                value.insert("port".into(), json!(port));
            }
        }
        let text = SecretString::new(Value::Object(value).to_string());
        self.ctx
            .status(self.logical(), "new value staged as AWSPENDING");
        versions::stage(self.ctx, &self.arn, &rotation.version_id, &text).await
    }

    /// Sends the pending value to the service (RDS: the new password; Redis: `ROTATE`).
    async fn send(&self, rotation: &Rotation) -> Result<(), Error> {
        let value = self.credential(&rotation.version_id).await?;
        let how = match self.secret {
            Holds::RdsCredentials => Change::Replace,
            Holds::RedisAuthToken => Change::Rotate,
        };
        self.ctx
            .status(self.logical(), "sending the new value to the service");
        service::send(self.ctx, self.secret, how, &value).await
    }

    /// Once the service has carried the change out, `AWSCURRENT` moves to the new version
    /// and `AWSPENDING` comes off it. Each move is skipped when a killed run made it.
    async fn promote(&self, rotation: &Rotation) -> Result<(), Error> {
        let sent_at = rotation.sent_at.unwrap_or(rotation.started_at);
        service::wait_applied(self.ctx, self.secret, sent_at).await?;
        let versions = Versions::list(self.ctx, &self.arn).await?;
        let id = rotation.version_id.as_str();
        let current = versions.holding(CURRENT).map(|v| v.id.as_str());
        if current != Some(id) {
            versions::move_stage(self.ctx, &self.arn, CURRENT, Some(id), current).await?;
        }
        if let Some(pending) = versions.holding(PENDING) {
            versions::move_stage(self.ctx, &self.arn, PENDING, None, Some(&pending.id)).await?;
        }
        Ok(())
    }

    /// Redis `SET` with the token `AWSCURRENT` holds, which must be the rotation's: after it,
    /// the old token is refused.
    async fn retire_old_token(&self, rotation: &Rotation) -> Result<(), Error> {
        let versions = Versions::list(self.ctx, &self.arn).await?;
        let current = versions.holding(CURRENT).map(|v| v.id.as_str());
        if current != Some(rotation.version_id.as_str()) {
            return Err(Error::resource(
                self.logical(),
                format!(
                    "AWSCURRENT is no longer version {} that the pending SET was for; the old token stays accepted: check who changed the secret, then remove the rotation from state with `medtech state refresh`",
                    rotation.version_id
                ),
            ));
        }
        let value = self.credential(&rotation.version_id).await?;
        self.ctx
            .status(self.logical(), "retiring the old token (SET)");
        let sent_at = Utc::now();
        service::send(self.ctx, self.secret, Change::Set, &value).await?;
        service::wait_applied(self.ctx, self.secret, sent_at).await?;
        self.journal.write(self.secret, None).await
    }

    /// The credential in version `version_id`.
    async fn credential(&self, version_id: &str) -> Result<SecretString, Error> {
        let value = versions::value_of(self.ctx, &self.arn, version_id).await?;
        secret::field(self.logical(), &value, credential::field(self.secret))
    }

    fn rotated(&self, rotation: &Rotation, resumed: bool) -> Outcome {
        let how = if resumed {
            "rotated, finishing the rotation an earlier run began"
        } else {
            "rotated"
        };
        self.outcome("rotated", Some(rotation.version_id.clone()), how.into())
    }

    fn outcome(&self, action: &'static str, version_id: Option<String>, detail: String) -> Outcome {
        Outcome {
            secret: self.logical().to_string(),
            action,
            version_id,
            detail,
        }
    }

    fn logical(&self) -> Logical {
        Logical::Secret(self.secret)
    }
}

/// How long ago the version that holds `AWSCURRENT` was written.
pub(crate) fn age_of_current(versions: &Versions, secret: Holds) -> Result<Duration, Error> {
    let created = versions
        .holding(CURRENT)
        .and_then(|v| v.created)
        .ok_or_else(|| {
            Error::resource(
                Logical::Secret(secret),
                "Secrets Manager lists no creation date for its AWSCURRENT version",
            )
        })?;
    Ok((Utc::now() - created).to_std().unwrap_or_default())
}

/// `3 days`, `5 hours`: an age as people say it.
pub(crate) fn days(age: Duration) -> String {
    let hours = age.as_secs() / 3600;
    match hours {
        0..48 => format!("{hours} hours"),
        _ => format!("{} days", hours / 24),
    }
}
