//! Raw compute on buffers: no graph, no shape checks (callers check). Fast paths for the
//! layouts training produces (same shape, scalar, bias rows, per-row columns); a general
//! path walks rank-4 padded shapes with broadcast strides.

use crate::element::Element;
use crate::shape::{Shape, MAX_RANK};
use crate::storage::{buffer, buffer_for_overwrite};

/// How operand `s` is laid out against output shape `out`.
enum Layout {
    Same,
    Scalar,
    /// Repeats every `len` elements (a trailing-dims suffix, e.g. a bias row).
    Cycle(usize),
    /// Each element covers `len` consecutive outputs (leading dims, e.g. a per-row column).
    Stretch(usize),
    /// A contiguous block of middle dims (e.g. a per-channel `[1, C, 1, 1]` against
    /// `[N, C, H, W]`): each of the operand's `n` elements covers `inner` consecutive
    /// outputs, and the whole pattern repeats.
    Middle {
        n: usize,
        inner: usize,
    },
    General,
}

fn layout(s: &Shape, out: &Shape) -> Layout {
    let (n, m) = (s.numel(), out.numel());
    if n == m {
        return Layout::Same;
    }
    if n == 1 {
        return Layout::Scalar;
    }
    let (ps, po) = (s.padded(), out.padded());
    // Suffix: the operand's non-1 dims are exactly the output's trailing dims.
    let first = ps.iter().position(|&d| d != 1).unwrap_or(MAX_RANK);
    if ps[first..] == po[first..] && ps[..first].iter().all(|&d| d == 1) {
        return Layout::Cycle(n);
    }
    // Prefix: the operand matches the output on leading dims and is 1 after.
    let last = ps.iter().rposition(|&d| d != 1).map_or(0, |i| i + 1);
    if ps[..last] == po[..last] && ps[last..].iter().all(|&d| d == 1) {
        return Layout::Stretch(m / n);
    }
    if ps[first..last] == po[first..last] && ps[..first].iter().all(|&d| d == 1) {
        return Layout::Middle {
            n,
            inner: po[last..].iter().product(),
        };
    }
    Layout::General
}

/// Visits every output index of `out` with the matching flat offsets into `a` and `b`.
#[inline]
fn for_each_broadcast(
    out: &Shape,
    sa: [usize; MAX_RANK],
    sb: [usize; MAX_RANK],
    mut f: impl FnMut(usize, usize),
) {
    let d = out.padded();
    for i0 in 0..d[0] {
        for i1 in 0..d[1] {
            for i2 in 0..d[2] {
                let ba = i0 * sa[0] + i1 * sa[1] + i2 * sa[2];
                let bb = i0 * sb[0] + i1 * sb[1] + i2 * sb[2];
                for i3 in 0..d[3] {
                    f(ba + i3 * sa[3], bb + i3 * sb[3]);
                }
            }
        }
    }
}

