//! The primitive operations: the only ops with backward rules (in `backward.rs`). Every other
//! differentiable function is a composite of these.

use crate::conv_kernels::{self, ConvGeometry};
use crate::element::Element;
use crate::error::{Error, Result};
use crate::kernels;
use crate::shape::Shape;
use crate::tensor::Tensor;
use std::sync::Arc;

/// A recorded primitive with its inputs.
pub(crate) enum Op<T: Element> {
    Add(Tensor<T>, Tensor<T>),
    Sub(Tensor<T>, Tensor<T>),
    Mul(Tensor<T>, Tensor<T>),
    Div(Tensor<T>, Tensor<T>),
    /// `x·a + b`; only `a` matters for the derivative.
    Affine(Tensor<T>, T),
    Exp(Tensor<T>),
    Log(Tensor<T>),
    Sqrt(Tensor<T>),
    PowF(Tensor<T>, T),
    Abs(Tensor<T>),
    /// Fused `1/(1+e^−x)`; its rule uses the output: σ' = σ(1 − σ).
    Sigmoid(Tensor<T>),
    /// Fused `tanh`; its rule uses the output: tanh' = 1 − tanh².
    Tanh(Tensor<T>),
    /// Fused `max(0, x)`; its rule masks the gradient where the output is positive.
    Relu(Tensor<T>),
    /// `mask ? a : b`; the mask is a constant.
    Select(Tensor<T>, Tensor<T>, Tensor<T>),
    MatMul(Tensor<T>, Tensor<T>, bool, bool),
    TransposeLast2(Tensor<T>),
    Reshape(Tensor<T>),
    Expand(Tensor<T>),
    SumTo(Tensor<T>),
    Gather(Tensor<T>, usize, Arc<[u32]>),
    Scatter(Tensor<T>, usize, Arc<[u32]>),
    /// `[B, M] → [B, P]` picking columns by index ([`NO_COLUMN`] gives 0).
    TakeCols(Tensor<T>, Arc<[u32]>),
    /// The adjoint of `TakeCols`: `[B, P] → [B, M]` summing into the indexed columns.
    PutCols(Tensor<T>, Arc<[u32]>),
    /// `[B, M] → [B, P]` picking, in each row, the columns its row of the index names.
    TakeAlong(Tensor<T>, Arc<[u32]>),
    /// The adjoint of `TakeAlong`: `[B, P] → [B, M]` summing into the indexed columns.
    PutAlong(Tensor<T>, Arc<[u32]>),
    /// `(x, weight) → y`: `[N, C, H, W]` images and `[O, C, kh, kw]` filters to
    /// `[N, O, OH, OW]` (cross-correlation, zero padding, no bias).
    Conv2d(Tensor<T>, Tensor<T>, ConvGeometry),
    /// `(dy, weight) → dx`, the input gradient of `Conv2d` (its adjoint in `x`).
    Conv2dInputGrad(Tensor<T>, Tensor<T>, ConvGeometry),
    /// `(x, dy) → dweight`, the weight gradient of `Conv2d`.
    Conv2dWeightGrad(Tensor<T>, Tensor<T>, ConvGeometry),
}

/// In the index of [`Tensor::take_cols`], a position that reads 0 (the zero padding of a
/// convolution).
pub const NO_COLUMN: u32 = u32::MAX;

impl<T: Element> Op<T> {
    /// The differentiable inputs, in rule order.
    pub(crate) fn inputs(&self) -> [Option<&Tensor<T>>; 2] {
        use Op::*;
        match self {
            Add(a, b) | Sub(a, b) | Mul(a, b) | Div(a, b) | MatMul(a, b, ..) => [Some(a), Some(b)],
            Conv2d(a, b, _) | Conv2dInputGrad(a, b, _) | Conv2dWeightGrad(a, b, _) => {
                [Some(a), Some(b)]
            }
            Select(_, a, b) => [Some(a), Some(b)],
            Affine(a, _)
            | Exp(a)
            | Log(a)
            | Sqrt(a)
            | PowF(a, _)
            | Abs(a)
            | Sigmoid(a)
            | Tanh(a)
            | Relu(a)
            | TransposeLast2(a)
            | Reshape(a)
            | Expand(a)
            | SumTo(a)
            | Gather(a, ..)
            | Scatter(a, ..)
            | TakeCols(a, ..)
            | PutCols(a, ..)
            | TakeAlong(a, ..)
            | PutAlong(a, ..) => [Some(a), None],
        }
    }
}

fn track2<T: Element>(a: &Tensor<T>, b: &Tensor<T>) -> bool {
    a.requires_grad() || b.requires_grad()
}

