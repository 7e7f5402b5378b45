//! ElastiCache for Redis: the replication group, its subnet group, and the tag calls by ARN
//! both need.

pub(crate) mod replication_group;
pub(crate) mod subnet_group;
pub(crate) mod tags;
