//! The two SDK outcomes bootstrap reads in its own way: a configuration the bucket does not
//! have, and a request body the SDK refused to build.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::error::operation::BuildError;

use crate::aws::{AwsError, AwsResultExt};

/// The answer, or `None` where S3 says the bucket has no such configuration (`absent`).
pub(super) fn unless_absent<T, E>(
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
pub(super) fn built<T>(
    operation: &'static str,
    result: Result<T, BuildError>,
) -> Result<T, AwsError> {
    result.map_err(|e| AwsError::unexpected(operation, e.to_string()))
}