impl<T: Element> Tensor<T> {
    fn binary_op(
        &self,
        rhs: &Tensor<T>,
        name: &'static str,
        f: impl Fn(T, T) -> T + Sync,
        op: fn(Tensor<T>, Tensor<T>) -> Op<T>,
    ) -> Result<Tensor<T>> {
        let out = Shape::broadcast(name, &self.shape(), &rhs.shape())?;
        let v = kernels::binary(
            self.data(),
            &self.shape(),
            rhs.data(),
            &rhs.shape(),
            &out,
            f,
        );
        Ok(Tensor::from_op(out, v, track2(self, rhs), || {
            op(self.clone(), rhs.clone())
        }))
    }

    /// Elementwise sum with NumPy broadcasting.
    pub fn add(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
        self.binary_op(rhs, "add", |x, y| x + y, Op::Add)
    }

    /// Elementwise difference with broadcasting.
    pub fn sub(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
        self.binary_op(rhs, "sub", |x, y| x - y, Op::Sub)
    }

    /// Elementwise product with broadcasting.
    pub fn mul(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
        self.binary_op(rhs, "mul", |x, y| x * y, Op::Mul)
    }

    /// Elementwise quotient with broadcasting.
    pub fn div(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
        self.binary_op(rhs, "div", |x, y| x / y, Op::Div)
    }

    /// `self · a + b` elementwise for scalars `a`, `b`.
    pub fn affine(&self, a: T, b: T) -> Tensor<T> {
        let v = kernels::unary(self.data(), |x| x * a + b);
        Tensor::from_op(self.shape(), v, self.requires_grad(), || {
            Op::Affine(self.clone(), a)
        })
    }

    pub fn neg(&self) -> Tensor<T> {
        self.affine(-T::one(), T::zero())
    }

    pub fn add_scalar(&self, c: T) -> Tensor<T> {
        self.affine(T::one(), c)
    }

    pub fn mul_scalar(&self, c: T) -> Tensor<T> {
        self.affine(c, T::zero())
    }

    fn unary_op(&self, f: impl Fn(T) -> T + Sync, op: fn(Tensor<T>) -> Op<T>) -> Tensor<T> {
        let v = kernels::unary(self.data(), f);
        Tensor::from_op(self.shape(), v, self.requires_grad(), || op(self.clone()))
    }

    pub fn exp(&self) -> Tensor<T> {
        self.unary_op(|x| x.exp(), Op::Exp)
    }

    /// Natural logarithm (−∞ at 0, NaN below, as IEEE says).
    pub fn log(&self) -> Tensor<T> {
        self.unary_op(|x| x.ln(), Op::Log)
    }

    pub fn sqrt(&self) -> Tensor<T> {
        self.unary_op(|x| x.sqrt(), Op::Sqrt)
    }

    /// The logistic function `1/(1+e^−x)` as one fused primitive. The composite
    /// [`Tensor::sigmoid_composite`] computes the same function from eight primitives; on a
    /// small network's training step the fused form cut the step time severalfold, and the two
    /// are tested against each other to all orders the tests reach.
    pub fn sigmoid(&self) -> Tensor<T> {
        self.unary_op(kernels::sigmoid, Op::Sigmoid)
    }

    /// `max(0, x)` as one fused primitive; derivative 0 at 0 (as PyTorch), NaN stays NaN.
    /// The composite [`Tensor::relu_composite`] (a comparison and a select) makes two passes
    /// and branches per element; its select kernel was about half of a ReLU network's
    /// loss-surface time in a profile. This form is one vectorizable pass.
    pub fn relu(&self) -> Tensor<T> {
        self.unary_op(
            |x| {
                if x > T::zero() || x.is_nan() {
                    x
                } else {
                    T::zero()
                }
            },
            Op::Relu,
        )
    }

    /// `tanh(x)` as one fused primitive (see [`Tensor::tanh_composite`] for the composite).
    pub fn tanh(&self) -> Tensor<T> {
        self.unary_op(|x| x.tanh(), Op::Tanh)
    }

    /// Absolute value. Its derivative at 0 is taken as 0 (a subgradient), as PyTorch does.
    pub fn abs(&self) -> Tensor<T> {
        self.unary_op(|x| x.abs(), Op::Abs)
    }

    /// `self^p` for a scalar exponent `p`.
    pub fn powf(&self, p: T) -> Tensor<T> {
        let v = kernels::powf(self.data(), p);
        Tensor::from_op(self.shape(), v, self.requires_grad(), || {
            Op::PowF(self.clone(), p)
        })
    }

