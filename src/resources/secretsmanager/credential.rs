//! The credential the RDS instance and the Redis replication group take from their secret
//! (the master password, the AUTH token): the key of the secret's JSON it is under, which
//! the rotation writes too, and the value the service is created with.

use super::secret;
use crate::context::Ctx;
use crate::error::Error;
use crate::logical::{Holds, Logical};
use crate::secret_value::SecretString;

/// The key of the secret's JSON that holds the credential.
pub(crate) fn field(secret: Holds) -> &'static str {
    match secret {
        Holds::RdsCredentials => "password",
        Holds::RedisAuthToken => "auth_token",
    }
}

/// The credential `holder` keeps now, read straight from Secrets Manager (never from the
/// run's batched read: the service is created with it).
pub(crate) async fn current(ctx: &Ctx, holder: Holds) -> Result<SecretString, Error> {
    let secret = Logical::Secret(holder);
    let value = secret::read_value(ctx, false, &ctx.arn_of(secret)?).await?;
    secret::field(secret, &value, field(holder))
}
