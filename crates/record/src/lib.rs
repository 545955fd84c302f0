//! # trainscope-record
//!
//! The run directory as every command sees it: which file holds what ([`files`]), the one
//! checkpoint a run directory stands for ([`files::checkpoint_of`]), the per-epoch metrics
//! schema ([`EpochMetrics`], declared only here) with its reader, the trajectory, and the
//! [`Stamp`] every analysis carries — the checkpoint (or configuration) it analysed, by content
//! hash — so that a report can tell a current result from one about weights that no longer
//! exist ([`Freshness`]).

#![warn(missing_docs)]

mod error;
pub mod files;
mod metrics;
mod stamp;
mod trajectory;

pub use error::{RecordError, Result};
pub use metrics::{parse_metrics, read_metrics, EpochMetrics, Named};
pub use stamp::{freshness_of, hash_file, nan_if_null, Freshness, Stamp, Subject};
pub use trajectory::{read_trajectory, Trajectory};
