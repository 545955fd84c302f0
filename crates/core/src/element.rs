//! The element types a tensor can hold (f32 and f64), behind one trait so every op has a
//! single generic implementation.

use crate::storage::Pool;
use faer::{Accum, MatMut, MatRef, Par};
use std::cell::RefCell;
use std::fmt::{Debug, Display};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Which element type a tensor holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    F32,
    F64,
}

/// A floating-point element type: `f32` or `f64`.
pub trait Element:
    num_traits::Float
    + Debug
    + Display
    + Default
    + Send
    + Sync
    + std::iter::Sum
    + std::ops::AddAssign
    + std::ops::MulAssign
    + 'static
{
    const DTYPE: DType;

    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;

    /// Runs `f` with this thread's buffer pool for the element type.
    fn with_pool<R>(f: impl FnOnce(&mut Pool<Self>) -> R) -> R;

    /// `c = alpha · op(a) · op(b)` (overwriting `c`), row-major slices; `op` transposes when the
    /// flag is set, without copying.
    #[allow(clippy::too_many_arguments)]
    fn gemm(
        c: &mut [Self],
        a: &[Self],
        b: &[Self],
        m: usize,
        k: usize,
        n: usize,
        ta: bool,
        tb: bool,
    );
}

thread_local! {
    static POOL_F32: RefCell<Pool<f32>> = RefCell::new(Pool::default());
    static POOL_F64: RefCell<Pool<f64>> = RefCell::new(Pool::default());
}

static NUM_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Sets how many threads large matrix products may use (0: all cores). Process-wide.
pub fn set_num_threads(n: usize) {
    NUM_THREADS.store(n, Ordering::Relaxed);
}

/// The thread count in force (resolving 0 to the number of cores).
pub fn num_threads() -> usize {
    match NUM_THREADS.load(Ordering::Relaxed) {
        0 => rayon::current_num_threads(),
        n => n,
    }
}

/// Parallelism for one product: two threads cost more than they give on small or skinny
/// products (measured: 64×256×10 runs ~8× slower on two threads than on one), so only
/// products with enough work per thread in both output dimensions go parallel.
fn par_for(m: usize, k: usize, n: usize) -> Par {
    let threads = num_threads();
    let work = m * k * n;
    if threads <= 1 || work < (1 << 22) || m.min(n) < 64 {
        return Par::Seq;
    }
    Par::Rayon(NonZeroUsize::new(threads).unwrap_or(NonZeroUsize::MIN))
}

macro_rules! impl_element {
    ($t:ty, $dtype:expr, $pool:ident) => {
        impl Element for $t {
            const DTYPE: DType = $dtype;

            #[inline]
            fn from_f64(x: f64) -> Self {
                x as $t
            }

            #[inline]
            fn to_f64(self) -> f64 {
                self as f64
            }

            fn with_pool<R>(f: impl FnOnce(&mut Pool<Self>) -> R) -> R {
                // A buffer dropped while the thread-local is being torn down is just freed.
                let mut f = Some(f);
                let mut call = |p: &mut Pool<Self>| (f.take().expect("called once"))(p);
                match $pool.try_with(|p| match p.try_borrow_mut() {
                    Ok(mut p) => Some(call(&mut p)),
                    Err(_) => None,
                }) {
                    Ok(Some(r)) => r,
                    _ => call(&mut Pool::disabled()),
                }
            }

            fn gemm(
                c: &mut [Self],
                a: &[Self],
                b: &[Self],
                m: usize,
                k: usize,
                n: usize,
                ta: bool,
                tb: bool,
            ) {
                let a = if ta {
                    MatRef::from_row_major_slice(a, k, m).transpose()
                } else {
                    MatRef::from_row_major_slice(a, m, k)
                };
                let b = if tb {
                    MatRef::from_row_major_slice(b, n, k).transpose()
                } else {
                    MatRef::from_row_major_slice(b, k, n)
                };
                let c = MatMut::from_row_major_slice_mut(c, m, n);
                faer::linalg::matmul::matmul(c, Accum::Replace, a, b, 1.0, par_for(m, k, n));
            }
        }
    };
}

impl_element!(f32, DType::F32, POOL_F32);
impl_element!(f64, DType::F64, POOL_F64);
