//! Attachments: files on a contact or an organization, their records and blobs.

pub mod attachment;
pub mod ports;
pub mod service;

pub use attachment::*;
pub use ports::*;
pub use service::*;
