//! Merging duplicates: the merge plan, the list of contact children, finding
//! likely duplicates, the merge repository port and the merge use cases.

pub mod duplicates;
pub mod index;
pub mod planning;
pub mod ports;
pub mod service;
mod unite;

pub use planning::*;
pub use ports::*;
pub use service::*;