/// Elementwise `f(a, b)` broadcast to `out`.
pub(crate) fn binary<T: Element>(
    a: &[T],
    sa: &Shape,
    b: &[T],
    sb: &Shape,
    out: &Shape,
    f: impl Fn(T, T) -> T + Sync,
) -> Vec<T> {
    let m = out.numel();
    // The structured layouts fill whole rows, in pieces on the team when large.
    let rows = |row_len: usize, fill: &(dyn Fn(usize, &mut [T]) + Sync)| {
        let mut v = buffer_for_overwrite(m);
        if row_len > 0 {
            by_rows(&mut v, row_len, &|first, out| {
                for (r, o) in out.chunks_exact_mut(row_len).enumerate() {
                    fill(first + r, o);
                }
            });
        }
        v
    };
    match (layout(sa, out), layout(sb, out)) {
        (Layout::Same, Layout::Same) => elementwise(m, &|first, o| {
            let (a, b) = (&a[first..first + o.len()], &b[first..first + o.len()]);
            for ((o, &x), &y) in o.iter_mut().zip(a).zip(b) {
                *o = f(x, y);
            }
        }),
        (Layout::Same, Layout::Scalar) => {
            let y = b[0];
            elementwise(m, &|first, o| {
                for (o, &x) in o.iter_mut().zip(&a[first..]) {
                    *o = f(x, y);
                }
            })
        }
        (Layout::Scalar, Layout::Same) => {
            let x = a[0];
            elementwise(m, &|first, o| {
                for (o, &y) in o.iter_mut().zip(&b[first..]) {
                    *o = f(x, y);
                }
            })
        }
        (Layout::Same, Layout::Cycle(n)) => rows(n, &|r, o| {
            for ((o, &x), &y) in o.iter_mut().zip(&a[r * n..]).zip(b) {
                *o = f(x, y);
            }
        }),
        (Layout::Cycle(n), Layout::Same) => rows(n, &|r, o| {
            for ((o, &x), &y) in o.iter_mut().zip(a).zip(&b[r * n..]) {
                *o = f(x, y);
            }
        }),
        (Layout::Same, Layout::Stretch(len)) => rows(len, &|r, o| {
            let y = b[r];
            for (o, &x) in o.iter_mut().zip(&a[r * len..]) {
                *o = f(x, y);
            }
        }),
        (Layout::Stretch(len), Layout::Same) => rows(len, &|r, o| {
            let x = a[r];
            for (o, &y) in o.iter_mut().zip(&b[r * len..]) {
                *o = f(x, y);
            }
        }),
        (Layout::Same, Layout::Middle { n, inner }) => rows(inner, &|r, o| {
            let y = b[r % n];
            for (o, &x) in o.iter_mut().zip(&a[r * inner..]) {
                *o = f(x, y);
            }
        }),
        (Layout::Middle { n, inner }, Layout::Same) => rows(inner, &|r, o| {
            let x = a[r % n];
            for (o, &y) in o.iter_mut().zip(&b[r * inner..]) {
                *o = f(x, y);
            }
        }),
        _ => {
            let mut v = buffer(m);
            for_each_broadcast(
                out,
                sa.broadcast_strides(),
                sb.broadcast_strides(),
                |i, j| v.push(f(a[i], b[j])),
            );
            v
        }
    }
}

/// A buffer of `m` elements filled by `fill(first, piece)`, in pieces on the team when large.
fn elementwise<T: Element>(m: usize, fill: &(dyn Fn(usize, &mut [T]) + Sync)) -> Vec<T> {
    let mut v = buffer_for_overwrite(m);
    by_rows(&mut v, 1, fill);
    v
}

/// Elementwise `f(x)`.
pub(crate) fn unary<T: Element>(a: &[T], f: impl Fn(T) -> T + Sync) -> Vec<T> {
    elementwise(a.len(), &|first, o| {
        for (o, &x) in o.iter_mut().zip(&a[first..]) {
            *o = f(x);
        }
    })
}

/// `x^p`, with the exponents training uses computed without `powf` (which costs ~30× a
/// multiplication).
pub(crate) fn powf<T: Element>(a: &[T], p: T) -> Vec<T> {
    let f = |k: f64| p == T::from_f64(k);
    if f(2.0) {
        unary(a, |x| x * x)
    } else if f(1.0) {
        unary(a, |x| x)
    } else if f(-1.0) {
        unary(a, |x| T::one() / x)
    } else if f(-2.0) {
        unary(a, |x| T::one() / (x * x))
    } else if f(0.5) {
        unary(a, |x| x.sqrt())
    } else if f(3.0) {
        unary(a, |x| x * x * x)
    } else {
        unary(a, |x| x.powf(p))
    }
}

/// Logistic function without overflow: e^−|x| never exceeds 1.
#[inline]
pub(crate) fn sigmoid<T: Element>(x: T) -> T {
    let e = (-x.abs()).exp();
    let r = T::one() / (T::one() + e);
    if x >= T::zero() {
        r
    } else {
        e * r
    }
}

/// `c ? x : y` for a 0/1 mask `c`.
#[inline(always)]
fn pick<T: Element>(c: T, x: T, y: T) -> T {
    if c != T::zero() {
        x
    } else {
        y
    }
}

/// `cond ? a : b` elementwise, all three broadcast to `out`; `cond` is a 0/1 mask.
pub(crate) fn select<T: Element>(
    c: &[T],
    sc: &Shape,
    a: &[T],
    sa: &Shape,
    b: &[T],
    sb: &Shape,
    out: &Shape,
) -> Vec<T> {
    let m = out.numel();
    if sc.numel() == m && sa.numel() == m && sb.numel() == m {
        let mut v = buffer(m);
        v.extend(
            c.iter()
                .zip(a.iter().zip(b))
                .map(|(&c, (&x, &y))| pick(c, x, y)),
        );
        return v;
    }
    if sc.numel() == m && sa.numel() == m && sb.numel() == 1 {
        let y = b[0];
        let mut v = buffer(m);
        v.extend(c.iter().zip(a).map(|(&c, &x)| pick(c, x, y)));
        return v;
    }
    // General case: expand each operand, then select; rare outside tests.
    let c = expand(c, sc, out);
    let a = expand(a, sa, out);
    let b = expand(b, sb, out);
    select(&c, out, &a, out, &b, out, out)
}

