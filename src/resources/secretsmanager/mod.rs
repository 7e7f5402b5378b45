//! Secrets Manager: the generated credentials, the database endpoint written into them, and
//! `credential`, the value the RDS instance and the Redis group are created with.

pub(crate) mod credential;
pub(crate) mod secret;
pub(crate) mod secret_endpoint;
