//! The bucket itself: what every step asks of it (its name, ARNs, clients), whether it is
//! there, whose it is and where, and its creation when it is missing. A bucket of another
//! account, or in another region than the one asked for, is refused, never adopted.

use std::time::Duration;

use aws_sdk_s3::client::Waiters;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::BootstrapError;
use super::report::{Action, Report};
use crate::aws::{AwsError, AwsResultExt, Clients, ErrorKind};
use crate::config::ConfigError;
use crate::config::location::S3Location;
use crate::state::StateError;

/// How long S3 may not know a bucket it has just made.
const BUCKET_PROPAGATION: Duration = Duration::from_secs(120);

/// The bucket bootstrap works on, and the clients it reaches it with.
pub(super) struct Bucket<'a> {
    pub(super) clients: &'a Clients,
    location: &'a S3Location,
}

impl<'a> Bucket<'a> {
    pub(super) fn new(clients: &'a Clients, location: &'a S3Location) -> Self {
        Self { clients, location }
    }

    pub(super) fn name(&self) -> &'a str {
        self.location.bucket()
    }

    /// The key prefix state lives under; empty for the bucket's root.
    pub(super) fn prefix(&self) -> &'a str {
        self.location.prefix()
    }

    pub(super) fn s3(&self) -> &'a aws_sdk_s3::Client {
        &self.clients.s3
    }

    pub(super) fn arn(&self, suffix: &str) -> String {
        format!(
            "arn:{}:s3:::{}{suffix}",
            self.clients.partition,
            self.name()
        )
    }

    /// A failed call, as the state error that names the location.
    pub(super) fn aws(&self, source: AwsError) -> BootstrapError {
        StateError::Bootstrap {
            location: self.location.to_string(),
            source,
        }
        .into()
    }

    fn refuse(&self, problem: String) -> BootstrapError {
        ConfigError::new(
            format!("s3://BUCKET/PREFIX {:?}", self.location.to_string()),
            problem,
        )
        .into()
    }

    fn foreign(&self) -> BootstrapError {
        self.refuse(format!(
            "the bucket {} belongs to another account, or this identity may not read it (s3:ListBucket); bucket names are global, so choose another one",
            self.name()
        ))
    }

    fn elsewhere(&self, region: &str) -> BootstrapError {
        self.refuse(format!(
            "the bucket {} is in {region}, not {}; run again with --region {region}",
            self.name(),
            self.clients.region
        ))
    }

    /// Adopts the bucket when this account has it in this region, else makes it.
    pub(super) async fn make_or_adopt(
        &self,
        report: &mut Report<'_>,
    ) -> Result<(), BootstrapError> {
        let s3 = self.s3();
        let region = self.clients.region.as_str();
        let head = s3.head_bucket().bucket(self.name()).send().await;
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
            report.add("bucket", Action::Kept, format!("in {region}"));
            return Ok(());
        }
        // us-east-1 is the one region that takes no location constraint.
        let constraint = (region != "us-east-1").then(|| {
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build()
        });
        let created = s3
            .create_bucket()
            .bucket(self.name())
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
            .bucket(self.name())
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
        report.add("bucket", action, format!("in {region}"));
        Ok(())
    }
}