/// Sums `a` (shape `sa`) down to `target`, which broadcasts to `sa`.
pub(crate) fn sum_to<T: Element>(a: &[T], sa: &Shape, target: &Shape) -> Vec<T> {
    let n = target.numel();
    let mut v = buffer(n);
    match layout(target, sa) {
        Layout::Same => v.extend_from_slice(a),
        Layout::Scalar => v.push(pairwise_sum(a)),
        Layout::Cycle(len) => {
            v.resize(len, T::zero());
            for row in a.chunks_exact(len) {
                for (acc, &x) in v.iter_mut().zip(row) {
                    *acc += x;
                }
            }
        }
        Layout::Stretch(len) => v.extend(a.chunks_exact(len).map(pairwise_sum)),
        Layout::Middle { n, inner } => {
            v.resize(n, T::zero());
            for block in a.chunks_exact(n * inner) {
                for (acc, run) in v.iter_mut().zip(block.chunks_exact(inner)) {
                    *acc += pairwise_sum(run);
                }
            }
        }
        Layout::General => {
            v.resize(n, T::zero());
            let st = target.broadcast_strides();
            let sa_strides = sa.broadcast_strides();
            for_each_broadcast(sa, sa_strides, st, |i, j| v[j] += a[i]);
        }
    }
    v
}

/// Sum with pairwise blocks: rounding error grows like log n, not n.
fn pairwise_sum<T: Element>(a: &[T]) -> T {
    if a.len() <= 256 {
        let mut acc = [T::zero(); 8];
        let chunks = a.chunks_exact(8);
        let rest = chunks.remainder();
        for c in chunks {
            for k in 0..8 {
                acc[k] += c[k];
            }
        }
        let mut s = T::zero();
        for &x in rest {
            s += x;
        }
        acc.iter().fold(T::zero(), |x, &y| x + y) + s
    } else {
        let mid = a.len() / 2;
        pairwise_sum(&a[..mid]) + pairwise_sum(&a[mid..])
    }
}

/// Broadcasts `a` (shape `sa`) to `target`.
pub(crate) fn expand<T: Element>(a: &[T], sa: &Shape, target: &Shape) -> Vec<T> {
    let m = target.numel();
    let mut v = buffer(m);
    match layout(sa, target) {
        Layout::Same => v.extend_from_slice(a),
        Layout::Scalar => v.resize(m, a[0]),
        Layout::Cycle(len) => {
            for _ in 0..m / len {
                v.extend_from_slice(a);
            }
        }
        Layout::Stretch(len) => {
            for &x in a {
                v.extend(std::iter::repeat_n(x, len));
            }
        }
        Layout::Middle { n, inner } => {
            for _ in 0..m / (n * inner) {
                for &x in a {
                    v.extend(std::iter::repeat_n(x, inner));
                }
            }
        }
        Layout::General => {
            for_each_broadcast(target, sa.broadcast_strides(), [0; MAX_RANK], |i, _| {
                v.push(a[i])
            });
        }
    }
    v
}

/// Below this many output elements a kernel runs on the calling thread: waking the team
/// costs more than the second thread gains.
const PARALLEL_MIN: usize = 1 << 15;

/// Runs `f(first_row, rows)` over consecutive pieces of `out` (`row_len` elements a row),
/// side by side on the `par` team when the buffer is large (these kernels are memory-bound:
/// one thread alone does not reach the memory bandwidth).
fn by_rows<T: Send>(out: &mut [T], row_len: usize, f: &(dyn Fn(usize, &mut [T]) + Sync)) {
    let rows = out.len().checked_div(row_len).unwrap_or(0);
    let threads = crate::num_threads();
    if threads <= 1 || rows < 2 || out.len() < PARALLEL_MIN {
        f(0, out);
        return;
    }
    // A few pieces per thread, so a thread slowed by another process does not hold the rest.
    let per = rows.div_ceil((threads * 4).min(rows));
    let parts: Vec<_> = out
        .chunks_mut(per * row_len)
        .enumerate()
        .map(|(i, c)| (i * per, c))
        .collect();
    trainscope_par::for_each_part(parts, &|(first, c)| f(first, c));
}

