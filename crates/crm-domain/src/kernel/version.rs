//! Record versions. Every mutable record carries a version that each write
//! bumps; callers send it back (as an etag, whose text the gRPC adapter owns)
//! so nothing is overwritten unseen. The domain compares versions only.

/// The version of a record: 1 when created, bumped by every write.
pub type Version = i64;
