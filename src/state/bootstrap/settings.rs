//! The bucket settings that take one read, one judgement and at most one write each: Block
//! Public Access, object ownership, the TLS-only policy, versioning, the lifecycle rule and the
//! tags. Each names its calls by their IAM actions, which a denied call's error repeats.

use std::collections::BTreeMap;

use aws_sdk_s3::operation::get_bucket_lifecycle_configuration::GetBucketLifecycleConfigurationOutput;
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketVersioningStatus, ObjectOwnership, OwnershipControls,
    OwnershipControlsRule, PublicAccessBlockConfiguration, Tagging,
    TransitionDefaultMinimumObjectSize, VersioningConfiguration,
};
use serde_json::Value;

use super::bucket::Bucket;
use super::documents::{
    ABORT_UPLOADS_AFTER_DAYS, lifecycle_rule, tag_list, with_lifecycle_rule, with_tags,
    with_tls_statement,
};
use super::report::{Action, Report};
use super::sdk::{built, call, put, unless_absent};
use crate::aws::AwsError;

/// A setting read from the bucket and written only when it falls short, so that a second run
/// writes nothing and what others set beside it stays.
pub(super) trait BucketSetting {
    /// Its name in the report.
    const NAME: &'static str;
    /// What the bucket has.
    type Found;
    /// What to write when that falls short.
    type Change;

