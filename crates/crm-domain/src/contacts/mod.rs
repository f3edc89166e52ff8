//! Contacts: the contact and its fields, tags, filters, update planning, sender
//! resolution's decision, the contact repository port and the contact use cases
//! (resolve included).

pub mod contact;
pub mod custom_filter;
pub mod filter;
pub mod order;
pub mod ports;
pub mod resolve;
pub mod service;
pub mod update;

pub use contact::*;
pub use filter::*;
pub use order::*;
pub use ports::*;
pub use resolve::*;
pub use service::*;
pub use update::*;
