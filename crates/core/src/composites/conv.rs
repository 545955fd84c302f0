//! 2-D convolution and pooling over `[N, C, H, W]` images, as PyTorch's `conv2d`,
//! `max_pool2d` and `avg_pool2d`. Convolution is a primitive of its own (sample by sample
//! im2col and one product, `conv_kernels.rs`; its derivatives are its two gradient
//! primitives); max pooling picks each window's largest element in place (a per-row take,
//! whose adjoint sums back), average pooling gathers its windows into columns
//! ([`Tensor::take_cols`]) and averages them, so every derivative follows from those.

use crate::conv_kernels::ConvGeometry;
use crate::element::Element;
use crate::error::{Error, Result};
use crate::primitives::NO_COLUMN;
use crate::tensor::Tensor;

/// Height and width of a window, a stride or a padding.
pub type Pair = (usize, usize);

/// Output size of a window sliding over `size` cells (PyTorch's floor rule).
pub fn window_output(size: usize, kernel: usize, stride: usize, padding: usize) -> Option<usize> {
    let padded = size.checked_add(padding.checked_mul(2)?)?;
    if stride == 0 || kernel == 0 || padded < kernel {
        return None;
    }
    Some((padded - kernel) / stride + 1)
}

struct Windows {
    channels: usize,
    height: usize,
    width: usize,
    out_h: usize,
    out_w: usize,
}

fn windows<T: Element>(
    op: &'static str,
    x: &Tensor<T>,
    kernel: Pair,
    stride: Pair,
    padding: Pair,
) -> Result<Windows> {
    if x.rank() != 4 {
        return Err(Error::invalid(
            op,
            format!("needs [N, C, H, W] images, shape is {}", x.shape()),
        ));
    }
    let d = x.dims();
    let (out_h, out_w) = match (
        window_output(d[2], kernel.0, stride.0, padding.0),
        window_output(d[3], kernel.1, stride.1, padding.1),
    ) {
        (Some(h), Some(w)) => (h, w),
        _ => {
            return Err(Error::invalid(
                op,
                format!(
                    "a {}×{} window (stride {}×{}, padding {}×{}) does not fit {}×{} images",
                    kernel.0, kernel.1, stride.0, stride.1, padding.0, padding.1, d[2], d[3]
                ),
            ))
        }
    };
    Ok(Windows {
        channels: d[1],
        height: d[2],
        width: d[3],
        out_h,
        out_w,
    })
}

/// Column indices into a `[N, C·H·W]` image of every window, cell by cell, ordered
/// `(c, oh, ow, i, j)`.
fn window_index(w: &Windows, kernel: Pair, stride: Pair) -> Vec<u32> {
    let (kh, kw) = kernel;
    let mut idx = Vec::with_capacity(w.channels * w.out_h * w.out_w * kh * kw);
    for c in 0..w.channels {
        for oh in 0..w.out_h {
            for ow in 0..w.out_w {
                for i in 0..kh {
                    for j in 0..kw {
                        let (ih, iw) = (oh * stride.0 + i, ow * stride.1 + j);
                        idx.push(((c * w.height + ih) * w.width + iw) as u32);
                    }
                }
            }
        }
    }
    idx
}

fn too_large(op: &'static str) -> Error {
    Error::invalid(op, "the images are too large to index with 32 bits")
}

impl<T: Element> Tensor<T> {
    /// `torch.nn.functional.conv2d(x, weight, bias, stride, padding)`: `x: [N, C, H, W]`,
    /// `weight: [O, C, kh, kw]`, `bias: [O]` → `[N, O, OH, OW]` (cross-correlation, zero padding).
    pub fn conv2d(
        &self,
        weight: &Tensor<T>,
        bias: Option<&Tensor<T>>,
        stride: Pair,
        padding: Pair,
    ) -> Result<Tensor<T>> {
        if weight.rank() != 4 || self.rank() != 4 || weight.dims()[1] != self.dims()[1] {
            return Err(Error::invalid(
                "conv2d",
                format!(
                    "weight {} does not fit images {}",
                    weight.shape(),
                    self.shape()
                ),
            ));
        }
        let (o, kh, kw) = (weight.dims()[0], weight.dims()[2], weight.dims()[3]);
        let w = windows("conv2d", self, (kh, kw), stride, padding)?;
        let geo = ConvGeometry {
            channels: w.channels,
            height: w.height,
            width: w.width,
            out_channels: o,
            kernel: (kh, kw),
            stride,
            padding,
            out_h: w.out_h,
            out_w: w.out_w,
        };
        let out = self.conv2d_primitive(weight, geo);
        match bias {
            Some(b) => out.add(&b.reshape(&[1, o, 1, 1])?),
            None => Ok(out),
        }
    }

    /// `torch.nn.functional.max_pool2d(x, kernel, stride)` without padding: the largest value
    /// of each window (the gradient goes to the first largest, as in PyTorch).
    pub fn max_pool2d(&self, kernel: Pair, stride: Pair) -> Result<Tensor<T>> {
        self.pool("max_pool2d", kernel, stride, true)
    }

    /// `torch.nn.functional.avg_pool2d(x, kernel, stride)` without padding: the mean of each
    /// window.
    pub fn avg_pool2d(&self, kernel: Pair, stride: Pair) -> Result<Tensor<T>> {
        self.pool("avg_pool2d", kernel, stride, false)
    }

    fn pool(&self, op: &'static str, kernel: Pair, stride: Pair, max: bool) -> Result<Tensor<T>> {
        let w = windows(op, self, kernel, stride, (0, 0))?;
        let n = self.dims()[0];
        let pixels = w.channels * w.height * w.width;
        if pixels > NO_COLUMN as usize {
            return Err(too_large(op));
        }
        if max {
            // The largest of each window found in place; the output picks it (its gradient
            // goes back to that one element).
            let idx = crate::kernels::window_argmax(
                self.data(),
                n,
                (w.channels, w.height, w.width),
                kernel,
                stride,
                (w.out_h, w.out_w),
            );
            return self
                .reshape(&[n, pixels])?
                .take_along(idx)
                .reshape(&[n, w.channels, w.out_h, w.out_w]);
        }
        let idx = window_index(&w, kernel, stride);
        let cells = w.channels * w.out_h * w.out_w;
        let cols = self.reshape(&[n, pixels])?.take_cols(&idx)?.reshape(&[
            n,
            cells,
            kernel.0 * kernel.1,
        ])?;
        cols.mean_axis(2, false)?
            .reshape(&[n, w.channels, w.out_h, w.out_w])
    }
}
