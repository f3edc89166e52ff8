//! Test support for the adapters' tests, behind the `testing` feature: the
//! contract suite of every repository port (`contract`). The mockall mocks
//! of the ports live beside each trait (`Mock*Repository`), switched on by
//! the same feature.
//!
//! Everything here is test code: a failed expectation panics, as a test
//! assertion does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod contract;

/// proptest, for the properties the contract suite drives through the
/// caller's runtime.
pub use proptest;
