//! The tensor type: a shape, a shared buffer, and (when recorded) the op that produced it.

use crate::element::Element;
use crate::error::{Error, Result};
use crate::grad_mode::is_grad_enabled;
use crate::primitives::Op;
use crate::shape::Shape;
use crate::storage::{buffer, Storage};
use rand::{Rng as _, SeedableRng};
use rand_distr::{Distribution, Normal};
use std::fmt;
use std::sync::Arc;

/// The random-number generator behind every seeded constructor: ChaCha8, reproducible across
/// platforms and serializable (for resuming runs bit for bit).
pub type Rng = rand_chacha::ChaCha8Rng;

/// A generator from a seed.
pub fn seeded_rng(seed: u64) -> Rng {
    Rng::seed_from_u64(seed)
}

/// A dense, row-major tensor of rank 0 to 4 holding `f32` or `f64`.
///
/// Cloning is cheap (a reference count). Tensors produced by operations on tensors that
/// require a gradient remember the operation, so [`crate::grad`] can differentiate them,
/// and — because every backward rule is itself written in these operations — differentiate
/// the gradient again.
pub struct Tensor<T: Element>(pub(crate) Arc<Inner<T>>);

pub(crate) struct Inner<T: Element> {
    pub(crate) shape: Shape,
    pub(crate) storage: Arc<Storage<T>>,
    pub(crate) op: Option<Op<T>>,
    pub(crate) requires_grad: bool,
}

impl<T: Element> Clone for Tensor<T> {
    fn clone(&self) -> Self {
        Tensor(self.0.clone())
    }
}

impl<T: Element> Tensor<T> {
    pub(crate) fn from_parts(shape: Shape, data: Vec<T>) -> Self {
        debug_assert_eq!(shape.numel(), data.len());
        Tensor(Arc::new(Inner {
            shape,
            storage: Arc::new(Storage::new(data)),
            op: None,
            requires_grad: false,
        }))
    }

    /// The result of an op: recorded when recording is on and any input requires a gradient.
    pub(crate) fn from_op(
        shape: Shape,
        data: Vec<T>,
        track: bool,
        op: impl FnOnce() -> Op<T>,
    ) -> Self {
        let record = track && is_grad_enabled();
        Tensor(Arc::new(Inner {
            shape,
            storage: Arc::new(Storage::new(data)),
            op: if record { Some(op()) } else { None },
            requires_grad: record,
        }))
    }

    /// A view with another shape over the same buffer.
    pub(crate) fn share_with_shape(
        &self,
        shape: Shape,
        track: bool,
        op: impl FnOnce() -> Op<T>,
    ) -> Self {
        let record = track && is_grad_enabled();
        Tensor(Arc::new(Inner {
            shape,
            storage: self.0.storage.clone(),
            op: if record { Some(op()) } else { None },
            requires_grad: record,
        }))
    }

    /// A tensor from row-major data and a shape.
    ///
    /// ```
    /// use trainscope_core::Tensor;
    /// let t = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
    /// assert_eq!(t.dims(), &[2, 3]);
    /// assert!(Tensor::<f64>::from_vec(vec![1.0], &[2]).is_err());
    /// ```
    pub fn from_vec(data: Vec<T>, dims: &[usize]) -> Result<Self> {
        let shape = Shape::new_in("from_vec", dims)?;
        if shape.numel() != data.len() {
            return Err(Error::ElementCount {
                op: "from_vec",
                shape,
                expected: shape.numel(),
                got: data.len(),
            });
        }
        Ok(Self::from_parts(shape, data))
    }

    /// A tensor copied from a slice.
    pub fn from_slice(data: &[T], dims: &[usize]) -> Result<Self> {
        let mut v = buffer(data.len());
        v.extend_from_slice(data);
        Self::from_vec(v, dims)
    }

