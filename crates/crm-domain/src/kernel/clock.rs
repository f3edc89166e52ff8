//! Time and identity sources as ports, so use cases are deterministic under test.

use time::OffsetDateTime;
use uuid::Uuid;

/// The time source of use cases, so tests can fix it.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
pub trait Clock: Send + Sync {
    /// Now, in UTC, truncated to microseconds (what every database keeps).
    fn now(&self) -> OffsetDateTime;
}

/// The id source of use cases, so tests can fix it.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
pub trait IdGenerator: Send + Sync {
    /// A new UUIDv7.
    fn new_id(&self) -> Uuid;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        let now = OffsetDateTime::now_utc();
        now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000)
            .unwrap_or(now)
    }
}

/// UUIDv7 ids from the system clock and random bits.
#[derive(Debug, Default, Clone, Copy)]
pub struct UuidV7Ids;

impl IdGenerator for UuidV7Ids {
    fn new_id(&self) -> Uuid {
        Uuid::now_v7()
    }
}
