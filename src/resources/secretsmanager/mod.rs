//! Secrets Manager: the generated credentials, and the database endpoint written into them.

pub(crate) mod secret;
pub(crate) mod secret_endpoint;
