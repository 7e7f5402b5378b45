//! Classifies SDK errors into the few kinds the engine and the resource modules act on, by the
//! error code AWS returns (never by matching message text), and keeps the rest for the report.

use std::fmt;

use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::policy_docs::policy_doc;

/// A field AWS always sends for an operation (an id, an ARN, a status): its absence is an
/// error naming both, never an empty value recorded in state or sent back to AWS.
pub(crate) trait Required<T> {
    fn required(self, operation: &'static str, field: &str) -> Result<T, AwsError>;
}

impl<T> Required<T> for Option<T> {
    fn required(self, operation: &'static str, field: &str) -> Result<T, AwsError> {
        self.ok_or_else(|| AwsError::missing(operation, field))
    }
}

/// What an error means for the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The thing asked for does not exist (or no longer does).
    NotFound,
    /// A create met an existing resource of that name.
    AlreadyExists,
    /// Something still uses the resource; retry the delete later.
    DependencyViolation,
    /// AWS asked us to slow down; the request was not applied.
    Throttled,
    /// The resource is in a state that does not allow the call yet.
    NotReadyYet,
    /// A 5xx, a timeout or a broken connection: the call may or may not have been applied.
    Transient,
    /// No credentials, or AWS rejected them.
    Credentials,
    /// The credentials are valid but their IAM policy does not allow the call.
    AccessDenied,
    /// Anything else: a real failure to report.
    Other,
}

impl ErrorKind {
    /// Kinds worth another attempt after a pause.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            Self::Throttled | Self::Transient | Self::NotReadyYet | Self::DependencyViolation
        )
    }
}

/// An AWS call that failed: which operation, what kind of failure, and AWS's own words.
#[derive(Clone, Debug, thiserror::Error)]
pub struct AwsError {
    pub operation: &'static str,
    pub kind: ErrorKind,
    pub code: Option<String>,
    pub detail: String,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.render(f, policy_doc(self.operation))
    }
}

/// An error shown with the policy document of a command that needs its own (`state
/// bootstrap`, an admin's job, whose S3 and KMS actions the runner's documents also list).
pub(crate) struct UnderPolicy<'a>(pub &'a AwsError, pub &'static str);

impl fmt::Display for UnderPolicy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.render(f, self.1)
    }
}

impl AwsError {
    fn render(&self, f: &mut fmt::Formatter<'_>, doc: &str) -> fmt::Result {
        if self.kind == ErrorKind::AccessDenied {
            // The operation is the IAM action: say it plainly, so that the fix is one line in
            // a policy, whatever protocol or message the service used.
            write!(
                f,
                "{op}: access denied: the identity running medtech may not call {op}; allow it in \
                 its IAM policy ({doc} lists every action medtech needs) [AWS: {}]",
                self.detail,
                op = self.operation,
            )
        } else {
            write!(f, "{}: {}", self.operation, self.detail)
        }
    }
}

impl AwsError {
    /// An error raised by medtech itself about AWS's answer (e.g. a missing field).
    pub fn unexpected(operation: &'static str, detail: impl Into<String>) -> Self {
        Self {
            operation,
            kind: ErrorKind::Other,
            code: None,
            detail: detail.into(),
        }
    }

    /// AWS answered without a field it always sends for `operation` (an id, an ARN, a
    /// status): medtech stops rather than record or send an empty value in its place.
    pub fn missing(operation: &'static str, field: &str) -> Self {
        Self::unexpected(
            operation,
            format!(
                "the answer has no {field}, which AWS always sends; run the command again, and if \
                 this persists check that --endpoint-url points at AWS or a complete emulator"
            ),
        )
    }

    pub fn is(&self, kind: ErrorKind) -> bool {
        self.kind == kind
    }

