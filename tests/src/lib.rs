//! Shared helpers of the cross-crate tests: the byte-exact vectors produced by
//! the real Node packages, and conversions to their documented decoded form.

pub mod redis_server;
pub mod sim;
pub mod vectors;
