//! Explains why the first call to AWS failed, in words a user can act on: AWS unreachable, no
//! credentials anywhere (and every place medtech looked), credentials that could not be
//! loaded, or credentials AWS rejected. Only ever reads the error and the local profile files.

use std::path::PathBuf;

use aws_config::imds::client::error::ImdsError;
use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::errors::{self, AwsError, ErrorKind, credentials_failure};
use crate::config::AwsTarget;

const OPERATION: &str = "sts:GetCallerIdentity";

/// The first call (`sts:GetCallerIdentity`) failed: say what is wrong with the access to AWS,
/// rather than the SDK's nested error.
pub(super) fn access_error<E>(err: &SdkError<E, HttpResponse>, target: &AwsTarget) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let at = target
        .endpoint_url
        .as_deref()
        .map_or_else(String::new, |e| format!(" at {e}"));
    let (kind, detail) = match err {
        SdkError::DispatchFailure(f) if f.is_io() || f.is_timeout() => (
            ErrorKind::Transient,
            format!(
                "cannot reach AWS{at} ({}); check --endpoint-url / AWS_ENDPOINT_URL, the network and any proxy",
                errors::chain(
                    f.as_connector_error()
                        .map_or(err as &dyn std::error::Error, |c| c
                            as &dyn std::error::Error)
                )
            ),
        ),
        SdkError::TimeoutError(_) => (
            ErrorKind::Transient,
            format!(
                "AWS{at} did not answer in time; check --endpoint-url, the network and any proxy"
            ),
        ),
        _ if selected_profile(target).is_some_and(|p| !profile_defined(&p)) => (
            ErrorKind::Credentials,
            format!(
                "profile {:?} is not defined in {} or {}; check --profile / AWS_PROFILE",
                selected_profile(target).unwrap_or_default(),
                profile_file("AWS_CONFIG_FILE", "config").display(),
                profile_file("AWS_SHARED_CREDENTIALS_FILE", "credentials").display()
            ),
        ),
        // Resolving credentials comes before sending: nothing reached AWS, so nothing was
        // rejected.
        _ => match credentials_failure(err) {
            Some(cause) if none_found(cause) => {
                (ErrorKind::Credentials, no_credentials(target, cause))
            }
            Some(cause) => (
                ErrorKind::Credentials,
                format!(
                    "could not load AWS credentials ({}); fix the source it names, or run `aws sso login` if the SSO session expired",
                    errors::chain(cause)
                ),
            ),
            None => {
                let mapped = AwsError::from_sdk(OPERATION, err);
                if mapped.kind != ErrorKind::Credentials {
                    return mapped;
                }
                (
                    ErrorKind::Credentials,
                    format!(
                        "AWS rejected the credentials ({}); check the access key, or refresh the session (`aws sso login`)",
                        mapped.code.as_deref().unwrap_or("unauthorized")
                    ),
                )
            }
        },
    };
    AwsError {
        operation: OPERATION,
        kind,
        code: None,
        detail,
    }
}

/// Every source of the default chain came up empty. The instance metadata endpoint is its last
/// place: one that refuses or fails means there is no instance role, not a broken one.
fn none_found(cause: &CredentialsError) -> bool {
    match cause {
        CredentialsError::CredentialsNotLoaded(_) => true,
        CredentialsError::ProviderError(_) => imds_answer(cause).is_some(),
        _ => false,
    }
}

/// What the instance metadata endpoint answered, if its failure is what ended the chain.
fn imds_answer(cause: &CredentialsError) -> Option<String> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(cause);
    while let Some(e) = next {
        if let Some(imds) = e.downcast_ref::<ImdsError>() {
            return Some(errors::chain(imds).trim_end_matches('.').to_owned());
        }
        next = e.source();
    }
    None
}

/// Where the default chain looks, in its order, with the names a user sets to fill each place.
fn no_credentials(target: &AwsTarget, cause: &CredentialsError) -> String {
    let profile = selected_profile(target).unwrap_or_else(|| "default".into());
    let imds = if std::env::var("AWS_EC2_METADATA_DISABLED")
        .is_ok_and(|v| v.eq_ignore_ascii_case("true"))
    {
        "disabled by AWS_EC2_METADATA_DISABLED".to_owned()
    } else {
        imds_answer(cause).map_or_else(
            || "no instance role".to_owned(),
            |a| format!("it answered: {a}"),
        )
    };
    format!(
        "no AWS credentials found; medtech looked in: the environment variables \
         AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; profile {profile:?} of the shared config and \
         credentials files ({}, {}): keys, SSO, credential_process, role; the web-identity \
         token (AWS_WEB_IDENTITY_TOKEN_FILE); the container credentials endpoint \
         (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/AWS_CONTAINER_CREDENTIALS_FULL_URI); the \
         instance metadata endpoint ({imds}); export AWS_ACCESS_KEY_ID and \
         AWS_SECRET_ACCESS_KEY, set AWS_PROFILE (or --profile) to a configured profile, or run \
         `aws sso login`",
        profile_file("AWS_CONFIG_FILE", "config").display(),
        profile_file("AWS_SHARED_CREDENTIALS_FILE", "credentials").display(),
    )
}

fn selected_profile(target: &AwsTarget) -> Option<String> {
    target
        .profile
        .clone()
        .or_else(|| std::env::var("AWS_PROFILE").ok())
        .filter(|p| !p.is_empty())
}

fn profile_file(var: &str, name: &str) -> PathBuf {
    std::env::var_os(var).map_or_else(
        || {
            let home = std::env::var_os("HOME").unwrap_or_default();
            std::path::Path::new(&home).join(".aws").join(name)
        },
        PathBuf::from,
    )
}

/// Whether a section for `profile` exists in the shared config or credentials file
/// (`[profile NAME]` / `[NAME]`), read only to explain a credentials failure.
fn profile_defined(profile: &str) -> bool {
    let headers = [format!("[profile {profile}]"), format!("[{profile}]")];
    ["AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"]
        .iter()
        .zip(["config", "credentials"])
        .filter_map(|(var, name)| std::fs::read_to_string(profile_file(var, name)).ok())
        .any(|text| {
            text.lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .any(|l| headers.contains(&l))
        })
}
