//! The bucket's own KMS key, found by its alias (`alias/medtech-state-<bucket>`): made when
//! there is none, and otherwise brought back to usable, rotating and tagged.

use std::future::Future;
use std::time::Duration;

use aws_sdk_kms::types::{KeyMetadata, KeyState, Tag};

use super::bucket::Bucket;
use super::documents::{TAGS, has_tags, tag_list};
use super::report::{Action, Report};
use super::sdk::built;
use crate::aws::{AwsError, AwsResultExt, ErrorKind, Required, propagation};

/// How long KMS may not know a key it has just made ("Eventual consistency" in the KMS
/// developer guide; terraform-provider-aws waits up to 3 minutes).
const KMS_PROPAGATION: Duration = Duration::from_secs(120);

/// `alias/medtech-state-<bucket>`. KMS aliases allow no dots, bucket names no underscores:
/// each dot becomes an underscore, so two buckets never share an alias.
pub(super) fn key_alias(bucket: &str) -> String {
    format!("alias/medtech-state-{}", bucket.replace('.', "_"))
}

/// Whether `named` (a bucket's default encryption key) is `key`, by its id, its ARN, its alias
/// or the alias's ARN.
pub(super) fn names_key(key: &KeyMetadata, alias: &str, named: &str) -> bool {
    let alias_arn = key
        .arn()
        .and_then(|arn| arn.rsplit_once(":key/"))
        .map(|(head, _)| format!("{head}:{alias}"));
    named == key.key_id()
        || Some(named) == key.arn()
        || named == alias
        || Some(named) == alias_arn.as_deref()
}

/// The key the alias names, unless there is none.
pub(super) async fn find_key(
    bucket: &Bucket<'_>,
    alias: &str,
) -> Result<Option<KeyMetadata>, AwsError> {
    let described = bucket
        .clients
        .kms
        .describe_key()
        .key_id(alias)
        .send()
        .await
        .op("kms:DescribeKey");
    match described {
        Ok(out) => Ok(out.key_metadata),
        Err(e) if e.is(ErrorKind::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The bucket's own key, made if `found` is none, usable, rotating and tagged; each of the
/// three reported.
pub(super) async fn settle_key(
    bucket: &Bucket<'_>,
    report: &mut Report<'_>,
    alias: &str,
    found: Option<KeyMetadata>,
) -> Result<KeyMetadata, AwsError> {
    let kms = &bucket.clients.kms;
    let (key, action) = match found {
        None => (create_key(bucket, alias).await?, Action::Created),
        Some(key) => {
            let action = make_usable(kms, &key, alias).await?;
            (key, action)
        }
    };
    let id = key.key_id();
    report.add("kms key", action, format!("{alias}, key {id}"));

    let rotating = settled(|| async {
        kms.get_key_rotation_status()
            .key_id(id)
            .send()
            .await
            .op("kms:GetKeyRotationStatus")
    })
    .await?
    .key_rotation_enabled();
    if !rotating {
        settled(|| async {
            kms.enable_key_rotation()
                .key_id(id)
                .send()
                .await
                .op("kms:EnableKeyRotation")
        })
        .await?;
    }
    report.add("key rotation", Action::unless(rotating), "Enabled");

    // A key made here was tagged in the same call.
    let tagged = action != Action::Created && {
        let listed = kms
            .list_resource_tags()
            .key_id(id)
            .send()
            .await
            .op("kms:ListResourceTags")?;
        has_tags(listed.tags().iter().map(|t| (t.tag_key(), t.tag_value())))
    };
    if action != Action::Created && !tagged {
        kms.tag_resource()
            .key_id(id)
            .set_tags(Some(kms_tags()?))
            .send()
            .await
            .op("kms:TagResource")?;
    }
    report.add("key tags", Action::unless(tagged), tag_list());
    Ok(key)
}

/// Brings a key found under the alias back to `Enabled`: a key pending deletion is kept, a
/// disabled one enabled. A key that cannot be (imported material missing, unavailable key
/// store) is an error that says what to do.
async fn make_usable(
    kms: &aws_sdk_kms::Client,
    key: &KeyMetadata,
    alias: &str,
) -> Result<Action, AwsError> {
    let id = key.key_id();
    let state = key.key_state();
    if state == Some(&KeyState::PendingDeletion) {
        kms.cancel_key_deletion()
            .key_id(id)
            .send()
            .await
            .op("kms:CancelKeyDeletion")?;
    }
    match state {
        Some(KeyState::Enabled) => Ok(Action::Kept),
        Some(KeyState::Disabled | KeyState::PendingDeletion) => {
            settled(|| async { kms.enable_key().key_id(id).send().await.op("kms:EnableKey") })
                .await?;
            Ok(Action::Set)
        }
        other => Err(AwsError::unexpected(
            "kms:DescribeKey",
            format!(
                "the key {id} that {alias} names is {}; it cannot encrypt state: point the alias at a usable key or delete the alias",
                other.map_or("in no state", KeyState::as_str)
            ),
        )),
    }
}

async fn create_key(bucket: &Bucket<'_>, alias: &str) -> Result<KeyMetadata, AwsError> {
    let kms = &bucket.clients.kms;
    let created = kms
        .create_key()
        .description(format!(
            "medtech team state in s3://{}: default encryption of the bucket",
            bucket.name()
        ))
        .set_tags(Some(kms_tags()?))
        .send()
        .await
        .op("kms:CreateKey")?;
    let key = created
        .key_metadata
        .required("kms:CreateKey", "KeyMetadata")?;
    let aliased = settled(|| async {
        kms.create_alias()
            .alias_name(alias)
            .target_key_id(key.key_id())
            .send()
            .await
            .op("kms:CreateAlias")
    })
    .await;
    match aliased {
        Ok(_) => Ok(key),
        // Another bootstrap of this bucket aliased its key first: use that one.
        Err(e) if e.is(ErrorKind::AlreadyExists) => {
            tracing::warn!(
                key = key.key_id(),
                alias,
                "another run made the bucket's key at the same time; this run's key is unused: schedule its deletion"
            );
            find_key(bucket, alias)
                .await?
                .required("kms:DescribeKey", "KeyMetadata")
        }
        Err(e) => Err(e),
    }
}

/// Runs a call about a key KMS made moments ago again while KMS does not know it yet.
async fn settled<T, F, Fut>(call: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let unknown_yet = |e: &AwsError| e.is(ErrorKind::NotFound);
    let pause = || async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        Ok(())
    };
    propagation::once_known(KMS_PROPAGATION, unknown_yet, pause, call).await
}

fn kms_tags() -> Result<Vec<Tag>, AwsError> {
    TAGS.iter()
        .map(|(k, v)| {
            built(
                "kms:TagResource",
                Tag::builder().tag_key(*k).tag_value(*v).build(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_follow_the_bucket() {
        assert_eq!(
            key_alias("acme.state-1"),
            "alias/medtech-state-acme_state-1"
        );
    }

    #[test]
    fn a_key_is_named_by_its_id_arn_alias_or_alias_arn() {
        let arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd";
        let key = KeyMetadata::builder()
            .key_id("1234abcd")
            .arn(arn)
            .build()
            .unwrap();
        let alias = key_alias("team-state");
        for named in [
            "1234abcd",
            arn,
            alias.as_str(),
            "arn:aws:kms:eu-west-1:123456789012:alias/medtech-state-team-state",
        ] {
            assert!(names_key(&key, &alias, named), "{named}");
        }
        for other in ["aws/s3", "5678efgh", "alias/medtech-state-other"] {
            assert!(!names_key(&key, &alias, other), "{other}");
        }
    }
}
