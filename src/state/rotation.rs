//! What state keeps of a credential rotation under way: which version it is bringing in and
//! how far it got, so that a run killed at any step is finished by the next one rather than
//! started again. Never the value: the version id is Secrets Manager's name for it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rotation {
    /// The new version's id, chosen before it is written (its `ClientRequestToken`), so that
    /// a repeated write is recognised as the same version.
    pub version_id: String,
    pub step: Step,
    pub started_at: DateTime<Utc>,
    /// When the service accepted the new value: the service may go on describing itself as
    /// before for a while after, so the wait for the change counts from here, across runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
    /// Redis: since when `AWSCURRENT` holds the new token while the old one is still
    /// accepted; the `SET` that retires the old one is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_pending_since: Option<DateTime<Utc>>,
}

/// The last step known to be done. Each is safe to repeat, so a run resumes at the one after.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Step {
    /// The version id is chosen; the value may or may not be in Secrets Manager yet.
    Begun,
    /// The new value is the secret's `AWSPENDING` version.
    Staged,
    /// The service was sent the new value (RDS: the master password; Redis: `ROTATE`).
    Sent,
    /// `AWSCURRENT` holds the new value and no version is `AWSPENDING`. Only a Redis rotation
    /// stops here, until its `SET`.
    Promoted,
}

impl Rotation {
    pub(crate) fn begin(version_id: String) -> Self {
        Self {
            version_id,
            step: Step::Begun,
            started_at: Utc::now(),
            sent_at: None,
            set_pending_since: None,
        }
    }
}
