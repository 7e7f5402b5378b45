//! `medtech state bootstrap`: makes a bucket fit for team state, or brings an existing one up
//! to it. Each setting is read first and changed only when it falls short, so a second run
//! changes nothing and a bucket made by hand is adopted. Two things are never replaced: a
//! bucket of another account (refused), and a default encryption already on another KMS key
//! (kept: objects written under it stay readable only through it).

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_kms::types::{KeyMetadata, KeyState};
use aws_sdk_s3::client::Waiters;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint,
    BucketVersioningStatus, CreateBucketConfiguration, ExpirationStatus, LifecycleRule,
    LifecycleRuleFilter, NoncurrentVersionExpiration, ObjectOwnership, OwnershipControls,
    OwnershipControlsRule, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tagging, VersioningConfiguration,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::Serialize;
use serde_json::{Value, json};

use super::StateError;
use super::location::S3Location;
use crate::aws::{AwsError, AwsResultExt, Clients, ErrorKind};
use crate::config::ConfigError;
use crate::error::Error;

/// The tags of the bucket and its key. No `Environment`: one bucket serves every environment.
const TAGS: [(&str, &str); 3] = [
    ("Project", crate::tags::PROJECT),
    ("ManagedBy", crate::tags::MANAGED_BY),
    ("Purpose", "state"),
];

/// State objects are small single-part writes; an upload left incomplete is nobody's.
const ABORT_UPLOADS_AFTER_DAYS: i32 = 7;

/// The bucket policy statement that refuses plain HTTP, found again by its `Sid`.
const TLS_SID: &str = "DenyInsecureTransport";

/// How long S3 may not know a bucket it has just made.
const BUCKET_PROPAGATION: Duration = Duration::from_secs(120);

/// How long KMS may not know a key it has just made ("Eventual consistency" in the KMS
/// developer guide; terraform-provider-aws waits up to 3 minutes).
const KMS_PROPAGATION: Duration = Duration::from_secs(120);

/// What bootstrap did about one setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Action {
    Created,
    Set,
    Kept,
}

impl Action {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Set => "set",
            Self::Kept => "kept",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct Setting {
    pub name: &'static str,
    pub action: Action,
    pub value: String,
}

/// `alias/medtech-state-<bucket>`. KMS aliases allow no dots, bucket names no underscores:
/// each dot becomes an underscore, so two buckets never share an alias.
fn key_alias(bucket: &str) -> String {
    format!("alias/medtech-state-{}", bucket.replace('.', "_"))
}

/// Makes `location`'s bucket fit for state: each setting goes to `each` as soon as it is
/// settled, so that a run stopped half-way has said what it did.
pub(crate) async fn run(
    clients: &Clients,
    location: &S3Location,
    noncurrent_days: i32,
    each: &mut dyn FnMut(&Setting),
) -> Result<Vec<Setting>, Error> {
    let mut bucket = Bootstrap {
        clients,
        location,
        name: location.bucket(),
        settings: Vec::new(),
        each,
    };
    bucket.exists().await?;
    let converged = bucket.converge(noncurrent_days).await;
    converged.map_err(|e| bucket.aws(e))?;
    Ok(bucket.settings)
}

struct Bootstrap<'a> {
    clients: &'a Clients,
    location: &'a S3Location,
    name: &'a str,
    settings: Vec<Setting>,
    each: &'a mut dyn FnMut(&Setting),
}

/// The answer, or `None` where S3 says the bucket has no such configuration (`absent`).
fn unless_absent<T, E>(
    result: Result<T, SdkError<E, HttpResponse>>,
    absent: &str,
    operation: &'static str,
) -> Result<Option<T>, AwsError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match result {
        Err(e) if e.code() == Some(absent) => Ok(None),
        other => other.op(operation).map(Some),
    }
}

