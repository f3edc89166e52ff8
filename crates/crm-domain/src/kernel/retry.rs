//! The budget of every optimistic retry loop.

/// How often resolution re-reads after losing a race before giving up.
/// Each lost race means another writer created or claimed an address, so the
/// next read finds it; more than a couple in a row means heavy contention.
pub const RESOLVE_ATTEMPTS: usize = 5;
