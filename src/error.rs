//! The library's error type and the documented exit codes it maps to.

use crate::aws::{AwsError, ConnectError, ErrorKind};
use crate::config::ConfigError;
use crate::state::StateError;
use crate::state::bootstrap::BootstrapError;

/// Exit codes, as documented in `--help` and README.
pub mod exit {
    pub const OK: u8 = 0;
    /// An AWS operation or a check failed.
    pub const FAILED: u8 = 1;
    /// Invalid input: nothing was changed.
    pub const INVALID_INPUT: u8 = 2;
    /// The state file is locked by another run, or unusable.
    pub const STATE: u8 = 3;
    /// AWS unreachable, credentials missing or rejected, or a call their IAM policy denies.
    pub const AWS_ACCESS: u8 = 4;
    /// Interrupted (Ctrl-C); state was saved.
    pub const INTERRUPTED: u8 = 130;

    /// The code's name in JSON error documents (`error.kind`).
    pub fn kind(code: u8) -> &'static str {
        match code {
            OK => "ok",
            INVALID_INPUT => "invalid_input",
            STATE => "state",
            AWS_ACCESS => "aws_access",
            INTERRUPTED => "interrupted",
            _ => "failed",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid input: {0}")]
    Config(#[from] ConfigError),
    #[error("state: {0}")]
    State(#[from] StateError),
    #[error("AWS: {0}")]
    Aws(#[from] AwsError),
    #[error("{resource}: {message}")]
    Resource { resource: String, message: String },
    #[error(
        "{resource}: found {} {kind}s tagged as this one ({}); delete the extra ones so that exactly one remains",
        ids.len(),
        ids.join(", ")
    )]
    Duplicates {
        resource: String,
        kind: String,
        ids: Vec<String>,
    },
    #[error(
        "{failed} of {total} steps failed; see the errors above, fix them and run the command again"
    )]
    StepsFailed { failed: usize, total: usize },
    /// Steps failed because the identity's IAM policy denies calls they need; each step's own
    /// error was reported above.
    #[error(
        "access denied: the identity running medtech may not call {}; allow {} in its IAM policy ({} lists every action medtech needs)",
        actions.join(", "),
        if actions.len() == 1 { "it" } else { "them" },
        crate::aws::POLICY_DOC
    )]
    AccessDenied { actions: Vec<&'static str> },
    #[error("{0}")]
    Confirmation(String),
    #[error("interrupted; state is saved, run the same command again to resume")]
    Interrupted,
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl From<BootstrapError> for Error {
    fn from(e: BootstrapError) -> Self {
        match e {
            BootstrapError::Refused(e) => Self::Config(e),
            BootstrapError::Failed(e) => Self::State(e),
        }
    }
}

impl From<ConnectError> for Error {
    fn from(e: ConnectError) -> Self {
        match e {
            ConnectError::Config(e) => Self::Config(e),
            ConnectError::Aws(e) => Self::Aws(e),
        }
    }
}

impl Error {
    pub fn resource(resource: impl std::fmt::Display, message: impl Into<String>) -> Self {
        Self::Resource {
            resource: resource.to_string(),
            message: message.into(),
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Config(_) | Self::Confirmation(_) => exit::INVALID_INPUT,
            Self::State(StateError::Unfit { .. }) => exit::INVALID_INPUT,
            Self::State(StateError::Aws { source, .. } | StateError::Bootstrap { source, .. })
                if is_access_problem(source) =>
            {
                exit::AWS_ACCESS
            }
            Self::State(_) => exit::STATE,
            Self::Aws(e) if is_access_problem(e) => exit::AWS_ACCESS,
            Self::AccessDenied { .. } => exit::AWS_ACCESS,
            Self::Interrupted => exit::INTERRUPTED,
            Self::Aws(_)
            | Self::Resource { .. }
            | Self::Duplicates { .. }
            | Self::StepsFailed { .. }
            | Self::Io { .. } => exit::FAILED,
        }
    }

    /// The IAM action behind a refusal, if this error is one.
    pub fn denied_action(&self) -> Option<&'static str> {
        match self {
            Self::Aws(e) if e.kind == ErrorKind::AccessDenied => Some(e.operation),
            _ => None,
        }
    }

    /// Failed steps that a missing permission explains become one error naming every denied
    /// action, so that a run stops with the access exit code rather than a generic failure.
    pub fn from_denied_steps<'a>(failures: impl Iterator<Item = &'a Error>) -> Option<Self> {
        let mut actions: Vec<&'static str> = failures.filter_map(Self::denied_action).collect();
        actions.sort_unstable();
        actions.dedup();
        (!actions.is_empty()).then_some(Self::AccessDenied { actions })
    }

    /// The AWS error kind behind this error, if any; the engine retries on some kinds.
    pub fn aws_kind(&self) -> Option<ErrorKind> {
        match self {
            Self::Aws(e) => Some(e.kind),
            _ => None,
        }
    }
}

fn is_access_problem(e: &AwsError) -> bool {
    matches!(e.kind, ErrorKind::Credentials | ErrorKind::AccessDenied)
        || (e.kind == ErrorKind::Transient && e.operation == "sts:GetCallerIdentity")
}