    /// The rows `indices` of the row-major matrix `source` (rows of `row_len` elements),
    /// stacked into `[indices.len(), row_len]`: a batch gathered from a dataset in one copy,
    /// into a reused buffer.
    ///
    /// ```
    /// use trainscope_core::Tensor;
    /// let data = [0.0f32, 1.0, 10.0, 11.0, 20.0, 21.0];
    /// let batch = Tensor::gather_rows(&data, 2, &[2, 0]).unwrap();
    /// assert_eq!(batch.to_vec(), vec![20.0, 21.0, 0.0, 1.0]);
    /// assert!(Tensor::gather_rows(&data, 2, &[3]).is_err());
    /// ```
    pub fn gather_rows(source: &[T], row_len: usize, indices: &[usize]) -> Result<Self> {
        let rows = source.len().checked_div(row_len).unwrap_or(0);
        if let Some(&r) = indices.iter().find(|&&r| r >= rows) {
            return Err(Error::InvalidArgument {
                op: "gather_rows",
                msg: format!("row {r} requested from {rows} rows"),
            });
        }
        let n = indices.len() * row_len;
        let mut v = crate::storage::buffer_for_overwrite(n);
        let copy = |out: &mut [T], rows: &[usize]| {
            for (dst, &r) in out.chunks_exact_mut(row_len.max(1)).zip(rows) {
                dst.copy_from_slice(&source[r * row_len..(r + 1) * row_len]);
            }
        };
        // Rows scattered over a large dataset come from memory, not the cache: two threads
        // fetch them nearly twice as fast.
        let threads = crate::num_threads();
        if threads > 1 && n >= 1 << 16 && row_len > 0 {
            let per = indices.len().div_ceil(threads);
            let parts: Vec<_> = v
                .chunks_mut(per * row_len)
                .zip(indices.chunks(per))
                .collect();
            trainscope_par::for_each_part(parts, &|(out, rows)| copy(out, rows));
        } else {
            copy(&mut v, indices);
        }
        Self::from_vec(v, &[indices.len(), row_len])
    }

    /// A rank-0 tensor.
    pub fn scalar(x: T) -> Self {
        Self::from_parts(Shape::scalar(), vec![x])
    }

    /// A tensor filled with one value.
    pub fn full(dims: &[usize], value: T) -> Result<Self> {
        let shape = Shape::new_in("full", dims)?;
        let mut v = buffer(shape.numel());
        v.resize(shape.numel(), value);
        Ok(Self::from_parts(shape, v))
    }

    pub fn zeros(dims: &[usize]) -> Result<Self> {
        Self::full(dims, T::zero())
    }

    pub fn ones(dims: &[usize]) -> Result<Self> {
        Self::full(dims, T::one())
    }

    pub(crate) fn full_shape(shape: Shape, value: T) -> Self {
        let mut v = buffer(shape.numel());
        v.resize(shape.numel(), value);
        Self::from_parts(shape, v)
    }

    /// Independent uniform samples from `[low, high)`.
    pub fn uniform(dims: &[usize], low: T, high: T, rng: &mut Rng) -> Result<Self> {
        if low.partial_cmp(&high) != Some(std::cmp::Ordering::Less) {
            return Err(Error::invalid(
                "uniform",
                format!("need low < high, got low {low}, high {high}"),
            ));
        }
        let shape = Shape::new_in("uniform", dims)?;
        let (lo, hi) = (low.to_f64(), high.to_f64());
        let mut v = buffer(shape.numel());
        // Drawn in f64 and rounded, which can land on `high` in f32: redraw those.
        v.extend((0..shape.numel()).map(|_| loop {
            let x = T::from_f64(rng.random_range(lo..hi));
            if x < high {
                break x;
            }
        }));
        Ok(Self::from_parts(shape, v))
    }

    /// Independent normal samples with the given mean and standard deviation.
    pub fn normal(dims: &[usize], mean: T, std: T, rng: &mut Rng) -> Result<Self> {
        if std < T::zero() || !std.is_finite() {
            return Err(Error::invalid(
                "normal",
                format!("std must be finite and >= 0, got {std}"),
            ));
        }
        let dist = Normal::new(mean.to_f64(), std.to_f64())
            .map_err(|e| Error::invalid("normal", format!("std {std}: {e}")))?;
        let shape = Shape::new_in("normal", dims)?;
        let mut v = buffer(shape.numel());
        v.extend((0..shape.numel()).map(|_| T::from_f64(dist.sample(rng))));
        Ok(Self::from_parts(shape, v))
    }

    pub fn shape(&self) -> Shape {
        self.0.shape
    }

    pub fn dims(&self) -> &[usize] {
        self.0.shape.dims()
    }

    pub fn rank(&self) -> usize {
        self.0.shape.rank()
    }

    pub fn numel(&self) -> usize {
        self.0.shape.numel()
    }

    /// The elements in row-major order.
    pub fn data(&self) -> &[T] {
        &self.0.storage.data
    }

    /// The elements copied into a new vector.
    pub fn to_vec(&self) -> Vec<T> {
        self.data().to_vec()
    }

