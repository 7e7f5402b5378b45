//! The side of a rotation that the service holds: sending it the new credential, and
//! waiting until it describes the change as carried out. RDS takes a new master password in
//! one step; ElastiCache first accepts the new AUTH token beside the old one (`ROTATE`) and
//! later only the new one (`SET`).

use async_trait::async_trait;
use aws_sdk_elasticache::types::AuthTokenUpdateStrategyType;
use aws_sdk_elasticache::types::ReplicationGroup as SdkGroup;
use aws_sdk_rds::types::DbInstance;
use chrono::{DateTime, Utc};
use std::future::ready;

use crate::aws::{AwsError, AwsResultExt};
use crate::context::Ctx;
use crate::error::Error;
use crate::logical::{Holds, Logical};
use crate::resources::common::settling::{Says, Settling};
use crate::resources::elasticache::replication_group::ReplicationGroup;
use crate::resources::rds::instance::RdsInstance;
use crate::resources::wait::{self, Pace};
use crate::secret_value::{self, SecretString};

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
        Holds::RdsCredentials => RdsInstance.send(ctx, how, value).await,
        Holds::RedisAuthToken => ReplicationGroup.send(ctx, how, value).await,
    }
}

/// Waits until the service describes the change sent at `sent_at` as carried out.
pub(crate) async fn wait_applied(
    ctx: &Ctx,
    secret: Holds,
    sent_at: DateTime<Utc>,
) -> Result<(), Error> {
    match secret {
        Holds::RdsCredentials => RdsInstance.wait_applied(ctx, sent_at).await,
        Holds::RedisAuthToken => ReplicationGroup.wait_applied(ctx, sent_at).await,
    }
}

/// A service that holds one of the stack's credentials: how it takes a new one, and how it
/// describes the change.
#[async_trait]
trait Holder: Settling {
    /// Sends the service `value`, as `how` says.
    async fn take(ctx: &Ctx, how: Change, value: &SecretString) -> Result<(), AwsError>;

    /// Whether the service describes a credential change as still to be carried out.
    fn credential_pending(item: &Self::Item) -> bool;

    /// Whether the service describes the change sent at `sent_at` as carried out; RDS does
    /// not say when the password changed.
    fn credential_described(_item: &Self::Item, _sent_at: DateTime<Utc>) -> bool {
        false
    }

    async fn send(&self, ctx: &Ctx, how: Change, value: &SecretString) -> Result<(), Error> {
        self.wait_available(ctx, Pace::Adaptive).await?;
        Ok(Self::take(ctx, how, value).await?)
    }

    /// `available` alone proves nothing for a while after the call (RDS may describe the old
    /// state for half a minute): a change never seen under way is over once described, or
    /// `wait::MODIFY_LAG` after it was sent (counted across runs).
    async fn wait_applied(&self, ctx: &Ctx, sent_at: DateTime<Utc>) -> Result<(), Error> {
        let lag = ctx.scaled(wait::MODIFY_LAG);
        let pending = Self::credential_pending;
        self.wait_carried_out(ctx, &CHANGED, false, pending, &|item| {
            let since = (Utc::now() - sent_at).to_std().unwrap_or_default();
            let over = Self::credential_described(&item, sent_at) || since >= lag;
            Box::pin(ready(Ok(over)))
        })
        .await
    }
}

const CHANGED: Says = Says {
    goal: "changed",
    during: "its credential changed",
    pending: "credential change pending",
};

#[async_trait]
impl Holder for RdsInstance {
    /// RDS takes a new master password in one step, whatever `how` says.
    async fn take(ctx: &Ctx, _how: Change, value: &SecretString) -> Result<(), AwsError> {
        Self::modify(ctx)
            .master_user_password(value.expose())
            .send()
            .await
            .op("rds:ModifyDBInstance")
            .map(drop)
    }

    fn credential_pending(db: &DbInstance) -> bool {
        db.pending_modified_values()
            .and_then(|p| p.master_user_password())
            .is_some()
    }
}

#[async_trait]
impl Holder for ReplicationGroup {
    async fn take(ctx: &Ctx, how: Change, value: &SecretString) -> Result<(), AwsError> {
        let strategy = match how {
            Change::Set => AuthTokenUpdateStrategyType::Set,
            Change::Rotate | Change::Replace => AuthTokenUpdateStrategyType::Rotate,
        };
        Self::modify(ctx)
            .auth_token(value.expose())
            .auth_token_update_strategy(strategy)
            .send()
            .await
            .op("elasticache:ModifyReplicationGroup")
            .map(drop)
    }

    fn credential_pending(group: &SdkGroup) -> bool {
        group
            .pending_modified_values()
            .and_then(|p| p.auth_token_status())
            .is_some()
    }

    /// ElastiCache dates the token's last change (to the second).
    fn credential_described(group: &SdkGroup, sent_at: DateTime<Utc>) -> bool {
        group
            .auth_token_last_modified_date()
            .and_then(|d| DateTime::from_timestamp(d.secs(), d.subsec_nanos()))
            .is_some_and(|d| d >= sent_at - chrono::TimeDelta::seconds(1))
    }
}
