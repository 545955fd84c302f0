//! Fork-join for pieces of work that take microseconds: a split matrix product, one block
//! range of an optimizer update.
//!
//! A general work-stealing pool puts idle workers to sleep within microseconds, and waking one
//! costs tens of microseconds on a virtual machine (measured here: a `rayon::join` of two
//! 10 µs tasks takes 33 µs from outside the pool and 40 µs inside it once the other worker
//! has slept; a training step at batch 64 makes nine such splits). This team instead keeps
//! its workers spinning for [`SPIN`] after each job, as OpenMP runtimes do, so that the many
//! short parallel regions of a training step start at once; after that they park and cost
//! nothing.
//!
//! One job runs at a time. A call made while the team is busy (from another thread, or from
//! inside a piece) runs its pieces on the calling thread, which is always correct and never
//! waits for the team.
//!
//! ```
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! let sum = AtomicUsize::new(0);
//! trainscope_par::for_each_piece(8, &|i| {
//!     sum.fetch_add(i, Ordering::Relaxed);
//! });
//! assert_eq!(sum.into_inner(), 28);
//! ```

#![warn(missing_docs)]

mod team;

pub use team::{for_each_part, for_each_piece, set_threads, threads, SPIN};