    /// The single element of a one-element tensor.
    pub fn item(&self) -> Result<T> {
        if self.numel() != 1 {
            return Err(Error::invalid(
                "item",
                format!("needs exactly one element, shape is {}", self.shape()),
            ));
        }
        Ok(self.data()[0])
    }

    /// True when this tensor is a parameter or depends on one through recorded ops.
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad
    }

    /// A leaf that requires a gradient, sharing this tensor's buffer: a parameter.
    pub fn into_param(self) -> Self {
        Tensor(Arc::new(Inner {
            shape: self.0.shape,
            storage: self.0.storage.clone(),
            op: None,
            requires_grad: true,
        }))
    }

    /// The same values with no history: constants for the graph.
    pub fn detach(&self) -> Self {
        Tensor(Arc::new(Inner {
            shape: self.0.shape,
            storage: self.0.storage.clone(),
            op: None,
            requires_grad: false,
        }))
    }

    /// Mutable access to the elements, for in-place parameter updates. Copies the buffer first
    /// if anything else (a graph, a view) still shares it, so nothing else sees the change.
    pub fn data_mut(&mut self) -> &mut [T] {
        if Arc::get_mut(&mut self.0).is_none() {
            let inner = &self.0;
            self.0 = Arc::new(Inner {
                shape: inner.shape,
                storage: inner.storage.clone(),
                op: None,
                requires_grad: inner.requires_grad,
            });
        }
        let inner = Arc::get_mut(&mut self.0).expect("unique after copy");
        &mut Arc::make_mut(&mut inner.storage).data
    }

    /// True when no other tensor or graph shares this tensor's node or buffer.
    pub(crate) fn is_unique(&mut self) -> bool {
        match std::sync::Arc::get_mut(&mut self.0) {
            Some(inner) => std::sync::Arc::get_mut(&mut inner.storage).is_some(),
            None => false,
        }
    }

    pub(crate) fn op(&self) -> Option<&Op<T>> {
        self.0.op.as_ref()
    }

    /// Identity of the node (stable while the tensor is alive).
    pub(crate) fn id(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    pub(crate) fn check_same_shape(&self, op: &'static str, other: &Tensor<T>) -> Result<()> {
        if self.shape() != other.shape() {
            return Err(Error::ShapeMismatch {
                op,
                lhs: self.shape(),
                rhs: other.shape(),
            });
        }
        Ok(())
    }
}

impl<T: Element> fmt::Debug for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tensor<{:?}>{}", T::DTYPE, self.shape())?;
        if self.requires_grad() {
            write!(f, " requires_grad")?;
        }
        write!(f, " ")?;
        fmt::Display::fmt(self, f)
    }
}

/// Nested brackets like NumPy; long axes are elided in the middle.
impl<T: Element> fmt::Display for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn rec<T: Element>(f: &mut fmt::Formatter<'_>, data: &[T], dims: &[usize]) -> fmt::Result {
            const EDGE: usize = 3;
            if dims.is_empty() {
                return write!(f, "{:.6}", data[0]);
            }
            let n = dims[0];
            let step = data.len() / n.max(1);
            write!(f, "[")?;
            for i in 0..n {
                if n > 2 * EDGE + 1 && i == EDGE {
                    write!(f, "..., ")?;
                }
                if n > 2 * EDGE + 1 && (EDGE..n - EDGE).contains(&i) {
                    continue;
                }
                rec(f, &data[i * step..(i + 1) * step], &dims[1..])?;
                if i + 1 < n {
                    write!(f, ", ")?;
                }
            }
            write!(f, "]")
        }
        rec(f, self.data(), self.dims())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_nests_like_numpy_and_elides_long_axes() {
        let t = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
        assert_eq!(
            t.to_string(),
            "[[1.000000, 2.000000, 3.000000], [4.000000, 5.000000, 6.000000]]"
        );
        assert_eq!(Tensor::scalar(0.5f32).to_string(), "0.500000");
        let long = Tensor::<f32>::from_vec((0..10).map(|i| i as f32).collect(), &[10]).unwrap();
        assert_eq!(
            long.to_string(),
            "[0.000000, 1.000000, 2.000000, ..., 7.000000, 8.000000, 9.000000]"
        );
        let p = Tensor::<f32>::zeros(&[2]).unwrap().into_param();
        assert_eq!(
            format!("{p:?}"),
            "Tensor<F32>[2] requires_grad [0.000000, 0.000000]"
        );
    }
}
