//! crosscast: the native host of the crosscast core.
pub mod driver;