    pub(super) fn from_sdk<E>(operation: &'static str, err: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match err {
            SdkError::ServiceError(ctx) => {
                let code = ctx.err().code().map(str::to_owned);
                let status = ctx.raw().status().as_u16();
                let kind = classify(code.as_deref(), status);
                let message = ctx.err().message().unwrap_or("no message");
                // EC2 appends a kilobyte of encoded policy-evaluation detail, which only
                // `sts decode-authorization-message` can read: keep the words before it.
                let message = message
                    .split(" Encoded authorization failure message")
                    .next()
                    .unwrap_or(message);
                let detail = match &code {
                    Some(code) => format!("{code}: {message}"),
                    None => format!("HTTP {status}: {message}"),
                };
                Self {
                    operation,
                    kind,
                    code,
                    detail,
                }
            }
            // A refusal the SDK could not parse (a JSON-protocol service answering with an XML
            // body, as some proxies and emulators do) is still a refusal: its status says so.
            SdkError::ResponseError(response) if response.raw().status().as_u16() == 403 => Self {
                operation,
                kind: ErrorKind::AccessDenied,
                code: None,
                detail: "HTTP 403 with an unreadable body".into(),
            },
            SdkError::TimeoutError(_) | SdkError::ResponseError(_) => Self {
                operation,
                kind: ErrorKind::Transient,
                code: None,
                detail: chain(err),
            },
            SdkError::DispatchFailure(failure) => {
                let detail = chain(err);
                let kind = if failure.is_io() || failure.is_timeout() {
                    ErrorKind::Transient
                } else if credentials_failure(err).is_some() {
                    ErrorKind::Credentials
                } else {
                    ErrorKind::Other
                };
                Self {
                    operation,
                    kind,
                    code: None,
                    detail,
                }
            }
            _ => Self {
                operation,
                kind: ErrorKind::Other,
                code: None,
                detail: chain(err),
            },
        }
    }
}

/// The credentials chain's own error, if resolving credentials is what failed: that happens
/// before a request is sent, so AWS has neither seen nor rejected anything.
pub(super) fn credentials_failure<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a CredentialsError> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(cause) = e.downcast_ref::<CredentialsError>() {
            return Some(cause);
        }
        next = e.source();
    }
    None
}

/// An error and its sources, each once, on one line: the SDK nests the same message at
/// several levels, and a Debug dump is no message for a person.
pub(super) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ").replace('\n', " ")
}

/// Maps AWS error codes (which differ per service for the same meaning) onto `ErrorKind`.
pub(crate) fn classify(code: Option<&str>, status: u16) -> ErrorKind {
    let Some(code) = code else {
        return if status == 403 {
            ErrorKind::AccessDenied
        } else if status >= 500 {
            ErrorKind::Transient
        } else if status == 429 {
            ErrorKind::Throttled
        } else {
            ErrorKind::Other
        };
    };
    match code {
        "Throttling"
        | "ThrottlingException"
        | "ThrottledException"
        | "RequestLimitExceeded"
        | "RequestThrottled"
        | "RequestThrottledException"
        | "TooManyRequestsException"
        | "SlowDown"
        | "PriorRequestNotComplete" => ErrorKind::Throttled,
        "InternalError"
        | "InternalFailure"
        | "InternalServerError"
        | "InternalServiceError"
        | "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "Unavailable" => ErrorKind::Transient,
        "InvalidClientTokenId"
        | "UnrecognizedClientException"
        | "AuthFailure"
        | "SignatureDoesNotMatch"
        | "ExpiredToken"
        | "ExpiredTokenException"
        | "InvalidAccessKeyId"
        | "MissingAuthenticationToken" => ErrorKind::Credentials,
        // One meaning, a code per protocol: query services, JSON services, EC2, SNS.
        "AccessDenied"
        | "AccessDeniedException"
        | "UnauthorizedOperation"
        | "AuthorizationError"
        | "AccessDeniedFault" => ErrorKind::AccessDenied,
        "DependencyViolation"
        | "InvalidDBSubnetGroupStateFault"
        | "InvalidDBParameterGroupState"
        | "CacheSubnetGroupInUse"
        | "InvalidIPAddress.InUse"
        | "DeleteConflict"
        | "InvalidCacheSecurityGroupState" => ErrorKind::DependencyViolation,
        "IncorrectState"
        | "IncorrectInstanceState"
        | "InvalidDBInstanceState"
        | "InvalidDBInstanceStateFault"
        | "InvalidReplicationGroupState"
        | "InvalidReplicationGroupStateFault"
        | "ResourceInUseException"
        | "InvalidStateException"
        | "ConcurrentModificationException"
        | "OperationAbortedException" => ErrorKind::NotReadyYet,
        "InvalidPermission.Duplicate"
        | "Resource.AlreadyAssociated"
        | "EntityAlreadyExists"
        | "ResourceExistsException"
        | "ResourceAlreadyExistsException"
        | "AlreadyExistsException"
        | "InvalidGroup.Duplicate" => ErrorKind::AlreadyExists,
        c if c.ends_with("AlreadyExists") || c.ends_with("AlreadyExistsFault") => {
            ErrorKind::AlreadyExists
        }
        "InvalidPermission.NotFound" | "NoSuchEntity" | "Gateway.NotAttached" => {
            ErrorKind::NotFound
        }
        c if c.ends_with(".NotFound")
            || c.ends_with("NotFound")
            || c.ends_with("NotFoundFault")
            || c.ends_with("NotFoundException") =>
        {
            ErrorKind::NotFound
        }
        _ if status >= 500 => ErrorKind::Transient,
        _ => ErrorKind::Other,
    }
}

