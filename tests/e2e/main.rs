//! End-to-end tests: the real server on an ephemeral port over a fresh
//! database, driven through the generated tonic clients exactly as a caller
//! would. One test binary, so linking stays fast.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attachments;
mod auth;
mod concurrency;
mod contacts;
mod conversations;
mod custom_fields;
mod export;
mod filters;
mod fixtures;
mod harness;
mod identities;
mod imports;
mod isolation;
mod merges;
mod notes;
mod organizations;
mod outage;
mod resolve;
mod search;
mod segments;
mod service;
mod shared_addresses;
mod tags;
mod tenants;
mod tiers;