    fn compare(
        &self,
        rhs: &Tensor<T>,
        name: &'static str,
        f: fn(T, T) -> bool,
    ) -> Result<Tensor<T>> {
        let out = Shape::broadcast(name, &self.shape(), &rhs.shape())?;
        let v = kernels::binary(
            self.data(),
            &self.shape(),
            rhs.data(),
            &rhs.shape(),
            &out,
            |x, y| {
                if f(x, y) {
                    T::one()
                } else {
                    T::zero()
                }
            },
        );
        Ok(Tensor::from_parts(out, v))
    }

    /// 1 where `self > rhs`, else 0 (a constant: comparisons have no gradient).
    pub fn gt(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
        self.compare(rhs, "gt", |x, y| x > y)
    }

    /// 1 where `self >= rhs`, else 0.
    pub fn ge(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
        self.compare(rhs, "ge", |x, y| x >= y)
    }

    /// 1 where `self < rhs`, else 0.
    pub fn lt(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
        self.compare(rhs, "lt", |x, y| x < y)
    }

    /// 1 where `self == rhs`, else 0.
    pub fn eq_mask(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
        self.compare(rhs, "eq", |x, y| x == y)
    }

    /// 1 where `self > c`, else 0.
    pub fn gt_scalar(&self, c: T) -> Tensor<T> {
        let v = kernels::unary(self.data(), |x| if x > c { T::one() } else { T::zero() });
        Tensor::from_parts(self.shape(), v)
    }

    /// 1 where `self >= c`, else 0.
    pub fn ge_scalar(&self, c: T) -> Tensor<T> {
        let v = kernels::unary(self.data(), |x| if x >= c { T::one() } else { T::zero() });
        Tensor::from_parts(self.shape(), v)
    }

    /// `a` where `self` (a 0/1 mask) is nonzero, else `b`; all broadcast together. Gradients
    /// flow to the selected side only, and an unselected side's infinities never leak in.
    pub fn select(&self, a: &Tensor<T>, b: &Tensor<T>) -> Result<Tensor<T>> {
        let ab = Shape::broadcast("select", &a.shape(), &b.shape())?;
        let out = Shape::broadcast("select", &self.shape(), &ab)?;
        let v = kernels::select(
            self.data(),
            &self.shape(),
            a.data(),
            &a.shape(),
            b.data(),
            &b.shape(),
            &out,
        );
        Ok(Tensor::from_op(out, v, track2(a, b), || {
            Op::Select(self.detach(), a.clone(), b.clone())
        }))
    }

    /// Matrix product of two rank-2 tensors.
    pub fn matmul(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
        self.matmul_t(rhs, false, false)
    }

    /// `op(self) · op(rhs)` where `op` transposes when its flag is set; no copy is made for the
    /// transposition (the product reads the operand transposed).
    pub fn matmul_t(&self, rhs: &Tensor<T>, ta: bool, tb: bool) -> Result<Tensor<T>> {
        let mismatch = || Error::ShapeMismatch {
            op: "matmul",
            lhs: self.shape(),
            rhs: rhs.shape(),
        };
        if self.rank() != 2 || rhs.rank() != 2 {
            return Err(mismatch());
        }
        let (m, k) = if ta {
            (self.dims()[1], self.dims()[0])
        } else {
            (self.dims()[0], self.dims()[1])
        };
        let (k2, n) = if tb {
            (rhs.dims()[1], rhs.dims()[0])
        } else {
            (rhs.dims()[0], rhs.dims()[1])
        };
        if k != k2 {
            return Err(mismatch());
        }
        let v = kernels::matmul(self.data(), rhs.data(), m, k, n, ta, tb);
        let out = Shape::new(&[m, n])?;
        Ok(Tensor::from_op(out, v, track2(self, rhs), || {
            Op::MatMul(self.clone(), rhs.clone(), ta, tb)
        }))
    }

    /// Swaps the last two axes (rank ≥ 2).
    pub fn transpose(&self) -> Result<Tensor<T>> {
        if self.rank() < 2 {
            return Err(Error::invalid(
                "transpose",
                format!("needs rank >= 2, shape is {}", self.shape()),
            ));
        }
        let r = self.rank();
        let s = self.shape();
        let out = s
            .with_dim(r - 2, s.dim(r - 1))
            .with_dim(r - 1, s.dim(r - 2));
        let v = kernels::transpose_last2(self.data(), &s);
        Ok(Tensor::from_op(out, v, self.requires_grad(), || {
            Op::TransposeLast2(self.clone())
        }))
    }

    /// The same elements with another shape (no copy).
    pub fn reshape(&self, dims: &[usize]) -> Result<Tensor<T>> {
        let out = Shape::new_in("reshape", dims)?;
        self.reshape_to(out)
    }

