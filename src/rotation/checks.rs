//! What `verify` checks of the credentials' rotation, read from Secrets Manager's versions and
//! from the rotations state records: how old the current value is, that no rotation was left
//! half done, and that a Redis rotation retired its old token within its grace.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use serde_json::json;

use super::versions::{PENDING, Versions};
use crate::context::Ctx;
use crate::control::{Control, PASSWORD_MGMT, Severity, control};
use crate::error::Error;
use crate::logical::{Holds, Logical};
use crate::state::rotation::Rotation;
use crate::verify::Check;

const AGE: Control = control(
    "Secret's current value is younger than secrets.rotation_days (default 90)",
    Severity::High,
    PASSWORD_MGMT,
    "run `medtech rotate`",
    Some("secretsmanager_secret_rotated_periodically"),
    Some("SECRETSMANAGER_SECRET_PERIODIC_ROTATION"),
);
const UNFINISHED: Control = control(
    "No rotation left half done: no AWSPENDING version",
    Severity::Medium,
    PASSWORD_MGMT,
    "run `medtech rotate` to finish it",
    None,
    None,
);
const OLD_TOKEN_RETIRED: Control = control(
    "Redis no longer accepts the token a rotation replaced once secrets.redis_grace_hours have passed (SET)",
    Severity::Medium,
    PASSWORD_MGMT,
    "run `medtech rotate --secret redis`",
    None,
    None,
);

/// Every rotation check, by secret, for `medtech controls`.
pub(crate) fn declared() -> Vec<(Logical, &'static str, Control)> {
    let mut all = Vec::new();
    for secret in Holds::ALL {
        let name = Logical::Secret(secret);
        all.push((name, "rotation_age", AGE));
        all.push((name, "rotation_unfinished", UNFINISHED));
    }
    all.push((
        Logical::Secret(Holds::RedisAuthToken),
        "old_token_retired",
        OLD_TOKEN_RETIRED,
    ));
    all
}

/// The rotation checks of the secrets recorded in `ctx`; `rotations` is the state's.
pub(crate) async fn checks(
    ctx: &Ctx,
    rotations: &BTreeMap<String, Rotation>,
) -> Result<Vec<Check>, Error> {
    let secrets = &ctx.settings.services.secrets;
    let limit = Duration::from_secs(86_400 * secrets.rotation_days.unsigned_abs());
    let grace = chrono::TimeDelta::hours(secrets.redis_grace_hours);
    let mut checks = Vec::new();
    for secret in Holds::ALL {
        let name = Logical::Secret(secret);
        let Ok(arn) = ctx.arn_of(name) else {
            // Not there: its `exists` check fails already.
            continue;
        };
        let versions = Versions::list(ctx, &arn).await?;
        let age = super::age_of_current(&versions, secret)?;
        checks.push(Check::new(
            name,
            ("rotation_age", AGE),
            json!(format!("under {} days", secrets.rotation_days)),
            json!(super::days(age)),
            age < limit,
        ));
        let pending = versions.holding(PENDING);
        checks.push(Check::new(
            name,
            ("rotation_unfinished", UNFINISHED),
            json!("no AWSPENDING version"),
            json!(pending.map_or_else(
                || "no AWSPENDING version".to_owned(),
                |v| format!("version {} is AWSPENDING", v.id)
            )),
            pending.is_none(),
        ));
        if secret == Holds::RedisAuthToken {
            let since = rotations
                .get(name.as_str())
                .and_then(|r| r.set_pending_since);
            let waited = since.map(|s| Utc::now() - s);
            checks.push(Check::new(
                name,
                ("old_token_retired", OLD_TOKEN_RETIRED),
                json!(format!(
                    "no SET pending for more than {} hours",
                    secrets.redis_grace_hours
                )),
                json!(waited.map_or_else(
                    || "no SET pending".to_owned(),
                    |w| format!("SET pending for {} hours", w.num_hours())
                )),
                waited.is_none_or(|w| w <= grace),
            ));
        }
    }
    Ok(checks)
}
