//! AWS access: one `SdkConfig` from the standard chain, every service client built from it once,
//! and the retry and timeout policy they share. Resource modules receive `Clients`; nothing else
//! builds an SDK client.

mod access;
mod calls;
mod errors;
pub(crate) mod policy_docs;
pub(crate) mod propagation;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

pub(crate) use calls::{CallCounter, CallTotals, polling};
pub(crate) use errors::{AwsError, AwsResultExt, ErrorKind, Required, UnderPolicy, classify};
pub(crate) use policy_docs::POLICY_DOC;

use crate::config::{AwsTarget, ConfigError};

/// Every service client medtech uses, from one shared configuration.
#[derive(Clone, Debug)]
pub(crate) struct Clients {
    pub region: String,
    pub account_id: String,
    /// `aws`, `aws-cn`, `aws-us-gov`: part of every ARN medtech writes into a policy.
    pub partition: String,
    /// Who runs medtech, as STS names it (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`
    /// for a role session).
    pub caller_arn: String,
    /// Every call any client below sends.
    pub calls: CallCounter,
    pub ec2: aws_sdk_ec2::Client,
    pub kms: aws_sdk_kms::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub kinesis: aws_sdk_kinesis::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub rds: aws_sdk_rds::Client,
    pub elasticache: aws_sdk_elasticache::Client,
    pub iam: aws_sdk_iam::Client,
    pub sns: aws_sdk_sns::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// AWS Backup: the RDS instance's vault, plan and selection.
    pub backup: aws_sdk_backup::Client,
    /// The Resource Groups Tagging API: the tags of every resource of the environment in one
    /// paged call, for batched reads.
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    /// S3 in the stack's account and region (for `state bootstrap`); the state backend's own
    /// calls go through `state_client`.
    pub s3: aws_sdk_s3::Client,
    /// The account baseline `verify --account` reads (never the stack's own resources).
    pub cloudtrail: aws_sdk_cloudtrail::Client,
    pub guardduty: aws_sdk_guardduty::Client,
    pub securityhub: aws_sdk_securityhub::Client,
    pub configservice: aws_sdk_config::Client,
}

