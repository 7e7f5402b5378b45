//! Secrets Manager: the generated credentials, who may use them (`resource_policy`), the
//! database endpoint written into them, and `credential`, the value the RDS instance and the
//! Redis group are created with.

pub(crate) mod credential;
mod resource_policy;
pub(crate) mod secret;
pub(crate) mod secret_endpoint;
