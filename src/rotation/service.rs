//! The side of a rotation that the service holds: sending it the new credential, and
//! waiting until it describes the change as carried out. RDS takes a new master password in
//! one step; ElastiCache first accepts the new AUTH token beside the old one (`ROTATE`) and
//! later only the new one (`SET`).

use std::sync::atomic::{AtomicBool, Ordering};

use aws_sdk_elasticache::types::AuthTokenUpdateStrategyType;
use chrono::{DateTime, Utc};

use crate::aws::AwsResultExt;
use crate::context::Ctx;
use crate::error::Error;
use crate::logical::{Holds, Logical};
use crate::resources::common::settling::Settling;
use crate::resources::elasticache::replication_group::ReplicationGroup;
use crate::resources::rds::instance::RdsInstance;
use crate::resources::wait::{self, Pace, Poll};
use crate::secret_value::{self, SecretString};

/// The key of the secret's JSON that holds the credential.
pub(crate) fn field(secret: Holds) -> &'static str {
    match secret {
        Holds::RdsCredentials => "password",
        Holds::RedisAuthToken => "auth_token",
    }
}

/// A new credential from the OS's CSPRNG, under the rules the secret was created with.
pub(crate) fn generate(secret: Holds) -> Result<SecretString, Error> {
    match secret {
        Holds::RdsCredentials => secret_value::rds_password(),
        Holds::RedisAuthToken => secret_value::redis_auth_token(),
    }
    .map_err(|e| {
        Error::resource(
            Logical::Secret(secret),
            format!("no randomness from the OS: {e}"),
        )
    })
}

/// How the service takes the new credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// RDS: the new master password replaces the old one at once.
    Replace,
    /// Redis: the new token is accepted beside the old one.
    Rotate,
    /// Redis: only this token is accepted from now on.
    Set,
}

/// Sends `value` once the service is at rest: a change a killed run sent may still be under
/// way, and RDS and ElastiCache refuse a modification meanwhile.
pub(crate) async fn send(
    ctx: &Ctx,
    secret: Holds,
    how: Change,
    value: &SecretString,
) -> Result<(), Error> {
    match secret {
        Holds::RdsCredentials => {
            RdsInstance.wait_available(ctx, Pace::Adaptive).await?;
            ctx.clients
                .rds
                .modify_db_instance()
                .db_instance_identifier(ctx.names().rds_instance())
                .master_user_password(value.expose())
                .apply_immediately(true)
                .send()
                .await
                .op("rds:ModifyDBInstance")?;
        }
        Holds::RedisAuthToken => {
            ReplicationGroup.wait_available(ctx, Pace::Adaptive).await?;
            let strategy = match how {
                Change::Set => AuthTokenUpdateStrategyType::Set,
                Change::Rotate | Change::Replace => AuthTokenUpdateStrategyType::Rotate,
            };
            ctx.clients
                .elasticache
                .modify_replication_group()
                .replication_group_id(ctx.names().redis_replication_group())
                .auth_token(value.expose())
                .auth_token_update_strategy(strategy)
                .apply_immediately(true)
                .send()
                .await
                .op("elasticache:ModifyReplicationGroup")?;
        }
    }
    Ok(())
}

/// Waits until the service describes the change sent at `sent_at` as carried out.
pub(crate) async fn wait_applied(
    ctx: &Ctx,
    secret: Holds,
    sent_at: DateTime<Utc>,
) -> Result<(), Error> {
    match secret {
        Holds::RdsCredentials => {
            applied(ctx, &RdsInstance, sent_at, |db| {
                let pending = db
                    .pending_modified_values()
                    .and_then(|p| p.master_user_password())
                    .is_some();
                (pending, false)
            })
            .await
        }
        Holds::RedisAuthToken => {
            applied(ctx, &ReplicationGroup, sent_at, |group| {
                let pending = group
                    .pending_modified_values()
                    .and_then(|p| p.auth_token_status())
                    .is_some();
                let described = group
                    .auth_token_last_modified_date()
                    .and_then(|d| DateTime::from_timestamp(d.secs(), d.subsec_nanos()))
                    .is_some_and(|d| d >= sent_at - chrono::TimeDelta::seconds(1));
                (pending, described)
            })
            .await
        }
    }
}

/// `look` says whether the change is still pending, and whether the item shows it done.
/// `available` alone proves nothing for a while after the call (RDS may describe the old
/// state for half a minute): the change is done once it was seen under way and is over, or
/// is described, or `wait::MODIFY_LAG` after it was sent (counted across runs).
async fn applied<S: Settling>(
    ctx: &Ctx,
    resource: &S,
    sent_at: DateTime<Utc>,
    look: impl Fn(&S::Item) -> (bool, bool),
) -> Result<(), Error> {
    let seen_under_way = AtomicBool::new(false);
    let lag = ctx.scaled(wait::MODIFY_LAG);
    wait::paced(
        ctx,
        resource.name(),
        "changed",
        S::timeout(ctx),
        Pace::Adaptive,
        || async {
            let item = resource.describe(ctx).await?.ok_or_else(|| {
                Error::resource(resource.name(), "disappeared while its credential changed")
            })?;
            let status = resource.settling_status(&item)?;
            let (pending, described) = look(&item);
            if status != "available" || pending {
                seen_under_way.store(true, Ordering::Relaxed);
                return Ok(Poll::Pending(if status == "available" {
                    "available, credential change pending".into()
                } else {
                    status.to_owned()
                }));
            }
            let since = (Utc::now() - sent_at).to_std().unwrap_or_default();
            if seen_under_way.load(Ordering::Relaxed) || described || since >= lag {
                Ok(Poll::Ready(()))
            } else {
                Ok(Poll::Pending("available, change not described yet".into()))
            }
        },
    )
    .await
}
