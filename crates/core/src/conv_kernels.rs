//! Raw compute of 2-D convolution, sample by sample: each image unfolded into a
//! `[C·kh·kw, OH·OW]` column matrix that stays in cache (im2col), one matrix product against
//! the `[O, C·kh·kw]` filters writing `[O, OH·OW]` straight into the `[N, O, OH, OW]` output,
//! samples side by side on the `par` team. The three kernels (output, input gradient, weight
//! gradient) are the three primitives of `primitives.rs` whose rules are written in each other.

use crate::element::Element;
use crate::storage::buffer_for_overwrite;

/// The sizes of one convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ConvGeometry {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub out_channels: usize,
    pub kernel: (usize, usize),
    pub stride: (usize, usize),
    pub padding: (usize, usize),
    pub out_h: usize,
    pub out_w: usize,
}

/// Samples per piece of the weight gradient: its partial sums are added in piece order, so
/// the result does not depend on the thread count.
const SAMPLES_PER_PIECE: usize = 4;

impl ConvGeometry {
    pub fn image(&self) -> usize {
        self.channels * self.height * self.width
    }
    pub fn patch(&self) -> usize {
        self.channels * self.kernel.0 * self.kernel.1
    }
    pub fn cells(&self) -> usize {
        self.out_h * self.out_w
    }
    fn output(&self) -> usize {
        self.out_channels * self.cells()
    }

    /// For kernel offset `i` (or `j`) along one side: the output positions whose input
    /// position `o·stride + i − padding` lies inside `0..size`, as a range.
    fn inside(
        out: usize,
        size: usize,
        stride: usize,
        offset: usize,
        padding: usize,
    ) -> (usize, usize) {
        // o·s + off ≥ p  ⇔  o ≥ ceil((p − off) / s)
        let lo = if offset >= padding {
            0
        } else {
            (padding - offset).div_ceil(stride)
        };
        // o·s + off − p ≤ size − 1  ⇔  o ≤ (size − 1 + p − off) / s
        let hi = if size + padding <= offset {
            0
        } else {
            ((size - 1 + padding - offset) / stride + 1).min(out)
        };
        (lo.min(hi), hi)
    }

