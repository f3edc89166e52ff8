//! Organizations: companies, their email domains and auto-linking.

pub mod organization;
pub mod ports;
pub mod service;

pub use organization::*;
pub use ports::*;
pub use service::*;