/// Swaps the last two axes (materialized; batched over the leading ones).
pub(crate) fn transpose_last2<T: Element>(a: &[T], s: &Shape) -> Vec<T> {
    let r = s.rank();
    let (rows, cols) = (s.dim(r - 2), s.dim(r - 1));
    let mut v = buffer_for_overwrite(a.len());
    if rows == 0 || cols == 0 {
        return v;
    }
    // Output rows (one per source column, batch by batch) in pieces.
    by_rows(&mut v, rows, &|first, dst| {
        let n_out = dst.len() / rows;
        let mut k = 0;
        while k < n_out {
            let (b, j0) = ((first + k) / cols, (first + k) % cols);
            // A block of output rows within one batch, at most B wide.
            const B: usize = 32;
            let width = B.min(cols - j0).min(n_out - k);
            let src = &a[b * rows * cols..(b + 1) * rows * cols];
            let out = &mut dst[k * rows..(k + width) * rows];
            for i0 in (0..rows).step_by(B) {
                for j in 0..width {
                    for i in i0..(i0 + B).min(rows) {
                        out[j * rows + i] = src[i * cols + j0 + j];
                    }
                }
            }
            k += width;
        }
    });
    v
}

/// (outer, axis size, inner) of a shape around `axis`.
pub(crate) fn split_axis(s: &Shape, axis: usize) -> (usize, usize, usize) {
    let d = s.dims();
    let outer = d[..axis].iter().product();
    let inner = d[axis + 1..].iter().product();
    (outer, d[axis], inner)
}

/// Picks one element along `axis` per position of the other axes (`out` keeps the axis at 1).
pub(crate) fn gather<T: Element>(a: &[T], s: &Shape, axis: usize, index: &[u32]) -> Vec<T> {
    let (outer, size, inner) = split_axis(s, axis);
    let mut v = buffer_for_overwrite(outer * inner);
    if inner == 0 {
        return v;
    }
    by_rows(&mut v, inner, &|first, out| {
        for (r, row) in out.chunks_exact_mut(inner).enumerate() {
            let o = first + r;
            let ix = &index[o * inner..(o + 1) * inner];
            let src = &a[o * size * inner..(o + 1) * size * inner];
            for (i, (x, &k)) in row.iter_mut().zip(ix).enumerate() {
                *x = src[k as usize * inner + i];
            }
        }
    });
    v
}

/// The adjoint of [`gather`]: places `g` at the indexed positions of a zero tensor of shape `s`.
pub(crate) fn scatter<T: Element>(g: &[T], s: &Shape, axis: usize, index: &[u32]) -> Vec<T> {
    let (_, size, inner) = split_axis(s, axis);
    let mut v = buffer_for_overwrite(s.numel());
    if size * inner == 0 {
        return v;
    }
    by_rows(&mut v, size * inner, &|first, out| {
        out.fill(T::zero());
        for (r, block) in out.chunks_exact_mut(size * inner).enumerate() {
            let o = first + r;
            let ix = &index[o * inner..(o + 1) * inner];
            for (i, (&k, &x)) in ix.iter().zip(&g[o * inner..(o + 1) * inner]).enumerate() {
                block[k as usize * inner + i] += x;
            }
        }
    });
    v
}

/// `out[r, j] = a[r, index[j]]` (0 for [`crate::primitives::NO_COLUMN`]) for `rows × m` input.
pub(crate) fn take_cols<T: Element>(a: &[T], rows: usize, m: usize, index: &[u32]) -> Vec<T> {
    let p = index.len();
    let mut v = buffer_for_overwrite(rows * p);
    if p == 0 {
        return v;
    }
    by_rows(&mut v, p, &|first, out| {
        for (r, dst) in out.chunks_exact_mut(p).enumerate() {
            let row = &a[(first + r) * m..(first + r + 1) * m];
            for (x, &i) in dst.iter_mut().zip(index) {
                *x = if i == crate::primitives::NO_COLUMN {
                    T::zero()
                } else {
                    row[i as usize]
                };
            }
        }
    });
    v
}

