//! Customer tiers: levels of service, their SLA policy and routing priority.

pub mod ports;
pub mod service;
pub mod tier;

pub use ports::*;
pub use service::*;
pub use tier::*;
