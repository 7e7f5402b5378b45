//! IAM: the stack's roles and the permission documents of their policies.

pub(crate) mod policies;
pub(crate) mod role;
pub(crate) mod roles;
