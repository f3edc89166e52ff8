//! Segments: saved contact filters with a name, an owner and a visibility,
//! run on demand (a page of the contacts they select, or their count). A
//! segment stores its filter as text and types it again at every run, so a
//! custom field or tier deleted since says so (FAILED_PRECONDITION naming
//! it) instead of matching nothing.

pub mod ports;
pub mod segment;
pub mod service;

pub use ports::*;
pub use segment::*;
pub use service::*;
