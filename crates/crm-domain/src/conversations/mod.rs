//! Conversations: a contact's history and the engagement figures derived from it.

pub mod conversation;
pub mod ports;
pub mod service;

pub use conversation::*;
pub use ports::*;
pub use service::*;
