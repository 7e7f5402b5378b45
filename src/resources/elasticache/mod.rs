//! ElastiCache for Redis: the replication group and its subnet group.

pub(crate) mod replication_group;
pub(crate) mod subnet_group;
