//! Notes on a contact or an organization.

pub mod note;
pub mod ports;
pub mod service;

pub use note::*;
pub use ports::*;
pub use service::*;
