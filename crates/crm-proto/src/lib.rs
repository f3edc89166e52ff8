//! Code generated from `proto/crm/v1` by prost and tonic, and nothing else.
//! Hand-written code lives in the adapters; this crate only re-exports.

#![allow(clippy::all, missing_docs)]

/// The `crm.v1` protobuf package.
pub mod crm {
    /// Version 1 of the public contract.
    pub mod v1 {
        tonic::include_proto!("crm.v1");
    }
}

pub use crm::v1;

/// The encoded `FileDescriptorSet` of every file in `proto/`, for reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/crm_descriptor.bin"));
