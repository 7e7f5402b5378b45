//! `medtech state bootstrap`: makes a bucket fit for team state, or brings an existing one up
//! to it. Each setting is read first and changed only when it falls short, so a second run
//! changes nothing and a bucket made by hand is adopted. Two things are never replaced: a
//! bucket of another account (refused), and a default encryption already on another KMS key
//! (kept: objects written under it stay readable only through it).
//!
//! `bucket` makes or adopts the bucket, `settings` settles the settings that take one read
//! and one write each (their documents in `documents`), `encryption` the default encryption
//! with the bucket's own key (`key`). Every call is named by its IAM action:
//! docs/iam-policy-bootstrap.json lists them all.

mod bucket;
mod documents;
mod encryption;
mod key;
mod report;
mod sdk;
mod settings;

use self::bucket::Bucket;
use self::report::Report;
pub(crate) use self::report::Setting;
use self::settings::{
    Lifecycle, Ownership, PublicAccessBlock, Tags, TlsOnlyPolicy, Versioning, settle,
};
use crate::aws::{AwsError, Clients};
use crate::config::ConfigError;
use crate::config::location::S3Location;
use crate::state::StateError;

/// Why a bootstrap stopped: a bucket it may not use (bad input), or a call that failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BootstrapError {
    #[error(transparent)]
    Refused(#[from] ConfigError),
    #[error(transparent)]
    Failed(#[from] StateError),
}

/// Makes `location`'s bucket fit for state: each setting goes to `each` as soon as it is
/// settled, so that a run stopped half-way has said what it did.
pub(crate) async fn run(
    clients: &Clients,
    location: &S3Location,
    noncurrent_days: i32,
    each: &mut dyn FnMut(&Setting),
) -> Result<Vec<Setting>, BootstrapError> {
    let bucket = Bucket::new(clients, location);
    let mut report = Report::new(each);
    bucket.make_or_adopt(&mut report).await?;
    converge(&bucket, &mut report, noncurrent_days)
        .await
        .map_err(|e| bucket.aws(e))?;
    Ok(report.into_settings())
}

async fn converge(
    bucket: &Bucket<'_>,
    report: &mut Report<'_>,
    noncurrent_days: i32,
) -> Result<(), AwsError> {
    // Nothing public, ever, before anything else is set.
    settle(bucket, report, PublicAccessBlock).await?;
    settle(bucket, report, Ownership).await?;
    settle(bucket, report, TlsOnlyPolicy::of(bucket)).await?;
    settle(bucket, report, Versioning).await?;
    encryption::settle(bucket, report).await?;
    let lifecycle = Lifecycle {
        prefix: bucket.prefix(),
        noncurrent_days,
    };
    settle(bucket, report, lifecycle).await?;
    settle(bucket, report, Tags).await
}