/// Why `Clients::connect` failed: the region (bad input), or the access to AWS.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl Clients {
    /// Loads the standard chain (flags win over environment and profile), then asks STS who we
    /// are: that surfaces missing or rejected credentials once, with a clear message, before
    /// any resource is touched, and gives the account id for state and policies.
    pub(crate) async fn connect(target: &AwsTarget) -> Result<Self, ConnectError> {
        let config = load_sdk_config(target).await;
        let calls = CallCounter::default();
        let region = config.region().map(|r| r.to_string()).ok_or_else(|| {
            ConfigError::new(
                "region",
                "not set; pass --region, set AWS_REGION, or set region in the AWS profile",
            )
        })?;
        // --region and AWS_REGION were checked with the settings; a profile's region is
        // checked here, still before the first call.
        let region = crate::config::validate_region("region (of the AWS profile)", region)?;
        let sts = counted_client!(aws_sdk_sts, &config, &calls);
        // Two attempts, not ten: an unreachable endpoint or missing credentials should be
        // reported within seconds, not after a minute of backoff.
        let mut identity = sts
            .get_caller_identity()
            .customize()
            .config_override(
                aws_sdk_sts::config::Builder::default()
                    .retry_config(RetryConfig::standard().with_max_attempts(2)),
            )
            .send()
            .await;
        // But an AWS that answered, with a 5xx or a throttle, is reachable: it gets the retry
        // budget of every other call rather than failing the run on two unlucky answers.
        if let Err(e) = &identity
            && access::answered_but_failed(e)
        {
            identity = sts.get_caller_identity().send().await;
        }
        let identity = match identity {
            Ok(identity) => identity,
            Err(e) => {
                let undefined = access::undefined_profile(target).await;
                return Err(access::access_error(&e, target, undefined.as_deref()).into());
            }
        };
        let account_id = identity
            .account()
            .required("sts:GetCallerIdentity", "Account")?
            .to_owned();
        // The caller's ARN names the partition (arn:PARTITION:sts::ACCOUNT:...).
        let partition = identity
            .arn()
            .and_then(|arn| arn.split(':').nth(1))
            .filter(|p| !p.is_empty())
            .unwrap_or("aws")
            .to_owned();
        let caller_arn = identity
            .arn()
            .required("sts:GetCallerIdentity", "Arn")?
            .to_owned();
        Ok(Self {
            region,
            account_id,
            partition,
            caller_arn,
            calls: calls.clone(),
            ec2: counted_client!(aws_sdk_ec2, &config, &calls),
            kms: counted_client!(aws_sdk_kms, &config, &calls),
            logs: counted_client!(aws_sdk_cloudwatchlogs, &config, &calls),
            kinesis: counted_client!(aws_sdk_kinesis, &config, &calls),
            secrets: counted_client!(aws_sdk_secretsmanager, &config, &calls),
            rds: counted_client!(aws_sdk_rds, &config, &calls),
            elasticache: counted_client!(aws_sdk_elasticache, &config, &calls),
            iam: counted_client!(aws_sdk_iam, &config, &calls),
            sns: counted_client!(aws_sdk_sns, &config, &calls),
            cloudwatch: counted_client!(aws_sdk_cloudwatch, &config, &calls),
            backup: counted_client!(aws_sdk_backup, &config, &calls),
            tagging: counted_client!(aws_sdk_resourcegroupstagging, &config, &calls),
            s3: s3_client(&config),
            cloudtrail: counted_client!(aws_sdk_cloudtrail, &config, &calls),
            guardduty: counted_client!(aws_sdk_guardduty, &config, &calls),
            securityhub: counted_client!(aws_sdk_securityhub, &config, &calls),
            configservice: counted_client!(aws_sdk_config, &config, &calls),
        })
    }

    /// `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE` in this account and region.
    pub(crate) fn arn(&self, service: &str, resource: &str) -> String {
        format!(
            "arn:{}:{service}:{}:{}:{resource}",
            self.partition, self.region, self.account_id
        )
    }

    /// The account's root principal, `arn:PARTITION:iam::ACCOUNT:root`.
    pub(crate) fn account_root(&self) -> String {
        format!("arn:{}:iam::{}:root", self.partition, self.account_id)
    }
}

/// A service's client from the shared config, with the call counter attached. A macro: each
/// SDK crate has its own `Client` and config builder, with no trait in common.
macro_rules! counted_client {
    ($krate:ident, $config:expr, $calls:expr) => {
        $krate::Client::from_conf(
            $krate::config::Builder::from($config)
                .interceptor($calls.clone())
                .build(),
        )
    };
}
use counted_client;

/// The S3 client for the state backend, for its own target (`[state]` may name another
/// profile or region than the stack's). Not counted with the stack's calls: the counter takes
/// every call that is not a read for a change to the stack, and each state write would throw
/// away the run's batched listings.
pub(crate) async fn state_client(target: &AwsTarget) -> aws_sdk_s3::Client {
    s3_client(&load_sdk_config(target).await)
}

fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            // An endpoint of one's own (an emulator, a proxy) serves paths, not the
            // bucket-named hosts of AWS.
            .force_path_style(config.endpoint_url().is_some())
            .build(),
    )
}

async fn load_sdk_config(target: &AwsTarget) -> SdkConfig {
    // A 35-resource parallel run meets throttling that the default three attempts cannot
    // absorb. Standard mode backs off per request with jitter; adaptive mode was measured to
    // cut a whole client to half a request a second after a single throttle, which turned a
    // 10-second run into a minute.
    let retry = RetryConfig::standard()
        .with_max_attempts(10)
        .with_initial_backoff(Duration::from_millis(200))
        .with_max_backoff(Duration::from_secs(20));
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(Duration::from_secs(60))
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry)
        .timeout_config(timeouts);
    if let Some(profile) = &target.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &target.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(endpoint) = &target.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}