    async fn read(&self, bucket: &Bucket<'_>) -> Result<Self::Found, AwsError>;

    /// `None` when `found` already holds.
    fn change(&self, found: Self::Found) -> Result<Option<Self::Change>, AwsError>;

    async fn write(&self, bucket: &Bucket<'_>, change: Self::Change) -> Result<(), AwsError>;

    /// What the setting is once settled, for the report.
    fn value(&self) -> String;
}

/// Reads `setting`, writes it if it falls short, and reports which it was.
pub(super) async fn settle<S: BucketSetting>(
    bucket: &Bucket<'_>,
    report: &mut Report<'_>,
    setting: S,
) -> Result<(), AwsError> {
    let found = setting.read(bucket).await?;
    let change = setting.change(found)?;
    let holds = change.is_none();
    if let Some(change) = change {
        setting.write(bucket, change).await?;
    }
    report.add(S::NAME, Action::unless(holds), setting.value());
    Ok(())
}

/// All four Block Public Access settings on.
pub(super) struct PublicAccessBlock;

impl BucketSetting for PublicAccessBlock {
    const NAME: &'static str = "public access block";
    type Found = Option<PublicAccessBlockConfiguration>;
    type Change = PublicAccessBlockConfiguration;

    async fn read(&self, bucket: &Bucket<'_>) -> Result<Self::Found, AwsError> {
        let found = unless_absent(
            bucket,
            "s3:GetBucketPublicAccessBlock",
            "NoSuchPublicAccessBlockConfiguration",
            |s3, name| s3.get_public_access_block().bucket(name).send(),
        )
        .await?;
        Ok(found.and_then(|f| f.public_access_block_configuration))
    }

    fn change(&self, found: Self::Found) -> Result<Option<Self::Change>, AwsError> {
        let holds = found.is_some_and(|c| {
            [
                c.block_public_acls(),
                c.ignore_public_acls(),
                c.block_public_policy(),
                c.restrict_public_buckets(),
            ]
            .iter()
            .all(|on| *on == Some(true))
        });
        Ok((!holds).then(|| {
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build()
        }))
    }

    async fn write(&self, bucket: &Bucket<'_>, change: Self::Change) -> Result<(), AwsError> {
        put(bucket, "s3:PutBucketPublicAccessBlock", |s3, name| {
            s3.put_public_access_block()
                .bucket(name)
                .public_access_block_configuration(change)
                .send()
        })
        .await
    }

    fn value(&self) -> String {
        "all four settings on".to_owned()
    }
}

/// BucketOwnerEnforced: ACLs off, the bucket owns every object.
pub(super) struct Ownership;

impl BucketSetting for Ownership {
    const NAME: &'static str = "object ownership";
    type Found = Option<OwnershipControls>;
    type Change = OwnershipControls;

    async fn read(&self, bucket: &Bucket<'_>) -> Result<Self::Found, AwsError> {
        let found = unless_absent(
            bucket,
            "s3:GetBucketOwnershipControls",
            "OwnershipControlsNotFoundError",
            |s3, name| s3.get_bucket_ownership_controls().bucket(name).send(),
        )
        .await?;
        Ok(found.and_then(|f| f.ownership_controls))
    }

    fn change(&self, found: Self::Found) -> Result<Option<Self::Change>, AwsError> {
        const PUT: &str = "s3:PutBucketOwnershipControls";
        let holds = found.is_some_and(|c| {
            !c.rules().is_empty()
                && c.rules()
                    .iter()
                    .all(|r| *r.object_ownership() == ObjectOwnership::BucketOwnerEnforced)
        });
        if holds {
            return Ok(None);
        }
        let rule = built(
            PUT,
            OwnershipControlsRule::builder()
                .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                .build(),
        )?;
        built(PUT, OwnershipControls::builder().rules(rule).build()).map(Some)
    }

    async fn write(&self, bucket: &Bucket<'_>, change: Self::Change) -> Result<(), AwsError> {
        put(bucket, "s3:PutBucketOwnershipControls", |s3, name| {
            s3.put_bucket_ownership_controls()
                .bucket(name)
                .ownership_controls(change)
                .send()
        })
        .await
    }

    fn value(&self) -> String {
        "BucketOwnerEnforced".to_owned()
    }
}

/// A bucket policy statement that denies every request made without TLS, to the bucket and
/// to its objects (`resources`).
pub(super) struct TlsOnlyPolicy {
    resources: [String; 2],
}

impl TlsOnlyPolicy {
    pub(super) fn of(bucket: &Bucket<'_>) -> Self {
        Self {
            resources: [bucket.arn(""), bucket.arn("/*")],
        }
    }
}

impl BucketSetting for TlsOnlyPolicy {
    const NAME: &'static str = "bucket policy";
    type Found = Option<Value>;
    type Change = Value;

    async fn read(&self, bucket: &Bucket<'_>) -> Result<Self::Found, AwsError> {
        const OP: &str = "s3:GetBucketPolicy";
        let found = unless_absent(bucket, OP, "NoSuchBucketPolicy", |s3, name| {
            s3.get_bucket_policy().bucket(name).send()
        })
        .await?;
        found
            .and_then(|f| f.policy)
            .map(|text| {
                serde_json::from_str(&text).map_err(|e| {
                    AwsError::unexpected(OP, format!("the bucket policy is not JSON: {e}"))
                })
            })
            .transpose()
    }

    fn change(&self, found: Self::Found) -> Result<Option<Self::Change>, AwsError> {
        Ok(with_tls_statement(found.as_ref(), &self.resources))
    }

    async fn write(&self, bucket: &Bucket<'_>, change: Self::Change) -> Result<(), AwsError> {
        put(bucket, "s3:PutBucketPolicy", |s3, name| {
            s3.put_bucket_policy()
                .bucket(name)
                .policy(change.to_string())
                .send()
        })
        .await
    }

    fn value(&self) -> String {
        "denies every request without TLS".to_owned()
    }
}

/// Versioning on: every state write keeps the version before it.
pub(super) struct Versioning;

impl BucketSetting for Versioning {
    const NAME: &'static str = "versioning";
    type Found = Option<BucketVersioningStatus>;
    type Change = VersioningConfiguration;

    async fn read(&self, bucket: &Bucket<'_>) -> Result<Self::Found, AwsError> {
        let found = call(bucket, "s3:GetBucketVersioning", |s3, name| {
            s3.get_bucket_versioning().bucket(name).send()
        })
        .await?;
        Ok(found.status)
    }

    fn change(&self, found: Self::Found) -> Result<Option<Self::Change>, AwsError> {
        let holds = found == Some(BucketVersioningStatus::Enabled);
        Ok((!holds).then(|| {
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build()
        }))
    }

    async fn write(&self, bucket: &Bucket<'_>, change: Self::Change) -> Result<(), AwsError> {
        put(bucket, "s3:PutBucketVersioning", |s3, name| {
            s3.put_bucket_versioning()
                .bucket(name)
                .versioning_configuration(change)
                .send()
        })
        .await
    }

    fn value(&self) -> String {
        "Enabled".to_owned()
    }
}

/// The rule that expires old state versions under the prefix after `noncurrent_days`.
pub(super) struct Lifecycle<'a> {
    pub(super) prefix: &'a str,
    pub(super) noncurrent_days: i32,
}

impl BucketSetting for Lifecycle<'_> {
    const NAME: &'static str = "lifecycle";
    type Found = Option<GetBucketLifecycleConfigurationOutput>;
    type Change = (
        BucketLifecycleConfiguration,
        Option<TransitionDefaultMinimumObjectSize>,
    );

