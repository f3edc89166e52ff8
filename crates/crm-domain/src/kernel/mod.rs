//! The shared vocabulary every context speaks, and no business rule: typed ids,
//! the error type, paging, versions, money, the record a note or file hangs on,
//! the optimistic-retry budget, and the clock and id ports.

pub mod clock;
pub mod error;
pub mod ids;
pub mod money;
pub mod page;
pub mod record;
pub mod retry;
pub mod tag;
pub mod text;
pub mod url;
pub mod version;

pub use clock::*;
pub use error::*;
pub use ids::*;
pub use money::*;
pub use page::*;
pub use record::*;
pub use retry::*;
pub use text::*;
pub use url::*;
pub use version::*;
