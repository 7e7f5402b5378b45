//! `[redis]`: the ElastiCache replication group's version, nodes, snapshots and windows.

use serde::Deserialize;

use super::checks::{
    daily_window, is_version, major_version, no_overlap, prefixed, range, weekly_window,
};
use crate::config::ConfigError;

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Redis {
    pub engine_version: String,
    pub node_type: String,
    /// Primary plus replicas; automatic failover and Multi-AZ need at least two.
    pub num_cache_clusters: i32,
    pub snapshot_retention_days: i32,
    pub snapshot_window: String,
    pub maintenance_window: String,
}

impl Default for Redis {
    fn default() -> Self {
        Self {
            engine_version: "7.1".into(),
            node_type: "cache.t4g.medium".into(),
            num_cache_clusters: 2,
            snapshot_retention_days: 7,
            snapshot_window: "05:00-06:00".into(),
            maintenance_window: "sun:06:30-sun:07:30".into(),
        }
    }
}

impl Redis {
    pub(super) fn validate(&self, field: &dyn Fn(&str) -> String) -> Result<(), ConfigError> {
        if major_version(&self.engine_version) < 6 || !is_version(&self.engine_version) {
            return Err(ConfigError::new(
                field("redis.engine_version"),
                format!(
                    "{:?}: in-transit encryption with an AUTH token needs Redis 6 or later; use one like 7.1",
                    self.engine_version
                ),
            ));
        }
        prefixed(
            field("redis.node_type"),
            &self.node_type,
            "cache.",
            "cache.t4g.medium",
        )?;
        if self.num_cache_clusters < 2 {
            return Err(ConfigError::new(
                field("redis.num_cache_clusters"),
                format!(
                    "{} node(s): automatic failover and Multi-AZ need at least 2; set 2 to 6",
                    self.num_cache_clusters
                ),
            ));
        }
        range(
            field("redis.num_cache_clusters"),
            self.num_cache_clusters,
            2,
            6,
        )?;
        range(
            field("redis.snapshot_retention_days"),
            self.snapshot_retention_days,
            7,
            35,
        )?;
        let snapshot = daily_window(&field("redis.snapshot_window"), &self.snapshot_window)?;
        let maintenance =
            weekly_window(&field("redis.maintenance_window"), &self.maintenance_window)?;
        // ElastiCache's minimum, twice RDS's: a shorter window fails CreateReplicationGroup.
        if maintenance.1 < 60 {
            return Err(ConfigError::new(
                field("redis.maintenance_window"),
                format!(
                    "{} is shorter than the 60 minutes ElastiCache requires; make it at least an hour, like sun:06:30-sun:07:30",
                    self.maintenance_window
                ),
            ));
        }
        no_overlap(&field("redis.maintenance_window"), snapshot, maintenance)
    }
}
