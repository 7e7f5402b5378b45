//! Explains why the first call to AWS failed, in words a user can act on: AWS unreachable, no
//! credentials anywhere (and every place medtech looked), credentials that could not be
//! loaded, or credentials AWS rejected. Only ever reads the error and the local profile files.

use std::path::PathBuf;

use aws_config::imds::client::error::ImdsError;
use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::os_shim_internal::{Env, Fs};

use super::errors::{self, AwsError, ErrorKind, credentials_failure};
use crate::config::AwsTarget;

const OPERATION: &str = "sts:GetCallerIdentity";

/// AWS answered the first call with a 5xx or a throttle: it is reachable and the credentials
/// were not the problem, so the call deserves the retries every other call gets.
pub(super) fn answered_but_failed<E>(err: &SdkError<E, HttpResponse>) -> bool
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    matches!(err, SdkError::ServiceError(_) | SdkError::ResponseError(_))
        && AwsError::from_sdk(OPERATION, err).kind.is_retryable()
}

/// The first call (`sts:GetCallerIdentity`) failed: say what is wrong with the access to AWS,
/// rather than the SDK's nested error.
/// `undefined_profile` is the profile asked for when the profile files do not define it.
pub(super) fn access_error<E>(
    err: &SdkError<E, HttpResponse>,
    target: &AwsTarget,
    undefined_profile: Option<&str>,
) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let at = target
        .endpoint_url
        .as_deref()
        .map_or_else(String::new, |e| format!(" at {e}"));
    let (kind, detail) = match (err, undefined_profile) {
        // A refused, reset or half-answered connection (hyper files the last under "other");
        // the credentials chain's failures are dispatch failures too, and are told apart below.
        (SdkError::DispatchFailure(f), _)
            if f.is_io()
                || f.is_timeout()
                || (f.is_other() && credentials_failure(err).is_none()) =>
        {
            (
                ErrorKind::Transient,
                format!(
                    "cannot reach AWS{at} ({}); check --endpoint-url / AWS_ENDPOINT_URL, the network and any proxy",
                    errors::chain(
                        f.as_connector_error()
                            .map_or(err as &dyn std::error::Error, |c| c
                                as &dyn std::error::Error)
                    )
                ),
            )
        }
        (SdkError::TimeoutError(_), _) => (
            ErrorKind::Transient,
            format!(
                "AWS{at} did not answer in time; check --endpoint-url, the network and any proxy"
            ),
        ),
        (_, Some(profile)) => (
            ErrorKind::Credentials,
            format!(
                "profile {profile:?} is not defined in {} or {}; check --profile / AWS_PROFILE",
                profile_file("AWS_CONFIG_FILE", "config").display(),
                profile_file("AWS_SHARED_CREDENTIALS_FILE", "credentials").display()
            ),
        ),
        // Resolving credentials comes before sending: nothing reached AWS, so nothing was
        // rejected.
        (_, None) => match credentials_failure(err) {
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

/// The profile asked for (`--profile`, `AWS_PROFILE`) when the shared config and credentials
/// files do not define it, read as the SDK reads them (`AWS_CONFIG_FILE`,
/// `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws`); only ever to explain a failed first call.
pub(super) async fn undefined_profile(target: &AwsTarget) -> Option<String> {
    let profile = selected_profile(target)?;
    let defined = profile_defined(&Fs::real(), &Env::real(), &profile).await;
    (!defined).then_some(profile)
}

/// Files the SDK cannot parse may still hold the profile: they are not reported as lacking it
/// (the SDK's own error says what is wrong with them).
async fn profile_defined(fs: &Fs, env: &Env, profile: &str) -> bool {
    // The default files: the SDK's, from `AWS_CONFIG_FILE` and `AWS_SHARED_CREDENTIALS_FILE`.
    aws_config::profile::load(fs, env, &Default::default(), None)
        .await
        .map_or(true, |profiles| profiles.get_profile(profile).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "/home/u/.aws/config";
    const CREDENTIALS: &str = "/home/u/.aws/credentials";

    async fn defined(files: &[(&str, &str)], profile: &str) -> bool {
        let env = Env::from_slice(&[
            ("HOME", "/home/u"),
            ("AWS_CONFIG_FILE", CONFIG),
            ("AWS_SHARED_CREDENTIALS_FILE", CREDENTIALS),
        ]);
        profile_defined(&Fs::from_slice(files), &env, profile).await
    }

    #[tokio::test]
    async fn a_profile_is_defined_in_either_file_as_the_sdk_reads_them() {
        let config = "[default]\nregion = eu-west-1\n[profile  audit ]\nregion = us-east-1\n";
        let credentials = "[ci]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = x\n";
        let files = [(CONFIG, config), (CREDENTIALS, credentials)];
        for profile in ["default", "audit", "ci"] {
            assert!(defined(&files, profile).await, "{profile}");
        }
        // The config file names profiles `[profile NAME]`; a bare `[NAME]` there is not one.
        let bare = [(CONFIG, "[staging]\nregion = eu-west-1\n")];
        assert!(!defined(&bare, "staging").await);
        assert!(!defined(&files, "nosuch").await);
        assert!(!defined(&[], "default").await);
    }

    #[tokio::test]
    async fn the_files_named_by_the_environment_are_the_ones_read() {
        let elsewhere = [(
            "/home/u/.aws/other",
            "[profile audit]\nregion = us-east-1\n",
        )];
        assert!(!defined(&elsewhere, "audit").await);
        let env = Env::from_slice(&[
            ("HOME", "/home/u"),
            ("AWS_CONFIG_FILE", "/home/u/.aws/other"),
        ]);
        assert!(profile_defined(&Fs::from_slice(&elsewhere), &env, "audit").await);
    }
}
