//! Search: finding contacts by whatever an agent has (part of a name, an
//! address, a phone written any way, a company), ranked, with what matched.

pub mod ports;
pub mod query;
pub mod rank;
pub mod service;

pub use ports::*;
pub use query::*;
pub use rank::*;
pub use service::*;
