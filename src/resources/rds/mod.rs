//! RDS for PostgreSQL: the instance, its parameter and subnet groups, the engine version it
//! runs, its event notifications, and the tag reads the RDS API needs.

pub(crate) mod engine;
pub(crate) mod event_subscription;
pub(crate) mod instance;
pub(crate) mod parameter_group;
pub(crate) mod subnet_group;
pub(crate) mod tags;
