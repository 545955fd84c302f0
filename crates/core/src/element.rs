//! The element types a tensor can hold (f32 and f64), behind one trait so every op has a
//! single generic implementation.

use crate::storage::Pool;
use faer::{Accum, MatMut, MatRef, Par};
use std::cell::RefCell;
use std::fmt::{Debug, Display};

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

    /// `c = op(a) · op(b)`, or `c += …` with `accumulate`, on the calling thread alone (for
    /// kernels that already run in parallel pieces).
    #[allow(clippy::too_many_arguments)]
    fn gemm_seq(
        c: &mut [Self],
        a: &[Self],
        b: &[Self],
        m: usize,
        k: usize,
        n: usize,
        ta: bool,
        tb: bool,
        accumulate: bool,
    );
}

thread_local! {
    static POOL_F32: RefCell<Pool<f32>> = RefCell::new(Pool::default());
    static POOL_F64: RefCell<Pool<f64>> = RefCell::new(Pool::default());
}

/// Sets how many threads large matrix products (and the optimizer) may use, the calling
/// thread included (0: all cores). Process-wide.
pub fn set_num_threads(n: usize) {
    trainscope_par::set_threads(n);
}

/// The thread count in force (resolving 0 to the number of cores).
pub fn num_threads() -> usize {
    trainscope_par::threads()
}

/// How many independent pieces one product is cut into. faer's own parallel kernel scales
/// poorly on the medium and skinny products of training (64×256×256: 55 GFLOP/s on two
/// threads against 96 on one), so large-enough products are instead split along their
/// longer output dimension into pieces computed side by side on the low-latency team of
/// `trainscope_par` (a rayon join costs more than such a product gains when the other
/// worker has to be woken). Inside an already parallel region (a rayon worker, e.g. the
/// columns of a dense Hessian) products stay on their thread.
fn pieces_for(m: usize, k: usize, n: usize) -> usize {
    let threads = num_threads();
    if threads <= 1 || m * k * n < (1 << 20) || rayon::current_thread_index().is_some() {
        return 1;
    }
    // Each piece keeps at least 32 rows or columns of the output.
    threads.min(m.max(n) / 32).max(1)
}

/// `c = a · b` with the output cut into `pieces` along its longer side, run in parallel.
fn split_matmul<T: faer::traits::ComplexField>(
    c: MatMut<'_, T>,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    pieces: usize,
    one: &T,
) {
    if pieces <= 1 {
        faer::linalg::matmul::matmul(c, Accum::Replace, a, b, one.clone(), Par::Seq);
        return;
    }
    // Cut the output (and the operand it shares a side with) into `pieces` parts.
    let by_rows = c.nrows() >= c.ncols();
    let len = if by_rows { c.nrows() } else { c.ncols() };
    let mut parts = Vec::with_capacity(pieces);
    let (mut c, mut a, mut b) = (c, a, b);
    for p in 0..pieces {
        let size = len * (p + 1) / pieces - len * p / pieces;
        let remaining = if by_rows { c.nrows() } else { c.ncols() };
        if p + 1 == pieces || size >= remaining {
            parts.push((c, a, b));
            break;
        }
        if by_rows {
            let (c0, c1) = c.split_at_row_mut(size);
            let (a0, a1) = a.split_at_row(size);
            parts.push((c0, a0, b));
            (c, a) = (c1, a1);
        } else {
            let (c0, c1) = c.split_at_col_mut(size);
            let (b0, b1) = b.split_at_col(size);
            parts.push((c0, a, b0));
            (c, b) = (c1, b1);
        }
    }
    trainscope_par::for_each_part(parts, &|(c, a, b)| {
        faer::linalg::matmul::matmul(c, Accum::Replace, a, b, one.clone(), Par::Seq);
    });
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
                split_matmul(c, a, b, pieces_for(m, k, n), &1.0);
            }

            fn gemm_seq(
                c: &mut [Self],
                a: &[Self],
                b: &[Self],
                m: usize,
                k: usize,
                n: usize,
                ta: bool,
                tb: bool,
                accumulate: bool,
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
                let accum = if accumulate {
                    Accum::Add
                } else {
                    Accum::Replace
                };
                faer::linalg::matmul::matmul(c, accum, a, b, 1.0, Par::Seq);
            }
        }
    };
}

impl_element!(f32, DType::F32, POOL_F32);
impl_element!(f64, DType::F64, POOL_F64);
