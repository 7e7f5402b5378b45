//! The bucket's default encryption: SSE-KMS with its own key and a bucket key. A default
//! already on another KMS key is kept, because objects written under it stay readable only
//! through that key.

use aws_sdk_s3::types::{
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule,
};

use super::bucket::Bucket;
use super::key::{find_key, key_alias, names_key, settle_key};
use super::report::{Action, Report};
use super::sdk::{built, put, unless_absent};
use crate::aws::{AwsError, Required};

const PUT: &str = "s3:PutEncryptionConfiguration";

/// Default SSE-KMS with the bucket's own key, unless it already encrypts with another.
pub(super) async fn settle(bucket: &Bucket<'_>, report: &mut Report<'_>) -> Result<(), AwsError> {
    let found = unless_absent(
        bucket,
        "s3:GetEncryptionConfiguration",
        "ServerSideEncryptionConfigurationNotFoundError",
        |s3, name| s3.get_bucket_encryption().bucket(name).send(),
    )
    .await?;
    let rule = found
        .as_ref()
        .and_then(|f| f.server_side_encryption_configuration())
        .and_then(|c| {
            c.rules()
                .iter()
                .find(|r| r.apply_server_side_encryption_by_default().is_some())
        });
    let kms_default = rule
        .and_then(|r| r.apply_server_side_encryption_by_default())
        .filter(|d| {
            matches!(
                d.sse_algorithm(),
                ServerSideEncryption::AwsKms | ServerSideEncryption::AwsKmsDsse
            )
        });
    let alias = key_alias(bucket.name());
    let ours = find_key(bucket, &alias).await?;
    if let Some(default) = kms_default {
        let key = default.kms_master_key_id().unwrap_or("aws/s3");
        if !ours.as_ref().is_some_and(|k| names_key(k, &alias, key)) {
            report.add("encryption", Action::Kept, format!("key {key}"));
            return Ok(());
        }
    }
    let key = settle_key(bucket, report, &alias, ours).await?;
    let arn = key.arn().required("kms:DescribeKey", "KeyMetadata.Arn")?;
    // Past the check above, a KMS default is this key's. Dual-layer encryption takes no
    // bucket key, and is no weaker.
    let holds = kms_default.is_some_and(|d| {
        *d.sse_algorithm() == ServerSideEncryption::AwsKmsDsse
            || rule.is_some_and(|r| r.bucket_key_enabled() == Some(true))
    });
    if !holds {
        let configuration = with_key(arn)?;
        put(bucket, PUT, |s3, name| {
            s3.put_bucket_encryption()
                .bucket(name)
                .server_side_encryption_configuration(configuration)
                .send()
        })
        .await?;
    }
    report.add(
        "encryption",
        Action::unless(holds),
        format!("aws:kms with {alias}, bucket key on"),
    );
    Ok(())
}

/// SSE-KMS by default with the key `arn`, bucket key on (one KMS request per bucket key, not
/// per object).
fn with_key(arn: &str) -> Result<ServerSideEncryptionConfiguration, AwsError> {
    let default = built(
        PUT,
        ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::AwsKms)
            .kms_master_key_id(arn)
            .build(),
    )?;
    built(
        PUT,
        ServerSideEncryptionConfiguration::builder()
            .rules(
                ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(default)
                    .bucket_key_enabled(true)
                    .build(),
            )
            .build(),
    )
}