    pub(crate) fn reshape_to(&self, out: Shape) -> Result<Tensor<T>> {
        if out.numel() != self.numel() {
            return Err(Error::ShapeMismatch {
                op: "reshape",
                lhs: self.shape(),
                rhs: out,
            });
        }
        if out == self.shape() {
            return Ok(self.clone());
        }
        Ok(self.share_with_shape(out, self.requires_grad(), || Op::Reshape(self.clone())))
    }

    /// Broadcasts to a larger shape (materialized).
    pub fn expand(&self, dims: &[usize]) -> Result<Tensor<T>> {
        self.expand_to(Shape::new_in("expand", dims)?)
    }

    pub(crate) fn expand_to(&self, out: Shape) -> Result<Tensor<T>> {
        if !self.shape().broadcasts_to(&out) {
            return Err(Error::ShapeMismatch {
                op: "expand",
                lhs: self.shape(),
                rhs: out,
            });
        }
        if out == self.shape() {
            return Ok(self.clone());
        }
        let v = kernels::expand(self.data(), &self.shape(), &out);
        Ok(Tensor::from_op(out, v, self.requires_grad(), || {
            Op::Expand(self.clone())
        }))
    }

    /// Sums over the axes along which `dims` broadcasts to this shape (the adjoint of
    /// [`Tensor::expand`]).
    pub fn sum_to(&self, dims: &[usize]) -> Result<Tensor<T>> {
        self.sum_to_shape(Shape::new_in("sum_to", dims)?)
    }

    pub(crate) fn sum_to_shape(&self, out: Shape) -> Result<Tensor<T>> {
        if !out.broadcasts_to(&self.shape()) {
            return Err(Error::ShapeMismatch {
                op: "sum_to",
                lhs: self.shape(),
                rhs: out,
            });
        }
        if out == self.shape() {
            return Ok(self.clone());
        }
        let v = kernels::sum_to(self.data(), &self.shape(), &out);
        Ok(Tensor::from_op(out, v, self.requires_grad(), || {
            Op::SumTo(self.clone())
        }))
    }

    /// One element along `axis` for every position of the other axes, chosen by `index`
    /// (whose length is the product of the other axes); the axis is kept with size 1.
    pub fn gather(&self, axis: usize, index: &[u32]) -> Result<Tensor<T>> {
        self.shape().check_axis("gather", axis)?;
        let out = self.shape().with_dim(axis, 1);
        if index.len() != out.numel() {
            return Err(Error::invalid(
                "gather",
                format!(
                    "{} indices for shape {} along axis {axis}; expected {}",
                    index.len(),
                    self.shape(),
                    out.numel()
                ),
            ));
        }
        let size = self.dims()[axis];
        if let Some(&bad) = index.iter().find(|&&i| i as usize >= size) {
            return Err(Error::invalid(
                "gather",
                format!("index {bad} out of range for axis {axis} of size {size}"),
            ));
        }
        Ok(self.gather_unchecked(axis, index.into()))
    }

    pub(crate) fn gather_unchecked(&self, axis: usize, index: Arc<[u32]>) -> Tensor<T> {
        let out = self.shape().with_dim(axis, 1);
        let v = kernels::gather(self.data(), &self.shape(), axis, &index);
        Tensor::from_op(out, v, self.requires_grad(), || {
            Op::Gather(self.clone(), axis, index)
        })
    }

    /// The adjoint of gather: `self` (axis size 1) placed into zeros of `shape` at `index`.
    pub(crate) fn scatter(&self, shape: Shape, axis: usize, index: Arc<[u32]>) -> Tensor<T> {
        let v = kernels::scatter(self.data(), &shape, axis, &index);
        Tensor::from_op(shape, v, self.requires_grad(), || {
            Op::Scatter(self.clone(), axis, index)
        })
    }

    /// `out[b, j] = self[b, index[j]]` for a `[B, M]` tensor, or 0 where `index[j]` is
    /// [`NO_COLUMN`]: the same columns of every row, in any order and with repeats. This is the
    /// gather behind convolution and pooling windows (im2col); its adjoint sums back into the
    /// columns, and that adjoint's adjoint is this again, so derivatives of every order follow.
    pub fn take_cols(&self, index: &[u32]) -> Result<Tensor<T>> {
        if self.rank() != 2 {
            return Err(Error::invalid(
                "take_cols",
                format!("needs a [rows, columns] tensor, shape is {}", self.shape()),
            ));
        }
        let m = self.dims()[1];
        if let Some(&bad) = index.iter().find(|&&i| i != NO_COLUMN && i as usize >= m) {
            return Err(Error::invalid(
                "take_cols",
                format!("column {bad} out of range for {m} columns"),
            ));
        }
        Ok(self.take_cols_unchecked(index.into()))
    }

