//! Routing: ordering contacts and senders for a queue by their tier, so
//! higher tiers are served first.

pub mod order;
pub mod service;

pub use order::*;
pub use service::*;
