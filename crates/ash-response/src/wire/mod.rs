//! Wire types. Field names and nesting are the contract; see the crate documentation.
//!
//! [`request`] is what clients send, [`response`] the answers to messages (and errors),
//! [`service`] what the service reports about itself.

mod request;
mod response;
mod service;

pub use request::*;
pub use response::*;
pub use service::*;
