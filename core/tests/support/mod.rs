//! Shared helpers of the core's integration tests.
#![allow(dead_code)]

pub(crate) mod cluster;
pub(crate) mod decoders;
pub(crate) mod golden;
pub(crate) mod strategies;
