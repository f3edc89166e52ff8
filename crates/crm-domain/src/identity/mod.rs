//! Identity: the addresses a person is recognised by. Normalising an address
//! (`address`), the identity keys a contact holds (`key`), and which addresses a
//! sender names, in matching order (`matching`).

pub mod address;
pub mod domain;
pub mod key;
pub mod matching;
pub mod phone;

pub use address::*;
pub use domain::*;
pub use key::*;
pub use matching::*;
pub use phone::*;