/// The adjoint of [`take_cols`]: `rows × m` zeros with each `g[r, j]` added at `[r, index[j]]`.
pub(crate) fn put_cols<T: Element>(g: &[T], rows: usize, m: usize, index: &[u32]) -> Vec<T> {
    let mut v = buffer_for_overwrite(rows * m);
    let p = index.len();
    if m == 0 {
        return v;
    }
    by_rows(&mut v, m, &|first, out| {
        out.fill(T::zero());
        if p == 0 {
            return;
        }
        for (r, dst) in out.chunks_exact_mut(m).enumerate() {
            let gr = &g[(first + r) * p..(first + r + 1) * p];
            for (&i, &x) in index.iter().zip(gr) {
                if i != crate::primitives::NO_COLUMN {
                    dst[i as usize] += x;
                }
            }
        }
    });
    v
}

/// `out[r, k] = a[r, index[r, k]]` for `rows × m` input and `rows × p` indices.
pub(crate) fn take_along<T: Element>(a: &[T], rows: usize, m: usize, index: &[u32]) -> Vec<T> {
    let p = index.len().checked_div(rows).unwrap_or(0);
    let mut v = buffer_for_overwrite(rows * p);
    if p == 0 {
        return v;
    }
    by_rows(&mut v, p, &|first, out| {
        for (r, dst) in out.chunks_exact_mut(p).enumerate() {
            let row = &a[(first + r) * m..(first + r + 1) * m];
            let ix = &index[(first + r) * p..(first + r + 1) * p];
            for (x, &i) in dst.iter_mut().zip(ix) {
                *x = row[i as usize];
            }
        }
    });
    v
}

/// The adjoint of [`take_along`]: `rows × m` zeros with each `g[r, k]` added at
/// `[r, index[r, k]]`.
pub(crate) fn put_along<T: Element>(g: &[T], rows: usize, m: usize, index: &[u32]) -> Vec<T> {
    let p = index.len().checked_div(rows).unwrap_or(0);
    let mut v = buffer_for_overwrite(rows * m);
    if m == 0 {
        return v;
    }
    by_rows(&mut v, m, &|first, out| {
        out.fill(T::zero());
        if p == 0 {
            return;
        }
        for (r, dst) in out.chunks_exact_mut(m).enumerate() {
            let gr = &g[(first + r) * p..(first + r + 1) * p];
            let ix = &index[(first + r) * p..(first + r + 1) * p];
            for (&i, &x) in ix.iter().zip(gr) {
                dst[i as usize] += x;
            }
        }
    });
    v
}

/// For `[N, C, H, W]` images: per image, the index (into its `C·H·W` values) of the largest
/// value of every pooling window, ordered `(c, oh, ow)`; the first in row-major window order
/// on ties, NaN winning so it propagates (as PyTorch's `max_pool2d`).
pub(crate) fn window_argmax<T: Element>(
    x: &[T],
    n: usize,
    (channels, height, width): (usize, usize, usize),
    kernel: (usize, usize),
    stride: (usize, usize),
    (out_h, out_w): (usize, usize),
) -> std::sync::Arc<[u32]> {
    let per = channels * out_h * out_w;
    let image = channels * height * width;
    // Made in place where the graph keeps it (a `Vec` turned into an `Arc` is copied).
    let mut shared: std::sync::Arc<[u32]> = (0..n * per).map(|_| 0).collect();
    let idx = std::sync::Arc::get_mut(&mut shared).expect("not shared yet");
    if per == 0 {
        return shared;
    }
    by_rows(idx, per, &|first, out| {
        for (r, dst) in out.chunks_exact_mut(per).enumerate() {
            let img = &x[(first + r) * image..(first + r + 1) * image];
            for (row, best) in dst.chunks_exact_mut(out_w.max(1)).enumerate() {
                let (c, oh) = (row / out_h, row % out_h);
                let corner = (c * height + oh * stride.0) * width;
                for (ow, slot) in best.iter_mut().enumerate() {
                    let top = corner + ow * stride.1;
                    *slot = if kernel == (2, 2) {
                        largest_of_2x2(img, top, width)
                    } else {
                        largest_in_window(img, top, width, kernel)
                    } as u32;
                }
            }
        }
    });
    shared
}