    pub(crate) fn take_cols_unchecked(&self, index: Arc<[u32]>) -> Tensor<T> {
        let (b, m) = (self.dims()[0], self.dims()[1]);
        let out = Shape::matrix(b, index.len());
        let v = kernels::take_cols(self.data(), b, m, &index);
        Tensor::from_op(out, v, self.requires_grad(), || {
            Op::TakeCols(self.clone(), index)
        })
    }

    /// The adjoint of [`Tensor::take_cols`]: `[B, P] → [B, columns]`, each element added into the
    /// column its index names.
    pub(crate) fn put_cols(&self, index: Arc<[u32]>, columns: usize) -> Tensor<T> {
        let b = self.dims()[0];
        let out = Shape::matrix(b, columns);
        let v = kernels::put_cols(self.data(), b, columns, &index);
        Tensor::from_op(out, v, self.requires_grad(), || {
            Op::PutCols(self.clone(), index)
        })
    }

    /// `out[b, k] = self[b, index[b·P + k]]` for a `[B, M]` tensor and `B·P` indices, each
    /// below `M` (checked by the caller): a different selection in every row (the maxima of
    /// pooling windows). Its adjoint sums back; derivatives of every order follow.
    pub(crate) fn take_along(&self, index: Arc<[u32]>) -> Tensor<T> {
        let (b, m) = (self.dims()[0], self.dims()[1]);
        let out = Shape::matrix(b, index.len().checked_div(b).unwrap_or(0));
        let v = kernels::take_along(self.data(), b, m, &index);
        Tensor::from_op(out, v, self.requires_grad(), || {
            Op::TakeAlong(self.clone(), index)
        })
    }

    /// The adjoint of [`Tensor::take_along`]: `[B, P] → [B, columns]`.
    pub(crate) fn put_along(&self, index: Arc<[u32]>, columns: usize) -> Tensor<T> {
        let b = self.dims()[0];
        let out = Shape::matrix(b, columns);
        let v = kernels::put_along(self.data(), b, columns, &index);
        Tensor::from_op(out, v, self.requires_grad(), || {
            Op::PutAlong(self.clone(), index)
        })
    }

    /// The convolution of `self` (`[N, C, H, W]`) with `weight` (`[O, C, kh, kw]`), shapes
    /// checked by the caller against `geo`.
    pub(crate) fn conv2d_primitive(&self, weight: &Tensor<T>, geo: ConvGeometry) -> Tensor<T> {
        let n = self.dims()[0];
        let v = conv_kernels::conv2d(self.data(), weight.data(), n, &geo);
        let out = Shape::new(&[n, geo.out_channels, geo.out_h, geo.out_w])
            .expect("checked by the caller");
        Tensor::from_op(out, v, track2(self, weight), || {
            Op::Conv2d(self.clone(), weight.clone(), geo)
        })
    }

    /// The input gradient of a convolution from `self`, the output gradient `[N, O, OH, OW]`.
    pub(crate) fn conv2d_input_grad(&self, weight: &Tensor<T>, geo: ConvGeometry) -> Tensor<T> {
        let n = self.dims()[0];
        let v = conv_kernels::conv2d_input_grad(self.data(), weight.data(), n, &geo);
        let out = Shape::new(&[n, geo.channels, geo.height, geo.width])
            .expect("the shape of an existing input");
        Tensor::from_op(out, v, track2(self, weight), || {
            Op::Conv2dInputGrad(self.clone(), weight.clone(), geo)
        })
    }

    /// The weight gradient of a convolution of `self` (the input) given the output gradient.
    pub(crate) fn conv2d_weight_grad(&self, dy: &Tensor<T>, geo: ConvGeometry) -> Tensor<T> {
        let n = self.dims()[0];
        let v = conv_kernels::conv2d_weight_grad(self.data(), dy.data(), n, &geo);
        let out = Shape::new(&[geo.out_channels, geo.channels, geo.kernel.0, geo.kernel.1])
            .expect("the shape of an existing weight");
        Tensor::from_op(out, v, track2(self, dy), || {
            Op::Conv2dWeightGrad(self.clone(), dy.clone(), geo)
        })
    }

    /// Indices of the maxima along `axis` (no gradient).
    pub fn argmax(&self, axis: usize) -> Result<Vec<u32>> {
        self.shape().check_axis("argmax", axis)?;
        Ok(kernels::argmax(self.data(), &self.shape(), axis))
    }
}
