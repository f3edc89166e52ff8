//! Custom fields: definitions per record type, typed values and their
//! validation, and the form layout (tabs and sections).

pub mod custom_field;
pub mod layout;
pub mod ports;
pub mod service;
pub mod sort_key;

pub use custom_field::*;
pub use ports::*;
pub use service::*;