/// Turns an SDK result into one carrying an `AwsError` that names the operation.
pub(crate) trait AwsResultExt<T> {
    fn op(self, operation: &'static str) -> Result<T, AwsError>;
}

impl<T, E> AwsResultExt<T> for Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    fn op(self, operation: &'static str) -> Result<T, AwsError> {
        self.map_err(|e| AwsError::from_sdk(operation, &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_field_is_an_error_naming_the_operation_and_the_field() {
        let absent: Option<&str> = None;
        let text = absent
            .required("ec2:DescribeVpcs", "VpcId")
            .unwrap_err()
            .to_string();
        assert!(text.contains("ec2:DescribeVpcs"), "{text}");
        assert!(text.contains("VpcId"), "{text}");
        assert_eq!(
            Some("vpc-1").required("ec2:DescribeVpcs", "VpcId").ok(),
            Some("vpc-1")
        );
    }

    #[test]
    fn codes_map_to_kinds() {
        let cases = [
            ("InvalidVpcID.NotFound", 400, ErrorKind::NotFound),
            ("DBInstanceNotFound", 404, ErrorKind::NotFound),
            ("ReplicationGroupNotFoundFault", 404, ErrorKind::NotFound),
            ("ResourceNotFoundException", 400, ErrorKind::NotFound),
            ("DBSubnetGroupAlreadyExists", 400, ErrorKind::AlreadyExists),
            ("InvalidPermission.Duplicate", 400, ErrorKind::AlreadyExists),
            ("DependencyViolation", 400, ErrorKind::DependencyViolation),
            ("CacheSubnetGroupInUse", 400, ErrorKind::DependencyViolation),
            ("RequestLimitExceeded", 503, ErrorKind::Throttled),
            ("ThrottlingException", 400, ErrorKind::Throttled),
            ("InvalidDBInstanceState", 400, ErrorKind::NotReadyYet),
            ("AuthFailure", 401, ErrorKind::Credentials),
            ("SomethingNew", 503, ErrorKind::Transient),
            ("InvalidParameterValue", 400, ErrorKind::Other),
            ("AccessDenied", 403, ErrorKind::AccessDenied),
            ("AccessDeniedException", 400, ErrorKind::AccessDenied),
            ("UnauthorizedOperation", 403, ErrorKind::AccessDenied),
            ("AuthorizationError", 403, ErrorKind::AccessDenied),
            ("SignatureDoesNotMatch", 403, ErrorKind::Credentials),
            ("InvalidClientTokenId", 403, ErrorKind::Credentials),
        ];
        for (code, status, kind) in cases {
            assert_eq!(classify(Some(code), status), kind, "{code}");
        }
        assert_eq!(classify(None, 500), ErrorKind::Transient);
        assert_eq!(classify(None, 429), ErrorKind::Throttled);
        assert_eq!(classify(None, 403), ErrorKind::AccessDenied);
    }

    #[test]
    fn a_missing_field_names_the_operation_and_the_field() {
        let text = AwsError::missing("ec2:DescribeVpcs", "VpcId").to_string();
        assert!(text.starts_with("ec2:DescribeVpcs: "), "{text}");
        assert!(text.contains("no VpcId"), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }

    #[test]
    fn a_denied_call_names_its_action_and_the_policy_that_grants_it() {
        let cases = [
            (
                "kms:CreateKey",
                "AccessDeniedException: User: arn:aws:iam::1:user/ci is not authorized",
                "docs/iam-policy.json",
            ),
            (
                "guardduty:ListDetectors",
                "AccessDeniedException: not authorized",
                "docs/iam-policy-account.json",
            ),
        ];
        for (operation, detail, policy) in cases {
            let text = AwsError {
                operation,
                kind: ErrorKind::AccessDenied,
                code: Some("AccessDeniedException".into()),
                detail: detail.into(),
            }
            .to_string();
            assert!(
                text.contains(&format!("may not call {operation}")),
                "{text}"
            );
            assert!(text.contains(policy), "{text}");
            assert!(!text.contains('\n'), "{text}");
        }
    }
}
