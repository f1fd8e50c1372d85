//! Route handlers, one module per group.

pub(crate) mod admin;
pub(crate) mod analyze;
pub(crate) mod feedback;
pub(crate) mod health;
