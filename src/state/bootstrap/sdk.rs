//! The calls bootstrap makes on the bucket, and the SDK outcomes it reads in its own way: a
//! configuration the bucket does not have, and a request body the SDK refused to build.

use aws_sdk_s3::Client;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::error::operation::BuildError;

use super::bucket::Bucket;
use crate::aws::{AwsError, AwsResultExt};

/// What S3 answers `request` made on the bucket; `action`, its IAM action, names it in an
/// error.
pub(super) async fn call<'a, T, E, R>(
    bucket: &Bucket<'a>,
    action: &'static str,
    request: impl FnOnce(&'a Client, &'a str) -> R,
) -> Result<T, AwsError>
where
    R: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    request(bucket.s3(), bucket.name()).await.op(action)
}

/// `call` for a write, whose answer holds nothing bootstrap reads.
pub(super) async fn put<'a, T, E, R>(
    bucket: &Bucket<'a>,
    action: &'static str,
    request: impl FnOnce(&'a Client, &'a str) -> R,
) -> Result<(), AwsError>
where
    R: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    call(bucket, action, request).await?;
    Ok(())
}

/// `call` for a read of one of the bucket's configurations: `None` where S3 says the bucket
/// has none (`absent`).
pub(super) async fn unless_absent<'a, T, E, R>(
    bucket: &Bucket<'a>,
    action: &'static str,
    absent: &str,
    request: impl FnOnce(&'a Client, &'a str) -> R,
) -> Result<Option<T>, AwsError>
where
    R: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match request(bucket.s3(), bucket.name()).await {
        Err(e) if e.code() == Some(absent) => Ok(None),
        other => other.op(action).map(Some),
    }
}

/// A request body the SDK refused to build: a required field left out, a bug here.
pub(super) fn built<T>(
    operation: &'static str,
    result: Result<T, BuildError>,
) -> Result<T, AwsError> {
    result.map_err(|e| AwsError::unexpected(operation, e.to_string()))
}
