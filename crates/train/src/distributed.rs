//! Data-parallel training across processes: what the trainer asks of the other processes of a
//! run (a sum over all of them), answered by one process alone ([`Cluster::single`], the
//! default: every sum is the process's own value) or, with the cargo feature `mpi`, by MPI
//! (`mpirun -np N trainscope train …`, [`mpi::Mpi`]).
//!
//! Every process runs the same seeded session and draws the same global batches; process `r`
//! of `N` takes the contiguous part [`Cluster::part`] of each batch, weights its mean loss by
//! its share of the batch's rows (so the weighted parts sum to the batch's mean loss), and the
//! gradients are summed over the processes ([`Cluster::sum`]) before the same optimizer step is
//! taken everywhere. The MPI sum adds the processes' buffers in rank order (a reduction that
//! MPI may not reorder), so every process receives the same bits on every run.

use std::any::Any;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use trainscope_core::Element;

/// The collective operations of a group of processes that train one model together.
///
/// Every process must call the same operations in the same order with buffers of the same
/// length; each call returns when all have made it.
pub trait Collective: Send + Sync {
    /// This process's index, `0..size()`; process 0 writes the run directory and prints.
    fn rank(&self) -> usize;
    /// The number of processes.
    fn size(&self) -> usize;
    /// Replaces `buf` on every process by the element-wise sum of all processes' `buf`,
    /// added in rank order (the same bits on every process and every run).
    fn sum_f64(&self, buf: &mut [f64]);
    /// [`Collective::sum_f64`] for `f32` buffers.
    fn sum_f32(&self, buf: &mut [f32]);
    /// Ends every process of the group with exit code `code` (after an error on one of them,
    /// the others would otherwise wait for it forever).
    fn abort(&self, code: i32) -> !;
    /// What the sums have moved so far.
    fn traffic(&self) -> Traffic;
}

/// What the sums of a [`Collective`] have moved so far, counted on one process.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Traffic {
    /// Sums made.
    pub calls: u64,
    /// Bytes of the buffers summed (each process sends about this many, and receives as
    /// many).
    pub bytes: u64,
    /// Seconds spent inside the sums (waiting for the slowest process included).
    pub seconds: f64,
}

/// A sum over the processes of an `f64` buffer, in place (what the diagnostics' loss function
/// calls its `Reducer`).
pub type SumFn = Arc<dyn Fn(&mut [f64]) + Send + Sync>;

/// The processes a run is spread over: one process alone (the default) or a [`Collective`].
#[derive(Clone, Default)]
pub struct Cluster {
    group: Option<Arc<dyn Collective>>,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cluster(rank {} of {})", self.rank(), self.size())
    }
}

impl Cluster {
    /// One process alone: rank 0 of 1, every sum is the process's own value.
    pub fn single() -> Cluster {
        Cluster::default()
    }

    /// The processes of `group`.
    pub fn new(group: Arc<dyn Collective>) -> Cluster {
        Cluster { group: Some(group) }
    }

    /// This process's index.
    pub fn rank(&self) -> usize {
        self.group.as_ref().map_or(0, |g| g.rank())
    }

    /// The number of processes.
    pub fn size(&self) -> usize {
        self.group.as_ref().map_or(1, |g| g.size())
    }

    /// True on the process that writes and prints (rank 0).
    pub fn is_root(&self) -> bool {
        self.rank() == 0
    }

    /// True when more than one process shares the work.
    pub fn is_distributed(&self) -> bool {
        self.size() > 1
    }

    /// This process's contiguous part of `0..n`: rows `⌊r·n/N⌋..⌊(r+1)·n/N⌋`, so the parts of
    /// ranks `0..N` cover `0..n` in order and differ in length by at most one.
    ///
    /// ```
    /// use trainscope_train::distributed::Cluster;
    /// assert_eq!(Cluster::single().part(10), 0..10);
    /// ```
    pub fn part(&self, n: usize) -> Range<usize> {
        part(self.rank(), self.size(), n)
    }

