//! crosscast: the native host of the crosscast core.
pub mod adapter;
pub mod driver;
pub mod server;