    async fn read(&self, bucket: &Bucket<'_>) -> Result<Self::Found, AwsError> {
        unless_absent(
            bucket,
            "s3:GetLifecycleConfiguration",
            "NoSuchLifecycleConfiguration",
            |s3, name| s3.get_bucket_lifecycle_configuration().bucket(name).send(),
        )
        .await
    }

    fn change(&self, found: Self::Found) -> Result<Option<Self::Change>, AwsError> {
        const PUT: &str = "s3:PutLifecycleConfiguration";
        let wanted = lifecycle_rule(self.prefix, self.noncurrent_days)?;
        let rules = found.as_ref().map_or(&[][..], |f| f.rules());
        let Some(rules) = with_lifecycle_rule(rules, wanted) else {
            return Ok(None);
        };
        let configuration = built(
            PUT,
            BucketLifecycleConfiguration::builder()
                .set_rules(Some(rules))
                .build(),
        )?;
        // Written back as it was: the call would otherwise reset it to S3's default.
        let minimum_size = found.and_then(|f| f.transition_default_minimum_object_size);
        Ok(Some((configuration, minimum_size)))
    }

    async fn write(&self, bucket: &Bucket<'_>, change: Self::Change) -> Result<(), AwsError> {
        let (configuration, minimum_size) = change;
        put(bucket, "s3:PutLifecycleConfiguration", |s3, name| {
            s3.put_bucket_lifecycle_configuration()
                .bucket(name)
                .lifecycle_configuration(configuration)
                .set_transition_default_minimum_object_size(minimum_size)
                .send()
        })
        .await
    }

    fn value(&self) -> String {
        let scope = if self.prefix.is_empty() {
            "in the bucket".to_owned()
        } else {
            format!("under {}/", self.prefix)
        };
        format!(
            "noncurrent versions {scope} expire after {} days; incomplete uploads aborted after {ABORT_UPLOADS_AFTER_DAYS} days",
            self.noncurrent_days
        )
    }
}

/// The state tags, beside whatever tags others gave the bucket.
pub(super) struct Tags;

impl BucketSetting for Tags {
    const NAME: &'static str = "tags";
    type Found = BTreeMap<String, String>;
    type Change = Tagging;

    async fn read(&self, bucket: &Bucket<'_>) -> Result<Self::Found, AwsError> {
        let found = unless_absent(bucket, "s3:GetBucketTagging", "NoSuchTagSet", |s3, name| {
            s3.get_bucket_tagging().bucket(name).send()
        })
        .await?;
        Ok(found
            .map(|f| f.tag_set.into_iter().map(|t| (t.key, t.value)).collect())
            .unwrap_or_default())
    }

    fn change(&self, found: Self::Found) -> Result<Option<Self::Change>, AwsError> {
        const PUT: &str = "s3:PutBucketTagging";
        let Some(tags) = with_tags(found) else {
            return Ok(None);
        };
        let set = tags
            .iter()
            .map(|(k, v)| {
                built(
                    PUT,
                    aws_sdk_s3::types::Tag::builder().key(k).value(v).build(),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        built(PUT, Tagging::builder().set_tag_set(Some(set)).build()).map(Some)
    }

    async fn write(&self, bucket: &Bucket<'_>, change: Self::Change) -> Result<(), AwsError> {
        put(bucket, "s3:PutBucketTagging", |s3, name| {
            s3.put_bucket_tagging().bucket(name).tagging(change).send()
        })
        .await
    }

    fn value(&self) -> String {
        tag_list()
    }
}