    /// Element-wise sum of `buf` over the processes, in place (nothing to do alone).
    // A `Vec` rather than a slice: it can be downcast to the element type in safe code.
    #[allow(clippy::ptr_arg)]
    pub fn sum<T: Element>(&self, buf: &mut Vec<T>) {
        let Some(g) = &self.group else { return };
        let any: &mut dyn Any = buf;
        if let Some(b) = any.downcast_mut::<Vec<f64>>() {
            g.sum_f64(b);
        } else if let Some(b) = any.downcast_mut::<Vec<f32>>() {
            g.sum_f32(b);
        } else {
            unreachable!("Element is f32 or f64")
        }
    }

    /// [`Cluster::sum`] of an `f64` slice.
    pub fn sum_f64(&self, buf: &mut [f64]) {
        if let Some(g) = &self.group {
            g.sum_f64(buf);
        }
    }

    /// True on every process when `flag` is true on any.
    pub fn any(&self, flag: bool) -> bool {
        let mut v = [f64::from(u8::from(flag))];
        self.sum_f64(&mut v);
        v[0] > 0.0
    }

    /// A function that sums an `f64` buffer over the processes in place, for the full-data
    /// loss functions of the diagnostics (`trainscope_diag::LossFunction::distributed`).
    pub fn reducer(&self) -> Option<SumFn> {
        let g = Arc::clone(self.group.as_ref()?);
        Some(Arc::new(move |buf: &mut [f64]| g.sum_f64(buf)))
    }

    /// Ends every process with exit code `code` when distributed; returns when alone.
    pub fn abort_if_distributed(&self, code: i32) {
        if let Some(g) = self.group.as_ref().filter(|g| g.size() > 1) {
            g.abort(code);
        }
    }

    /// What the sums have moved so far (zero alone).
    pub fn traffic(&self) -> Traffic {
        self.group
            .as_ref()
            .map_or_else(Traffic::default, |g| g.traffic())
    }
}

/// Rank `r`'s part of `0..n` among `size` ranks (see [`Cluster::part`]).
pub fn part(r: usize, size: usize, n: usize) -> Range<usize> {
    let at = |r: usize| r * n / size.max(1);
    at(r)..at(r + 1)
}

/// MPI through the `mpi` crate (Open MPI): the world of the processes `mpirun` started.
#[cfg(feature = "mpi")]
pub mod mpi {
    use std::os::raw::{c_int, c_void};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use ::mpi::collective::UnsafeUserOperation;
    use ::mpi::environment::Universe;
    use ::mpi::ffi::MPI_Datatype;
    use ::mpi::topology::SimpleCommunicator;
    use ::mpi::traits::{Communicator, CommunicatorCollectives};
    use ::mpi::Threading;

    use super::{Collective, Traffic};

    /// The processes of `mpirun`'s world, summing with MPI_Allreduce.
    pub struct Mpi {
        // Declared before the universe: freed before MPI_Finalize (fields drop in order).
        sum64: UnsafeUserOperation,
        sum32: UnsafeUserOperation,
        world: SimpleCommunicator,
        /// Serializes the calls (MPI is initialized for one caller at a time).
        lock: Mutex<()>,
        calls: AtomicU64,
        bytes: AtomicU64,
        nanos: AtomicU64,
        rank: usize,
        size: usize,
        _universe: Universe,
    }

    // SAFETY: MPI is initialized with `Threading::Serialized` (or more) and every call into it
    // goes through `lock`, so no two threads are ever inside MPI at once; the handles
    // themselves are plain identifiers valid in every thread of the process.
    unsafe impl Send for Mpi {}
    unsafe impl Sync for Mpi {}

    /// True when the process was started by an MPI launcher (`mpirun`, `mpiexec`, `srun`).
    pub fn launched() -> bool {
        ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"]
            .iter()
            .any(|v| std::env::var_os(v).is_some())
    }

    /// `inout[i] = in[i] + inout[i]`: MPI passes the lower ranks' partial sum as `in`, so a
    /// reduction declared non-commutative adds in rank order (the addition of two numbers is
    /// commutative; the grouping of many is what the order fixes).
    unsafe extern "C" fn add_f64(
        invec: *mut c_void,
        inoutvec: *mut c_void,
        len: *mut c_int,
        _datatype: *mut MPI_Datatype,
    ) {
        let n = usize::try_from(*len).unwrap_or(0);
        let a = std::slice::from_raw_parts(invec as *const f64, n);
        let b = std::slice::from_raw_parts_mut(inoutvec as *mut f64, n);
        for (b, a) in b.iter_mut().zip(a) {
            *b += *a;
        }
    }