/// [`largest_in_window`] unrolled for the common 2 × 2 window: straight-line selects.
#[inline(always)]
fn largest_of_2x2<T: Element>(img: &[T], top: usize, width: usize) -> usize {
    let (a, b) = (img[top], img[top + 1]);
    let (c, d) = (img[top + width], img[top + width + 1]);
    if (a.is_nan() | b.is_nan()) | (c.is_nan() | d.is_nan()) {
        return first_nan(img, top, width, (2, 2));
    }
    // Masks, not branches: which element wins is data, and a mispredicted branch per
    // window costs more than the whole window.
    let pick = |keep: usize, take: usize, cond: bool| {
        keep ^ ((keep ^ take) & 0usize.wrapping_sub(cond as usize))
    };
    let larger = |x: T, y: T| if y > x { y } else { x };
    let k1 = (b > a) as usize;
    let m1 = larger(a, b);
    let k2 = pick(k1, width, c > m1);
    let m2 = larger(m1, c);
    top + pick(k2, width + 1, d > m2)
}

/// The index of the first largest value of the window at `top`, or of its first NaN.
fn largest_in_window<T: Element>(
    img: &[T],
    top: usize,
    width: usize,
    kernel: (usize, usize),
) -> usize {
    let (mut best, mut bv) = (top, img[top]);
    for i in 0..kernel.0 {
        for j in 0..kernel.1 {
            let at = top + i * width + j;
            let v = img[at];
            if v.is_nan() {
                return at;
            }
            if v > bv {
                best = at;
                bv = v;
            }
        }
    }
    best
}

/// The first NaN of the window at `top` (row-major window order).
fn first_nan<T: Element>(img: &[T], top: usize, width: usize, kernel: (usize, usize)) -> usize {
    (0..kernel.0)
        .flat_map(|i| (0..kernel.1).map(move |j| top + i * width + j))
        .find(|&at| img[at].is_nan())
        .unwrap_or(top)
}

/// Index of the largest element along `axis` (first one on ties; NaN wins so it propagates).
pub(crate) fn argmax<T: Element>(a: &[T], s: &Shape, axis: usize) -> Vec<u32> {
    let (outer, size, inner) = split_axis(s, axis);
    let mut idx = vec![0u32; outer * inner];
    if inner == 0 || size == 0 {
        return idx;
    }
    by_rows(&mut idx, inner, &|first, out| {
        for (r, row) in out.chunks_exact_mut(inner).enumerate() {
            let block = &a[(first + r) * size * inner..(first + r + 1) * size * inner];
            if inner == 1 {
                // Contiguous windows (pooling, a row's classes): one tight scan.
                let mut best = 0usize;
                let mut bv = block[0];
                for (k, &x) in block.iter().enumerate().skip(1) {
                    // Selects, not branches: which element wins is data, unpredictable.
                    let better = x > bv || (x.is_nan() && !bv.is_nan());
                    best = if better { k } else { best };
                    bv = if better { x } else { bv };
                }
                row[0] = best as u32;
                continue;
            }
            for (i, slot) in row.iter_mut().enumerate() {
                let mut best = 0usize;
                let mut bv = block[i];
                for k in 1..size {
                    let x = block[k * inner + i];
                    if x > bv || (x.is_nan() && !bv.is_nan()) {
                        best = k;
                        bv = x;
                    }
                }
                *slot = best as u32;
            }
        }
    });
    idx
}

/// `op(a) · op(b)` for row-major matrices, `m × k` times `k × n`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul<T: Element>(
    a: &[T],
    b: &[T],
    m: usize,
    k: usize,
    n: usize,
    ta: bool,
    tb: bool,
) -> Vec<T> {
    if k == 0 {
        return vec![T::zero(); m * n];
    }
    // The product overwrites every element, so a reused buffer needs no zero-fill.
    let mut c = buffer_for_overwrite(m * n);
    T::gemm(&mut c, a, b, m, k, n, ta, tb);
    c
}

#[cfg(test)]
mod tests {
    //! The row-parallel kernels against plain loops, on buffers large enough to be split.
    use super::*;

    fn values(n: usize) -> Vec<f64> {
        // Distinct, unordered values with some exact ties.
        (0..n).map(|i| ((i * 7919) % 1009) as f64 / 8.0).collect()
    }

