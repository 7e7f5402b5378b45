//! IAM: the stack's roles, how they are found, and the permission documents of their policies.

mod find;
pub(crate) mod policies;
pub(crate) mod role;
pub(crate) mod roles;