    /// [`add_f64`] for `f32`.
    unsafe extern "C" fn add_f32(
        invec: *mut c_void,
        inoutvec: *mut c_void,
        len: *mut c_int,
        _datatype: *mut MPI_Datatype,
    ) {
        let n = usize::try_from(*len).unwrap_or(0);
        let a = std::slice::from_raw_parts(invec as *const f32, n);
        let b = std::slice::from_raw_parts_mut(inoutvec as *mut f32, n);
        for (b, a) in b.iter_mut().zip(a) {
            *b += *a;
        }
    }

    impl Mpi {
        /// Initializes MPI; `None` when it was initialized already or cannot give the
        /// thread support the sums need.
        pub fn init() -> Option<Arc<Mpi>> {
            let (universe, threading) = ::mpi::initialize_with_threading(Threading::Serialized)?;
            if threading < Threading::Serialized {
                return None;
            }
            let world = universe.world();
            let (rank, size) = (world.rank() as usize, world.size() as usize);
            // SAFETY: the functions read and write `len` elements of the buffers MPI hands
            // them, of the type the sums are called with (f64 for `sum64`, f32 for `sum32`),
            // and cannot panic.
            let (sum64, sum32) = unsafe {
                (
                    UnsafeUserOperation::associative(add_f64),
                    UnsafeUserOperation::associative(add_f32),
                )
            };
            Some(Arc::new(Mpi {
                sum64,
                sum32,
                world,
                lock: Mutex::new(()),
                calls: AtomicU64::new(0),
                bytes: AtomicU64::new(0),
                nanos: AtomicU64::new(0),
                rank,
                size,
                _universe: universe,
            }))
        }

        fn count(&self, bytes: usize, started: Instant) {
            self.calls.fetch_add(1, Ordering::Relaxed);
            self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
            self.nanos
                .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        }
    }

    impl Collective for Mpi {
        fn rank(&self) -> usize {
            self.rank
        }

        fn size(&self) -> usize {
            self.size
        }

        fn sum_f64(&self, buf: &mut [f64]) {
            let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            let started = Instant::now();
            let send = buf.to_vec();
            self.world.all_reduce_into(&send[..], buf, &self.sum64);
            self.count(std::mem::size_of_val(buf), started);
        }

        fn sum_f32(&self, buf: &mut [f32]) {
            let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            let started = Instant::now();
            let send = buf.to_vec();
            self.world.all_reduce_into(&send[..], buf, &self.sum32);
            self.count(std::mem::size_of_val(buf), started);
        }

        fn abort(&self, code: i32) -> ! {
            self.world.abort(code)
        }

        fn traffic(&self) -> Traffic {
            Traffic {
                calls: self.calls.load(Ordering::Relaxed),
                bytes: self.bytes.load(Ordering::Relaxed),
                seconds: self.nanos.load(Ordering::Relaxed) as f64 * 1e-9,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parts_cover_the_batch_in_order_and_differ_by_at_most_one() {
        for size in 1..=5 {
            for n in 0..=13 {
                let parts: Vec<Range<usize>> = (0..size).map(|r| part(r, size, n)).collect();
                assert_eq!(parts[0].start, 0, "{size} {n}");
                assert_eq!(parts[size - 1].end, n, "{size} {n}");
                for w in parts.windows(2) {
                    assert_eq!(w[0].end, w[1].start, "{size} {n}");
                }
                let lens: Vec<usize> = parts.iter().map(|p| p.len()).collect();
                let (lo, hi) = (lens.iter().min().unwrap(), lens.iter().max().unwrap());
                assert!(hi - lo <= 1, "{size} {n}: {lens:?}");
            }
        }
    }

    #[test]
    fn alone_every_sum_is_the_own_value() {
        let c = Cluster::single();
        let mut v = vec![1.5f32, -2.0];
        c.sum(&mut v);
        assert_eq!(v, [1.5, -2.0]);
        assert!(c.any(true) && !c.any(false));
        assert_eq!((c.rank(), c.size(), c.is_root()), (0, 1, true));
        assert!(c.reducer().is_none());
    }
}