    #[test]
    fn split_kernels_match_plain_loops() {
        trainscope_par::set_threads(2);
        let (rows, m) = (300, 200);
        let a = values(rows * m);
        let index: Vec<u32> = (0..150u32)
            .map(|j| {
                if j % 17 == 0 {
                    crate::primitives::NO_COLUMN
                } else {
                    (j * 13) % 200
                }
            })
            .collect();

        let taken = take_cols(&a, rows, m, &index);
        for r in 0..rows {
            for (j, &i) in index.iter().enumerate() {
                let want = if i == crate::primitives::NO_COLUMN {
                    0.0
                } else {
                    a[r * m + i as usize]
                };
                assert_eq!(taken[r * index.len() + j], want);
            }
        }

        let g = values(rows * index.len());
        let put = put_cols(&g, rows, m, &index);
        let mut want = vec![0.0; rows * m];
        for r in 0..rows {
            for (j, &i) in index.iter().enumerate() {
                if i != crate::primitives::NO_COLUMN {
                    want[r * m + i as usize] += g[r * index.len() + j];
                }
            }
        }
        assert_eq!(put, want);

        let s = Shape::new(&[3, rows, m]).unwrap();
        let b = values(3 * rows * m);
        let t = transpose_last2(&b, &s);
        for k in 0..3 {
            for i in 0..rows {
                for j in 0..m {
                    assert_eq!(t[k * rows * m + j * rows + i], b[k * rows * m + i * m + j]);
                }
            }
        }

        // Pooling windows (2 × 2 unrolled, and overlapping 3 × 3) with ties and NaNs.
        let mut img: Vec<f64> = values(8 * 3 * 20 * 20)
            .iter()
            .map(|v| (v / 16.0).floor())
            .collect();
        img[3 * 20 + 5] = f64::NAN;
        img[400 + 21] = f64::NAN;
        for (kernel, stride) in [((2, 2), (2, 2)), ((3, 3), (1, 2))] {
            let (oh, ow) = (
                (20 - kernel.0) / stride.0 + 1,
                (20 - kernel.1) / stride.1 + 1,
            );
            let idx = window_argmax(&img, 8, (3, 20, 20), kernel, stride, (oh, ow));
            let mut k = 0;
            for n in 0..8 {
                for c in 0..3 {
                    for (y, x) in (0..oh).flat_map(|y| (0..ow).map(move |x| (y, x))) {
                        let cells = (0..kernel.0).flat_map(|i| (0..kernel.1).map(move |j| (i, j)));
                        let at = |(i, j): (usize, usize)| {
                            (c * 20 + y * stride.0 + i) * 20 + x * stride.1 + j
                        };
                        let v = |p| img[n * 1200 + at(p)];
                        let want = cells.clone().find(|&p| v(p).is_nan()).unwrap_or_else(|| {
                            cells.fold((0, 0), |b, p| if v(p) > v(b) { p } else { b })
                        });
                        assert_eq!(idx[k] as usize, at(want), "{kernel:?} window {k}");
                        k += 1;
                    }
                }
            }
            let rows = 8;
            let picked = take_along(&img, rows, 1200, &idx);
            let back = put_along(&picked, rows, 1200, &idx);
            for r in 0..rows {
                let p = idx.len() / rows;
                let mut want = vec![0.0; 1200];
                for q in 0..p {
                    let i = idx[r * p + q] as usize;
                    let x = img[r * 1200 + i];
                    assert!(picked[r * p + q] == x || x.is_nan());
                    want[i] += picked[r * p + q];
                }
                for (a, b) in back[r * 1200..(r + 1) * 1200].iter().zip(&want) {
                    assert!(a == b || (a.is_nan() && b.is_nan()));
                }
            }
        }

        for (dims, axis) in [([rows, m, 1], 1), ([rows, 4, 50], 1), ([40, 30, 50], 2)] {
            let s = Shape::new(&dims).unwrap();
            let (outer, size, inner) = split_axis(&s, axis);
            let x = values(s.numel());
            let idx = argmax(&x, &s, axis);
            for o in 0..outer {
                for i in 0..inner {
                    let at = |k: usize| x[(o * size + k) * inner + i];
                    let best = (0..size).fold(0, |b, k| if at(k) > at(b) { k } else { b });
                    assert_eq!(idx[o * inner + i] as usize, best, "{dims:?} axis {axis}");
                }
            }
            let picked = gather(&x, &s, axis, &idx);
            let back = scatter(&picked, &s, axis, &idx);
            for o in 0..outer {
                for i in 0..inner {
                    let k = idx[o * inner + i] as usize;
                    assert_eq!(picked[o * inner + i], x[(o * size + k) * inner + i]);
                    for kk in 0..size {
                        let want = if kk == k { picked[o * inner + i] } else { 0.0 };
                        assert_eq!(back[(o * size + kk) * inner + i], want);
                    }
                }
            }
        }
    }
}