    /// `cols[(c, i, j), (oh, ow)] = x[c, oh·sh + i − ph, ow·sw + j − pw]` (0 in the padding).
    fn im2col<T: Element>(&self, x: &[T], cols: &mut [T]) {
        let (kh, kw) = self.kernel;
        let (sh, sw) = self.stride;
        let (ph, pw) = self.padding;
        let cells = self.cells();
        let mut rows = cols.chunks_exact_mut(cells);
        for c in 0..self.channels {
            let plane = &x[c * self.height * self.width..(c + 1) * self.height * self.width];
            for i in 0..kh {
                let (h0, h1) = Self::inside(self.out_h, self.height, sh, i, ph);
                for j in 0..kw {
                    let (w0, w1) = Self::inside(self.out_w, self.width, sw, j, pw);
                    let row = rows.next().expect("one row per patch element");
                    row.fill(T::zero());
                    for oh in h0..h1 {
                        let ih = oh * sh + i - ph;
                        let src = &plane[ih * self.width..(ih + 1) * self.width];
                        let dst = &mut row[oh * self.out_w..(oh + 1) * self.out_w];
                        if sw == 1 {
                            let iw0 = w0 + j - pw;
                            dst[w0..w1].copy_from_slice(&src[iw0..iw0 + (w1 - w0)]);
                        } else {
                            for (ow, d) in dst.iter_mut().enumerate().take(w1).skip(w0) {
                                *d = src[ow * sw + j - pw];
                            }
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of [`Self::im2col`]: `x` (zeroed here) gets each column element added back.
    fn col2im<T: Element>(&self, cols: &[T], x: &mut [T]) {
        let (kh, kw) = self.kernel;
        let (sh, sw) = self.stride;
        let (ph, pw) = self.padding;
        let cells = self.cells();
        x.fill(T::zero());
        let mut rows = cols.chunks_exact(cells);
        for c in 0..self.channels {
            let plane = &mut x[c * self.height * self.width..(c + 1) * self.height * self.width];
            for i in 0..kh {
                let (h0, h1) = Self::inside(self.out_h, self.height, sh, i, ph);
                for j in 0..kw {
                    let (w0, w1) = Self::inside(self.out_w, self.width, sw, j, pw);
                    let row = rows.next().expect("one row per patch element");
                    for oh in h0..h1 {
                        let ih = oh * sh + i - ph;
                        let dst = &mut plane[ih * self.width..(ih + 1) * self.width];
                        let src = &row[oh * self.out_w..(oh + 1) * self.out_w];
                        if sw == 1 {
                            let iw0 = w0 + j - pw;
                            let dst = &mut dst[iw0..iw0 + (w1 - w0)];
                            for (d, &s) in dst.iter_mut().zip(&src[w0..w1]) {
                                *d += s;
                            }
                        } else {
                            for ow in w0..w1 {
                                dst[ow * sw + j - pw] += src[ow];
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Runs `f(first_sample, out)` over pieces of `out` (`per_sample` elements each sample),
/// side by side on the `par` team.
fn by_samples<T: Send>(out: &mut [T], per_sample: usize, f: &(dyn Fn(usize, &mut [T]) + Sync)) {
    let n = out.len().checked_div(per_sample).unwrap_or(0);
    let threads = crate::num_threads();
    if threads <= 1 || n < 2 {
        f(0, out);
        return;
    }
    let per = n.div_ceil((threads * 4).min(n));
    let parts: Vec<_> = out
        .chunks_mut(per * per_sample)
        .enumerate()
        .map(|(i, c)| (i * per, c))
        .collect();
    trainscope_par::for_each_part(parts, &|(first, c)| f(first, c));
}

/// `out[n] = weight · im2col(x[n])`: `x: [N, C, H, W]`, `weight: [O, C, kh, kw]` →
/// `[N, O, OH, OW]` (no bias).
pub(crate) fn conv2d<T: Element>(x: &[T], weight: &[T], n: usize, g: &ConvGeometry) -> Vec<T> {
    let (image, patch, cells, output) = (g.image(), g.patch(), g.cells(), g.output());
    let mut out = buffer_for_overwrite(n * output);
    if output == 0 {
        return out;
    }
    by_samples(&mut out, output, &|first, out| {
        let mut cols = buffer_for_overwrite::<T>(patch * cells);
        for (k, y) in out.chunks_exact_mut(output).enumerate() {
            let s = first + k;
            g.im2col(&x[s * image..(s + 1) * image], &mut cols);
            T::gemm_seq(
                y,
                weight,
                &cols,
                g.out_channels,
                patch,
                cells,
                false,
                false,
                false,
            );
        }
        crate::storage::recycle(cols);
    });
    out
}

/// The input gradient: `dx[n] = col2im(weightᵀ · dy[n])` for `dy: [N, O, OH, OW]` →
/// `[N, C, H, W]`.
pub(crate) fn conv2d_input_grad<T: Element>(
    dy: &[T],
    weight: &[T],
    n: usize,
    g: &ConvGeometry,
) -> Vec<T> {
    let (image, patch, cells, output) = (g.image(), g.patch(), g.cells(), g.output());
    let mut dx = buffer_for_overwrite(n * image);
    if image == 0 {
        return dx;
    }
    by_samples(&mut dx, image, &|first, dx| {
        let mut cols = buffer_for_overwrite::<T>(patch * cells);
        for (k, d) in dx.chunks_exact_mut(image).enumerate() {
            let s = first + k;
            let dys = &dy[s * output..(s + 1) * output];
            T::gemm_seq(
                &mut cols,
                weight,
                dys,
                patch,
                g.out_channels,
                cells,
                true,
                false,
                false,
            );
            g.col2im(&cols, d);
        }
        crate::storage::recycle(cols);
    });
    dx
}

/// The weight gradient: `dW = Σₙ dy[n] · im2col(x[n])ᵀ` → `[O, C, kh, kw]`, summed in a fixed
/// order (pieces of [`SAMPLES_PER_PIECE`] samples, then the pieces in turn).
pub(crate) fn conv2d_weight_grad<T: Element>(
    x: &[T],
    dy: &[T],
    n: usize,
    g: &ConvGeometry,
) -> Vec<T> {
    let (image, patch, cells, output) = (g.image(), g.patch(), g.cells(), g.output());
    let size = g.out_channels * patch;
    let pieces = n.div_ceil(SAMPLES_PER_PIECE);
    let mut partial = buffer_for_overwrite::<T>(pieces * size);
    if size > 0 && pieces > 0 {
        let piece = |p: usize, dw: &mut [T]| {
            let mut cols = buffer_for_overwrite::<T>(patch * cells);
            let samples = p * SAMPLES_PER_PIECE..((p + 1) * SAMPLES_PER_PIECE).min(n);
            for (k, s) in samples.enumerate() {
                g.im2col(&x[s * image..(s + 1) * image], &mut cols);
                let dys = &dy[s * output..(s + 1) * output];
                T::gemm_seq(
                    dw,
                    dys,
                    &cols,
                    g.out_channels,
                    cells,
                    patch,
                    false,
                    true,
                    k > 0,
                );
            }
            crate::storage::recycle(cols);
        };
        by_samples(&mut partial, size, &|first, part| {
            for (k, dw) in part.chunks_exact_mut(size).enumerate() {
                piece(first + k, dw);
            }
        });
    }
    let mut dw = buffer_for_overwrite::<T>(size);
    dw.fill(T::zero());
    for part in partial.chunks_exact(size.max(1)) {
        for (a, &b) in dw.iter_mut().zip(part) {
            *a += b;
        }
    }
    crate::storage::recycle(partial);
    dw
}
