//! `bridgectl`: the support engineer's command line and the local stack.

pub mod catalog;
pub mod cli;
pub mod demo;
pub mod dev;
pub mod dlq;
pub mod edi;
pub mod freshness;
pub mod orders;
pub mod postings;
pub mod read;
pub mod replay;
pub mod shop;
pub mod stackfile;
pub mod streams;
pub mod sync;