/// A request body the SDK refused to build: a required field left out, a bug here.
fn built<T>(
    operation: &'static str,
    result: Result<T, aws_smithy_types::error::operation::BuildError>,
) -> Result<T, AwsError> {
    result.map_err(|e| AwsError::unexpected(operation, e.to_string()))
}

impl Bootstrap<'_> {
    fn report(&mut self, name: &'static str, action: Action, value: impl Into<String>) {
        let setting = Setting {
            name,
            action,
            value: value.into(),
        };
        (self.each)(&setting);
        self.settings.push(setting);
    }

    async fn converge(&mut self, noncurrent_days: i32) -> Result<(), AwsError> {
        // Nothing public, ever, before anything else is set.
        self.public_access_block().await?;
        self.ownership().await?;
        self.policy().await?;
        self.versioning().await?;
        self.encryption().await?;
        self.lifecycle(noncurrent_days).await?;
        self.tags().await
    }

    fn aws(&self, source: AwsError) -> Error {
        StateError::Aws {
            location: self.location.to_string(),
            source,
        }
        .into()
    }

    fn refuse(&self, problem: String) -> Error {
        ConfigError::new(
            format!("s3://BUCKET/PREFIX {:?}", self.location.to_string()),
            problem,
        )
        .into()
    }

    fn foreign(&self) -> Error {
        self.refuse(format!(
            "the bucket {} belongs to another account, or this identity may not read it (s3:ListBucket); bucket names are global, so choose another one",
            self.name
        ))
    }

    fn elsewhere(&self, region: &str) -> Error {
        self.refuse(format!(
            "the bucket {} is in {region}, not {}; run again with --region {region}",
            self.name, self.clients.region
        ))
    }

    fn arn(&self, suffix: &str) -> String {
        format!("arn:{}:s3:::{}{suffix}", self.clients.partition, self.name)
    }

    async fn exists(&mut self) -> Result<(), Error> {
        let s3 = &self.clients.s3;
        let region = self.clients.region.clone();
        let head = s3.head_bucket().bucket(self.name).send().await;
        let missing =
            matches!(&head, Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()));
        if !missing {
            if let Err(e) = &head {
                let answer = e.raw_response();
                let redirect = answer
                    .and_then(|r| r.headers().get("x-amz-bucket-region"))
                    .map(str::to_owned);
                match (answer.map(|r| r.status().as_u16()), redirect) {
                    (Some(301), Some(theirs)) => return Err(self.elsewhere(&theirs)),
                    (Some(403), _) => return Err(self.foreign()),
                    _ => {}
                }
            }
            let found = head.op("s3:ListBucket").map_err(|e| self.aws(e))?;
            if let Some(theirs) = found.bucket_region().filter(|r| *r != region) {
                return Err(self.elsewhere(theirs));
            }
            self.report("bucket", Action::Kept, format!("in {region}"));
            return Ok(());
        }
        // us-east-1 is the one region that takes no location constraint.
        let constraint = (region != "us-east-1").then(|| {
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region.as_str()))
                .build()
        });
        let created = s3
            .create_bucket()
            .bucket(self.name)
            .set_create_bucket_configuration(constraint)
            .send()
            .await;
        let action = match created.as_ref().err().and_then(ProvideErrorMetadata::code) {
            // Made by another bootstrap of the same bucket a moment ago.
            Some("BucketAlreadyOwnedByYou") => Action::Kept,
            Some("BucketAlreadyExists") => return Err(self.foreign()),
            _ => {
                created.op("s3:CreateBucket").map_err(|e| self.aws(e))?;
                Action::Created
            }
        };
        // A bucket's configuration calls may answer NoSuchBucket for a moment after it is
        // made (terraform-provider-aws retries them for 2 minutes).
        s3.wait_until_bucket_exists()
            .bucket(self.name)
            .wait(BUCKET_PROPAGATION)
            .await
            .map_err(|e| {
                self.aws(AwsError {
                    operation: "s3:ListBucket",
                    kind: ErrorKind::Transient,
                    code: None,
                    detail: format!("the new bucket did not appear: {e}"),
                })
            })?;
        self.report("bucket", action, format!("in {region}"));
        Ok(())
    }

    async fn public_access_block(&mut self) -> Result<(), AwsError> {
        const OP: &str = "s3:GetBucketPublicAccessBlock";
        let s3 = &self.clients.s3;
        let found = unless_absent(
            s3.get_public_access_block().bucket(self.name).send().await,
            "NoSuchPublicAccessBlockConfiguration",
            OP,
        )?;
        let holds = found
            .as_ref()
            .and_then(|f| f.public_access_block_configuration())
            .is_some_and(|c| {
                [
                    c.block_public_acls(),
                    c.ignore_public_acls(),
                    c.block_public_policy(),
                    c.restrict_public_buckets(),
                ]
                .iter()
                .all(|on| *on == Some(true))
            });
        if !holds {
            s3.put_public_access_block()
                .bucket(self.name)
                .public_access_block_configuration(
                    PublicAccessBlockConfiguration::builder()
                        .block_public_acls(true)
                        .ignore_public_acls(true)
                        .block_public_policy(true)
                        .restrict_public_buckets(true)
                        .build(),
                )
                .send()
                .await
                .op("s3:PutBucketPublicAccessBlock")?;
        }
        self.report(
            "public access block",
            set_unless(holds),
            "all four settings on",
        );
        Ok(())
    }

    async fn ownership(&mut self) -> Result<(), AwsError> {
        const OP: &str = "s3:GetBucketOwnershipControls";
        let s3 = &self.clients.s3;
        let found = unless_absent(
            s3.get_bucket_ownership_controls()
                .bucket(self.name)
                .send()
                .await,
            "OwnershipControlsNotFoundError",
            OP,
        )?;
        let holds = found
            .as_ref()
            .and_then(|f| f.ownership_controls())
            .is_some_and(|c| {
                c.rules()
                    .iter()
                    .all(|r| *r.object_ownership() == ObjectOwnership::BucketOwnerEnforced)
                    && !c.rules().is_empty()
            });
        if !holds {
            const PUT: &str = "s3:PutBucketOwnershipControls";
            let rule = built(
                PUT,
                OwnershipControlsRule::builder()
                    .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                    .build(),
            )?;
            let controls = built(PUT, OwnershipControls::builder().rules(rule).build())?;
            s3.put_bucket_ownership_controls()
                .bucket(self.name)
                .ownership_controls(controls)
                .send()
                .await
                .op(PUT)?;
        }
        self.report("object ownership", set_unless(holds), "BucketOwnerEnforced");
        Ok(())
    }

    async fn policy(&mut self) -> Result<(), AwsError> {
        const OP: &str = "s3:GetBucketPolicy";
        let s3 = &self.clients.s3;
        let found = unless_absent(
            s3.get_bucket_policy().bucket(self.name).send().await,
            "NoSuchBucketPolicy",
            OP,
        )?;
        let current = match found.as_ref().and_then(|f| f.policy()) {
            Some(text) => Some(serde_json::from_str::<Value>(text).map_err(|e| {
                AwsError::unexpected(OP, format!("the bucket policy is not JSON: {e}"))
            })?),
            None => None,
        };
        let resources = [self.arn(""), self.arn("/*")];
        let updated = with_tls_statement(current.as_ref(), &resources);
        if let Some(policy) = &updated {
            s3.put_bucket_policy()
                .bucket(self.name)
                .policy(policy.to_string())
                .send()
                .await
                .op("s3:PutBucketPolicy")?;
        }
        self.report(
            "bucket policy",
            set_unless(updated.is_none()),
            "denies every request without TLS",
        );
        Ok(())
    }

    async fn versioning(&mut self) -> Result<(), AwsError> {
        let s3 = &self.clients.s3;
        let found = s3
            .get_bucket_versioning()
            .bucket(self.name)
            .send()
            .await
            .op("s3:GetBucketVersioning")?;
        let holds = found.status() == Some(&BucketVersioningStatus::Enabled);
        if !holds {
            s3.put_bucket_versioning()
                .bucket(self.name)
                .versioning_configuration(
                    VersioningConfiguration::builder()
                        .status(BucketVersioningStatus::Enabled)
                        .build(),
                )
                .send()
                .await
                .op("s3:PutBucketVersioning")?;
        }
        self.report("versioning", set_unless(holds), "Enabled");
        Ok(())
    }

    /// Default SSE-KMS with the bucket's own key, unless it already encrypts with another.
    async fn encryption(&mut self) -> Result<(), AwsError> {
        const OP: &str = "s3:GetEncryptionConfiguration";
        let s3 = &self.clients.s3;
        let found = unless_absent(
            s3.get_bucket_encryption().bucket(self.name).send().await,
            "ServerSideEncryptionConfigurationNotFoundError",
            OP,
        )?;
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
        let alias = key_alias(self.name);
        let ours = self.find_key(&alias).await?;
        if let Some(default) = kms_default {
            let key = default.kms_master_key_id().unwrap_or("aws/s3");
            if !ours.as_ref().is_some_and(|k| names_key(k, &alias, key)) {
                self.report("encryption", Action::Kept, format!("key {key}"));
                return Ok(());
            }
        }
        let key = self.key(&alias, ours).await?;
        let arn = key
            .arn()
            .ok_or_else(|| AwsError::missing("kms:DescribeKey", "KeyMetadata.Arn"))?
            .to_owned();
        // Past the check above, a KMS default is this key's. Dual-layer encryption takes no
        // bucket key, and is no weaker.
        let holds = kms_default.is_some_and(|d| {
            *d.sse_algorithm() == ServerSideEncryption::AwsKmsDsse
                || rule.is_some_and(|r| r.bucket_key_enabled() == Some(true))
        });
        if !holds {
            const PUT: &str = "s3:PutEncryptionConfiguration";
            let default = built(
                PUT,
                ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::AwsKms)
                    .kms_master_key_id(&arn)
                    .build(),
            )?;
            let configuration = built(
                PUT,
                ServerSideEncryptionConfiguration::builder()
                    .rules(
                        ServerSideEncryptionRule::builder()
                            .apply_server_side_encryption_by_default(default)
                            .bucket_key_enabled(true)
                            .build(),
                    )
                    .build(),
            )?;
            s3.put_bucket_encryption()
                .bucket(self.name)
                .server_side_encryption_configuration(configuration)
                .send()
                .await
                .op(PUT)?;
        }
        self.report(
            "encryption",
            set_unless(holds),
            format!("aws:kms with {alias}, bucket key on"),
        );
        Ok(())
    }

    /// The key the alias names, unless there is none.
    async fn find_key(&self, alias: &str) -> Result<Option<KeyMetadata>, AwsError> {
        let described = self
            .clients
            .kms
            .describe_key()
            .key_id(alias)
            .send()
            .await
            .op("kms:DescribeKey");
        match described {
            Ok(out) => Ok(out.key_metadata().cloned()),
            Err(e) if e.is(ErrorKind::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The bucket's own key, made if `found` is none, usable, rotating and tagged.
    async fn key(
        &mut self,
        alias: &str,
        found: Option<KeyMetadata>,
    ) -> Result<KeyMetadata, AwsError> {
        let kms = &self.clients.kms;
        let (key, action) = match found {
            None => (self.create_key(alias).await?, Action::Created),
            Some(key) => {
                let id = key.key_id();
                let state = key.key_state().cloned();
                if state == Some(KeyState::PendingDeletion) {
                    kms.cancel_key_deletion()
                        .key_id(id)
                        .send()
                        .await
                        .op("kms:CancelKeyDeletion")?;
                }
                match state {
                    Some(KeyState::Enabled) => (key, Action::Kept),
                    Some(KeyState::Disabled | KeyState::PendingDeletion) => {
                        settled(|| async {
                            kms.enable_key().key_id(id).send().await.op("kms:EnableKey")
                        })
                        .await?;
                        (key, Action::Set)
                    }
                    other => {
                        return Err(AwsError::unexpected(
                            "kms:DescribeKey",
                            format!(
                                "the key {id} that {alias} names is {}; it cannot encrypt state: point the alias at a usable key or delete the alias",
                                other.as_ref().map_or("in no state", KeyState::as_str)
                            ),
                        ));
                    }
                }
            }
        };
        let id = key.key_id().to_owned();
        self.report("kms key", action, format!("{alias}, key {id}"));

        let rotating = settled(|| async {
            kms.get_key_rotation_status()
                .key_id(&id)
                .send()
                .await
                .op("kms:GetKeyRotationStatus")
        })
        .await?
        .key_rotation_enabled();
        if !rotating {
            settled(|| async {
                kms.enable_key_rotation()
                    .key_id(&id)
                    .send()
                    .await
                    .op("kms:EnableKeyRotation")
            })
            .await?;
        }
        self.report("key rotation", set_unless(rotating), "Enabled");

        // A key made here was tagged in the same call.
        let tagged = action != Action::Created && {
            let listed = kms
                .list_resource_tags()
                .key_id(&id)
                .send()
                .await
                .op("kms:ListResourceTags")?;
            has_tags(listed.tags().iter().map(|t| (t.tag_key(), t.tag_value())))
        };
        if action != Action::Created && !tagged {
            kms.tag_resource()
                .key_id(&id)
                .set_tags(Some(kms_tags()?))
                .send()
                .await
                .op("kms:TagResource")?;
        }
        self.report("key tags", set_unless(tagged), tag_list());
        Ok(key)
    }

    async fn create_key(&self, alias: &str) -> Result<KeyMetadata, AwsError> {
        let kms = &self.clients.kms;
        let created = kms
            .create_key()
            .description(format!(
                "medtech team state in s3://{}: default encryption of the bucket",
                self.name
            ))
            .set_tags(Some(kms_tags()?))
            .send()
            .await
            .op("kms:CreateKey")?;
        let key = created
            .key_metadata()
            .cloned()
            .ok_or_else(|| AwsError::missing("kms:CreateKey", "KeyMetadata"))?;
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
                self.find_key(alias)
                    .await?
                    .ok_or_else(|| AwsError::missing("kms:DescribeKey", "KeyMetadata"))
            }
            Err(e) => Err(e),
        }
    }

    async fn lifecycle(&mut self, noncurrent_days: i32) -> Result<(), AwsError> {
        const OP: &str = "s3:GetLifecycleConfiguration";
        let s3 = &self.clients.s3;
        let found = unless_absent(
            s3.get_bucket_lifecycle_configuration()
                .bucket(self.name)
                .send()
                .await,
            "NoSuchLifecycleConfiguration",
            OP,
        )?;
        let prefix = self.location.prefix();
        let wanted = lifecycle_rule(prefix, noncurrent_days)?;
        let rules = found.as_ref().map_or(&[][..], |f| f.rules());
        let holds = rules.iter().any(|r| same_rule(r, &wanted));
        if !holds {
            const PUT: &str = "s3:PutLifecycleConfiguration";
            // The call replaces every rule: others' rules, and this one for other prefixes,
            // go back as they were.
            let mut kept: Vec<LifecycleRule> = rules
                .iter()
                .filter(|r| r.id() != wanted.id())
                .cloned()
                .collect();
            kept.push(wanted);
            let configuration = built(
                PUT,
                BucketLifecycleConfiguration::builder()
                    .set_rules(Some(kept))
                    .build(),
            )?;
            s3.put_bucket_lifecycle_configuration()
                .bucket(self.name)
                .lifecycle_configuration(configuration)
                .set_transition_default_minimum_object_size(
                    found
                        .as_ref()
                        .and_then(|f| f.transition_default_minimum_object_size())
                        .cloned(),
                )
                .send()
                .await
                .op(PUT)?;
        }
        let scope = if prefix.is_empty() {
            "in the bucket".to_owned()
        } else {
            format!("under {prefix}/")
        };
        self.report(
            "lifecycle",
            set_unless(holds),
            format!(
                "noncurrent versions {scope} expire after {noncurrent_days} days; incomplete uploads aborted after {ABORT_UPLOADS_AFTER_DAYS} days"
            ),
        );
        Ok(())
    }

    async fn tags(&mut self) -> Result<(), AwsError> {
        const OP: &str = "s3:GetBucketTagging";
        let s3 = &self.clients.s3;
        let found = unless_absent(
            s3.get_bucket_tagging().bucket(self.name).send().await,
            "NoSuchTagSet",
            OP,
        )?;
        let mut tags: BTreeMap<String, String> = found
            .as_ref()
            .map(|f| {
                f.tag_set()
                    .iter()
                    .map(|t| (t.key().to_owned(), t.value().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let holds = has_tags(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if !holds {
            const PUT: &str = "s3:PutBucketTagging";
            // The call replaces the whole set: others' tags go back with these.
            for (key, value) in TAGS {
                tags.insert(key.to_owned(), value.to_owned());
            }
            let set = tags
                .iter()
                .map(|(k, v)| {
                    built(
                        PUT,
                        aws_sdk_s3::types::Tag::builder().key(k).value(v).build(),
                    )
                })
                .collect::<Result<Vec<_>, _>>()?;
            let tagging = built(PUT, Tagging::builder().set_tag_set(Some(set)).build())?;
            s3.put_bucket_tagging()
                .bucket(self.name)
                .tagging(tagging)
                .send()
                .await
                .op(PUT)?;
        }
        self.report("tags", set_unless(holds), tag_list());
        Ok(())
    }
}

fn set_unless(holds: bool) -> Action {
    if holds { Action::Kept } else { Action::Set }
}

/// Runs a call about a key KMS made moments ago again while KMS does not know it yet.
async fn settled<T, F, Fut>(mut call: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let started = Instant::now();
    loop {
        match call().await {
            Err(e) if e.is(ErrorKind::NotFound) && started.elapsed() < KMS_PROPAGATION => {
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            other => return other,
        }
    }
}

/// Whether the bucket's default names `key` by its id, its ARN, its alias or the alias's ARN.
fn names_key(key: &KeyMetadata, alias: &str, named: &str) -> bool {
    let alias_arn = key
        .arn()
        .and_then(|arn| arn.rsplit_once(":key/"))
        .map(|(head, _)| format!("{head}:{alias}"));
    named == key.key_id()
        || Some(named) == key.arn()
        || named == alias
        || Some(named) == alias_arn.as_deref()
}

fn has_tags<'a>(found: impl Iterator<Item = (&'a str, &'a str)>) -> bool {
    let found: BTreeMap<&str, &str> = found.collect();
    TAGS.iter().all(|(k, v)| found.get(k) == Some(v))
}

fn tag_list() -> String {
    TAGS.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn kms_tags() -> Result<Vec<aws_sdk_kms::types::Tag>, AwsError> {
    TAGS.iter()
        .map(|(k, v)| {
            built(
                "kms:TagResource",
                aws_sdk_kms::types::Tag::builder()
                    .tag_key(*k)
                    .tag_value(*v)
                    .build(),
            )
        })
        .collect()
}

/// The rule that expires old state versions under `prefix` (the whole bucket when empty).
/// Its id names the prefix, so one bucket can hold the state of several teams, each with its
/// own rule.
fn lifecycle_rule(prefix: &str, noncurrent_days: i32) -> Result<LifecycleRule, AwsError> {
    // S3 caps rule ids at 255 characters.
    let mut id = if prefix.is_empty() {
        "medtech-state".to_owned()
    } else {
        format!("medtech-state:{prefix}/")
    };
    if id.len() > 255 {
        let mut end = 255;
        while !id.is_char_boundary(end) {
            end -= 1;
        }
        id.truncate(end);
    }
    // The trailing slash keeps `teams` from matching `teams-old/`.
    let filter = if prefix.is_empty() {
        String::new()
    } else {
        format!("{prefix}/")
    };
    built(
        "s3:PutLifecycleConfiguration",
        LifecycleRule::builder()
            .id(id)
            .status(ExpirationStatus::Enabled)
            .filter(LifecycleRuleFilter::builder().prefix(filter).build())
            .noncurrent_version_expiration(
                NoncurrentVersionExpiration::builder()
                    .noncurrent_days(noncurrent_days)
                    .build(),
            )
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(ABORT_UPLOADS_AFTER_DAYS)
                    .build(),
            )
            .build(),
    )
}

/// Whether `found` is `wanted` as S3 reads it back (an empty prefix may come back as none).
fn same_rule(found: &LifecycleRule, wanted: &LifecycleRule) -> bool {
    let prefix = |r: &LifecycleRule| {
        r.filter()
            .and_then(LifecycleRuleFilter::prefix)
            .unwrap_or_default()
            .to_owned()
    };
    let narrowed = found.filter().is_some_and(|f| {
        f.tag().is_some()
            || f.and().is_some()
            || f.object_size_greater_than().is_some()
            || f.object_size_less_than().is_some()
    });
    let noncurrent = |r: &LifecycleRule| {
        r.noncurrent_version_expiration()
            .map(|e| (e.noncurrent_days(), e.newer_noncurrent_versions()))
    };
    let abort = |r: &LifecycleRule| {
        r.abort_incomplete_multipart_upload()
            .and_then(AbortIncompleteMultipartUpload::days_after_initiation)
    };
    found.id() == wanted.id()
        && found.status() == wanted.status()
        && !narrowed
        && prefix(found) == prefix(wanted)
        && noncurrent(found) == noncurrent(wanted)
        && abort(found) == abort(wanted)
}

/// The bucket policy with a statement that denies plain HTTP to `resources`, or `None` when
/// `current` already has one. Other statements are kept; one with this `Sid` is replaced.
fn with_tls_statement(current: Option<&Value>, resources: &[String; 2]) -> Option<Value> {
    let statements = current
        .and_then(|p| p.get("Statement"))
        .map(as_list)
        .unwrap_or_default();
    if statements.iter().any(|s| denies_plain_http(s, resources)) {
        return None;
    }
    let mut kept: Vec<Value> = statements
        .into_iter()
        .filter(|s| s.get("Sid").and_then(Value::as_str) != Some(TLS_SID))
        .collect();
    kept.push(json!({
        "Sid": TLS_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": resources,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}
    }));
    let mut policy = current.cloned().unwrap_or_else(|| json!({}));
    let map = policy.as_object_mut()?;
    map.insert("Version".into(), json!("2012-10-17"));
    map.insert("Statement".into(), Value::Array(kept));
    Some(policy)
}

/// A policy field may be one value or a list of them.
fn as_list(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    }
}

fn denies_plain_http(statement: &Value, resources: &[String; 2]) -> bool {
    let strings = |field: &str| -> Vec<String> {
        statement
            .get(field)
            .map(as_list)
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    let principal = statement.get("Principal");
    let everyone = principal == Some(&json!("*"))
        || principal
            .and_then(|p| p.get("AWS"))
            .is_some_and(|aws| as_list(aws) == [json!("*")]);
    let insecure = statement
        .pointer("/Condition/Bool/aws:SecureTransport")
        .map(as_list)
        .is_some_and(|v| v == [json!("false")] || v == [json!(false)]);
    let actions = strings("Action");
    let covered = strings("Resource");
    statement.get("Effect") == Some(&json!("Deny"))
        && everyone
        && insecure
        && actions.iter().any(|a| a == "s3:*" || a == "*")
        && resources.iter().all(|r| covered.contains(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resources() -> [String; 2] {
        [
            "arn:aws:s3:::team-state".to_owned(),
            "arn:aws:s3:::team-state/*".to_owned(),
        ]
    }

    #[test]
    fn aliases_and_prefixes_follow_the_bucket() {
        assert_eq!(
            key_alias("acme.state-1"),
            "alias/medtech-state-acme_state-1"
        );
        let at = S3Location::parse("s3://team-state/medtech/teams/").unwrap();
        assert_eq!(at.prefix(), "medtech/teams");
        assert_eq!(S3Location::parse("s3://team-state").unwrap().prefix(), "");
    }

    #[test]
    fn the_tls_statement_is_added_once_and_others_are_kept() {
        let added = with_tls_statement(None, &resources()).unwrap();
        assert!(with_tls_statement(Some(&added), &resources()).is_none());

        let theirs = json!({"Version": "2012-10-17", "Id": "theirs", "Statement": {
            "Sid": "ReadForAuditors", "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:role/audit"},
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::team-state/*"}});
        let merged = with_tls_statement(Some(&theirs), &resources()).unwrap();
        assert_eq!(merged["Id"], "theirs");
        let sids: Vec<&str> = merged["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["Sid"].as_str().unwrap())
            .collect();
        assert_eq!(sids, ["ReadForAuditors", TLS_SID]);

        // Written another way (lists, a boolean, AWS's principal form), it still counts.
        let equivalent = json!({"Statement": [{"Effect": "Deny", "Principal": {"AWS": ["*"]},
            "Action": ["s3:*"], "Resource": [resources()[1], resources()[0]],
            "Condition": {"Bool": {"aws:SecureTransport": false}}}]});
        assert!(with_tls_statement(Some(&equivalent), &resources()).is_none());
        // Covering only the objects is not enough; a stale statement of ours is replaced.
        let partial = json!({"Statement": [{"Sid": TLS_SID, "Effect": "Deny", "Principal": "*",
            "Action": "s3:*", "Resource": resources()[1],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]});
        let fixed = with_tls_statement(Some(&partial), &resources()).unwrap();
        assert_eq!(fixed["Statement"].as_array().unwrap().len(), 1);
        assert!(denies_plain_http(&fixed["Statement"][0], &resources()));
    }

    #[test]
    fn the_lifecycle_rule_is_scoped_to_the_prefix() {
        let rule = lifecycle_rule("teams", 30).unwrap();
        assert_eq!(rule.id(), Some("medtech-state:teams/"));
        assert_eq!(rule.filter().and_then(|f| f.prefix()), Some("teams/"));
        assert_eq!(
            rule.noncurrent_version_expiration()
                .and_then(|e| e.noncurrent_days()),
            Some(30)
        );
        let root = lifecycle_rule("", 90).unwrap();
        assert_eq!(root.id(), Some("medtech-state"));
        assert_eq!(root.filter().and_then(|f| f.prefix()), Some(""));
        let long = lifecycle_rule(&"é".repeat(200), 90).unwrap();
        assert!(long.id().unwrap().len() <= 255);
    }

    #[test]
    fn tags_hold_when_ours_are_there_among_others() {
        assert!(has_tags(
            [
                ("Owner", "ops"),
                ("Project", "medtech"),
                ("ManagedBy", "medtech"),
                ("Purpose", "state")
            ]
            .into_iter()
        ));
        assert!(!has_tags(
            [("Project", "medtech"), ("ManagedBy", "medtech")].into_iter()
        ));
        assert!(!has_tags(
            [
                ("Project", "other"),
                ("ManagedBy", "medtech"),
                ("Purpose", "state")
            ]
            .into_iter()
        ));
    }
}
