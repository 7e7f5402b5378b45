//! The six CloudWatch alarms of the stack, each notifying the encrypted topic both when it
//! fires and when its data goes missing where that is an incident (a silent database is one;
//! an idle stream is not). Dimensions are the deterministic resource names, so alarms need
//! only the topic to exist, not the resources they watch.
//!
//! ElastiCache reports per member cache cluster, and a failover swaps which member is
//! primary, so the Redis alarms watch every member through metric math (`MAX` over one query
//! per member) instead of pinning a role to a member id. Their read-back also checks the
//! members the replication group has now, with their roles, against the ones watched.

mod alarm;
mod members;
mod spec;

pub(crate) use alarm::Alarm;
