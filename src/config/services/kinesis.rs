//! `[kinesis]`: the PHI event stream's shards and how long it keeps records.

use serde::Deserialize;

use super::checks::range;
use crate::config::ConfigError;

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Kinesis {
    pub shard_count: i32,
    pub retention_hours: i32,
}

impl Default for Kinesis {
    fn default() -> Self {
        Self {
            shard_count: 2,
            // A week: a consumer down over a long weekend can still replay every PHI event,
            // and Prowler's kinesis_stream_data_retention_period asks no less.
            retention_hours: 168,
        }
    }
}

impl Kinesis {
    pub(super) fn validate(&self, field: &dyn Fn(&str) -> String) -> Result<(), ConfigError> {
        range(field("kinesis.shard_count"), self.shard_count, 1, 500)?;
        range(
            field("kinesis.retention_hours"),
            self.retention_hours,
            24,
            8760,
        )
    }
}
