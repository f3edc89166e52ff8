//! Tenancy: the tenant, its settings (default region, shared addresses) and
//! its API keys.

pub mod caller;
pub mod ports;
pub mod service;
pub mod tenant;

pub use caller::*;
pub use ports::*;
pub use service::*;
pub use tenant::*;
