//! Every primitive and composite at specific inputs whose derivatives are worked out by hand
//! (the derivation sits above each assertion), plus second derivatives in closed form and
//! extreme inputs. The finite-difference checks live in `derivatives.rs`; these catch what
//! differences cannot: a rule that is self-consistent but wrong at a kink or a tie, or an
//! expression that is exact in theory yet overflows at large inputs.

use std::f64::consts::{E, LN_2};
use trainscope_core::{
    binary_cross_entropy_with_logits, cross_entropy, grad, hessian, mae, mse, softmax_mse, Result,
    Tensor,
};

/// Values here are exact fractions or short closed forms, so only a few roundings separate the
/// engine from the derivation.
const TOL: f64 = 1e-14;

fn ln3() -> f64 {
    3f64.ln()
}

fn t(data: &[f64], dims: &[usize]) -> Tensor<f64> {
    Tensor::from_slice(data, dims).unwrap()
}

fn param(data: &[f64], dims: &[usize]) -> Tensor<f64> {
    t(data, dims).into_param()
}

/// `Σ w ∘ out`: the gradient of this with respect to `out` is `w`, so distinct weights make
/// every element's contribution visible (a plain sum would hide swapped elements).
fn weighted(out: &Tensor<f64>, w: &[f64]) -> Result<Tensor<f64>> {
    out.mul(&Tensor::from_slice(w, out.dims())?)
        .map(|p| p.sum())
}

fn grads(out: &Tensor<f64>, wrt: &[&Tensor<f64>]) -> Result<Vec<Vec<f64>>> {
    let wrt: Vec<Tensor<f64>> = wrt.iter().map(|&x| x.clone()).collect();
    Ok(grad(out, &wrt, false)?.iter().map(|g| g.to_vec()).collect())
}

#[track_caller]
fn assert_close(actual: &[f64], expected: &[f64]) {
    assert_eq!(actual.len(), expected.len(), "lengths differ");
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= TOL * e.abs().max(1.0),
            "element {i}: got {a:e}, expected {e:e}\n  actual   {actual:?}\n  expected {expected:?}"
        );
    }
}

// ------------------------------------------------------------------------------ primitives

#[test]
fn add_same_shape_and_broadcast() -> Result<()> {
    let x = param(&[1.0, 2.0, 3.0], &[3]);
    let y = param(&[10.0, 20.0, 30.0], &[3]);
    let s = x.add(&y)?;
    assert_close(s.data(), &[11.0, 22.0, 33.0]);
    // d/dx Σ w(x + y) = w, and the same for y
    let g = grads(&weighted(&s, &[1.0, 2.0, 3.0])?, &[&x, &y])?;
    assert_close(&g[0], &[1.0, 2.0, 3.0]);
    assert_close(&g[1], &[1.0, 2.0, 3.0]);

    // A bias row [3] added to every row of [2, 3]: each bias element is used twice, so its
    // gradient sums the weights of its column: b gets (1+4, 2+5, 3+6).
    let x = param(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let b = param(&[0.5, -0.5, 1.0], &[3]);
    let s = x.add(&b)?;
    assert_eq!(s.dims(), &[2, 3]);
    assert_close(s.data(), &[1.5, 1.5, 4.0, 4.5, 4.5, 7.0]);
    let w = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    let g = grads(&weighted(&s, &w)?, &[&x, &b])?;
    assert_close(&g[0], &w);
    assert_close(&g[1], &[5.0, 7.0, 9.0]);
    Ok(())
}

#[test]
fn sub_same_shape_and_broadcast() -> Result<()> {
    let x = param(&[1.0, 2.0, 3.0], &[3]);
    let y = param(&[10.0, 20.0, 30.0], &[3]);
    let s = x.sub(&y)?;
    assert_close(s.data(), &[-9.0, -18.0, -27.0]);
    // d/dx Σ w(x − y) = w, d/dy = −w
    let g = grads(&weighted(&s, &[1.0, 2.0, 3.0])?, &[&x, &y])?;
    assert_close(&g[0], &[1.0, 2.0, 3.0]);
    assert_close(&g[1], &[-1.0, -2.0, -3.0]);

    // A column [2, 1] subtracted from each column of [2, 3]: c_i gets −Σ_j w_ij.
    let x = param(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let c = param(&[1.0, 2.0], &[2, 1]);
    let s = x.sub(&c)?;
    assert_close(s.data(), &[0.0, 1.0, 2.0, 2.0, 3.0, 4.0]);
    let w = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    let g = grads(&weighted(&s, &w)?, &[&x, &c])?;
    assert_close(&g[0], &w);
    assert_close(&g[1], &[-6.0, -15.0]);
    Ok(())
}

#[test]
fn mul_same_shape_and_broadcast() -> Result<()> {
    let x = param(&[1.0, 2.0, 3.0], &[3]);
    let y = param(&[4.0, 5.0, 6.0], &[3]);
    // d/dx Σ xy = y, d/dy Σ xy = x
    let g = grads(&x.mul(&y)?.sum(), &[&x, &y])?;
    assert_close(&g[0], &[4.0, 5.0, 6.0]);
    assert_close(&g[1], &[1.0, 2.0, 3.0]);

    // A rank-0 factor s times [2, 3]: d/ds Σ w∘(s·x) = Σ w∘x, d/dx = s·w.
    let x = param(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let s = param(&[2.0], &[]);
    let w = [1.0, 0.0, -1.0, 2.0, 0.0, 1.0];
    let g = grads(&weighted(&x.mul(&s)?, &w)?, &[&x, &s])?;
    assert_close(&g[0], &[2.0, 0.0, -2.0, 4.0, 0.0, 2.0]);
    // 1 − 3 + 8 + 6
    assert_close(&g[1], &[12.0]);
    Ok(())
}

#[test]
fn div_same_shape_and_broadcast() -> Result<()> {
    let x = param(&[1.0, 2.0], &[2]);
    let y = param(&[4.0, 8.0], &[2]);
    assert_close(x.div(&y)?.data(), &[0.25, 0.25]);
    // d/dx Σ x/y = 1/y; d/dy = −x/y² = (−1/16, −2/64)
    let g = grads(&x.div(&y)?.sum(), &[&x, &y])?;
    assert_close(&g[0], &[0.25, 0.125]);
    assert_close(&g[1], &[-0.0625, -0.03125]);

    // A row [2] dividing both rows of [2, 2]: d/dd_j Σ x_ij/d_j = −(Σ_i x_ij)/d_j²
    // = (−(1+3)/4, −(2+4)/16); d/dx_ij = 1/d_j.
    let x = param(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
    let d = param(&[2.0, 4.0], &[2]);
    let g = grads(&x.div(&d)?.sum(), &[&x, &d])?;
    assert_close(&g[0], &[0.5, 0.25, 0.5, 0.25]);
    assert_close(&g[1], &[-1.0, -0.375]);
    Ok(())
}

#[test]
fn affine_and_neg() -> Result<()> {
    let x = param(&[1.0, -2.0], &[2]);
    let y = x.affine(-1.5, 0.25);
    assert_close(y.data(), &[-1.25, 3.25]);
    // d/dx Σ w(ax + b) = a·w: the shift drops out
    let g = grads(&weighted(&y, &[1.0, 2.0])?, &[&x])?;
    assert_close(&g[0], &[-1.5, -3.0]);
    // d/dx Σ w(−x) = −w
    let g = grads(&weighted(&x.neg(), &[1.0, 2.0])?, &[&x])?;
    assert_close(&g[0], &[-1.0, -2.0]);
    // add_scalar and mul_scalar are affine maps with slopes 1 and c
    let g = grads(&x.add_scalar(7.0).mul_scalar(3.0).sum(), &[&x])?;
    assert_close(&g[0], &[3.0, 3.0]);
    Ok(())
}

#[test]
fn exp() -> Result<()> {
    let x = param(&[0.0, LN_2, 1.0], &[3]);
    let y = x.exp();
    assert_close(y.data(), &[1.0, 2.0, E]);
    // d/dx Σ exp(x) = exp(x)
    assert_close(&grads(&y.sum(), &[&x])?[0], &[1.0, 2.0, E]);
    Ok(())
}

#[test]
fn log() -> Result<()> {
    let x = param(&[1.0, 2.0, 4.0], &[3]);
    let y = x.log();
    assert_close(y.data(), &[0.0, LN_2, 2.0 * LN_2]);
    // d/dx Σ ln x = 1/x
    assert_close(&grads(&y.sum(), &[&x])?[0], &[1.0, 0.5, 0.25]);
    Ok(())
}

#[test]
fn sqrt() -> Result<()> {
    let x = param(&[4.0, 9.0, 0.25], &[3]);
    let y = x.sqrt();
    assert_close(y.data(), &[2.0, 3.0, 0.5]);
    // d/dx Σ √x = 1/(2√x) = (1/4, 1/6, 1)
    assert_close(&grads(&y.sum(), &[&x])?[0], &[0.25, 1.0 / 6.0, 1.0]);
    Ok(())
}

#[test]
fn powf() -> Result<()> {
    let x = param(&[2.0, 3.0], &[2]);
    assert_close(x.powf(3.0).data(), &[8.0, 27.0]);
    // d/dx Σ x³ = 3x²
    assert_close(&grads(&x.powf(3.0).sum(), &[&x])?[0], &[12.0, 27.0]);
    // d/dx Σ x² = 2x (the exponent 2 has its own fast path)
    assert_close(&grads(&x.powf(2.0).sum(), &[&x])?[0], &[4.0, 6.0]);
    // d/dx x^(−1/2) = −½ x^(−3/2); at 4: −1/16, at 1/4: −4
    let x = param(&[4.0, 0.25], &[2]);
    assert_close(x.powf(-0.5).data(), &[0.5, 2.0]);
    assert_close(&grads(&x.powf(-0.5).sum(), &[&x])?[0], &[-0.0625, -4.0]);
    Ok(())
}

#[test]
fn abs_with_subgradient_zero_at_zero() -> Result<()> {
    let x = param(&[-2.0, 0.0, 3.0], &[3]);
    let y = x.abs();
    assert_close(y.data(), &[2.0, 0.0, 3.0]);
    // d/dx |x| = sign(x); at 0 the documented subgradient is 0 (as PyTorch)
    assert_close(&grads(&y.sum(), &[&x])?[0], &[-1.0, 0.0, 1.0]);
    Ok(())
}

#[test]
fn select_same_shape_and_broadcast() -> Result<()> {
    let mask = t(&[1.0, 0.0, 1.0], &[3]);
    let a = param(&[1.0, 2.0, 3.0], &[3]);
    let b = param(&[10.0, 20.0, 30.0], &[3]);
    let s = mask.select(&a, &b)?;
    assert_close(s.data(), &[1.0, 20.0, 3.0]);
    // d/da Σ w·(m ? a : b) = w·m, d/db = w·(1 − m)
    let w = [1.0, 2.0, 3.0];
    let g = grads(&weighted(&s, &w)?, &[&a, &b])?;
    assert_close(&g[0], &[1.0, 0.0, 3.0]);
    assert_close(&g[1], &[0.0, 2.0, 0.0]);

    // A rank-0 `b` fills every unselected slot, so its gradient sums their weights: 2 + 4.
    let mask = t(&[1.0, 0.0, 1.0, 0.0], &[2, 2]);
    let a = param(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
    let b = param(&[-1.0], &[]);
    let s = mask.select(&a, &b)?;
    assert_close(s.data(), &[1.0, -1.0, 3.0, -1.0]);
    let g = grads(&weighted(&s, &[1.0, 2.0, 3.0, 4.0])?, &[&a, &b])?;
    assert_close(&g[0], &[1.0, 0.0, 3.0, 0.0]);
    assert_close(&g[1], &[6.0]);
    Ok(())
}

#[test]
fn select_keeps_an_unselected_infinity_out_of_value_and_gradient() -> Result<()> {
    // Selection copies values; nothing unselected enters arithmetic, so ±inf there stays out.
    let mask = t(&[0.0, 1.0], &[2]);
    let a = param(&[f64::INFINITY, 2.0], &[2]);
    let b = param(&[5.0, f64::NEG_INFINITY], &[2]);
    let s = mask.select(&a, &b)?;
    assert_close(s.data(), &[5.0, 2.0]);
    // d/da Σ w(m ? a : b) = w·m, exactly 0 at the infinite unselected entry (not NaN)
    let g = grads(&weighted(&s, &[3.0, 4.0])?, &[&a, &b])?;
    assert_close(&g[0], &[0.0, 4.0]);
    assert_close(&g[1], &[3.0, 0.0]);
    Ok(())
}

/// A = [[1,2,3],[4,5,6]], B = [[1,0],[0,1],[1,1]], W = [[1,2],[3,4]]; L = Σ W∘(AB).
/// dL/dA = W Bᵀ = [[1,2,3],[3,4,7]], dL/dB = Aᵀ W = [[13,18],[17,24],[21,30]].
const A: [f64; 6] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
const AT: [f64; 6] = [1.0, 4.0, 2.0, 5.0, 3.0, 6.0];
const B: [f64; 6] = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
const BT: [f64; 6] = [1.0, 0.0, 1.0, 0.0, 1.0, 1.0];
const W: [f64; 4] = [1.0, 2.0, 3.0, 4.0];
const AB: [f64; 4] = [4.0, 5.0, 10.0, 11.0];
const DA: [f64; 6] = [1.0, 2.0, 3.0, 3.0, 4.0, 7.0];
const DAT: [f64; 6] = [1.0, 3.0, 2.0, 4.0, 3.0, 7.0];
const DB: [f64; 6] = [13.0, 18.0, 17.0, 24.0, 21.0, 30.0];
const DBT: [f64; 6] = [13.0, 17.0, 21.0, 18.0, 24.0, 30.0];

#[test]
fn matmul_and_its_transposed_operand_flags() -> Result<()> {
    // Each flag reads its operand transposed, so storing Aᵀ (or Bᵀ) with the flag set is the
    // same product AB; the gradient of the stored operand is then the transpose of dL/dA
    // (or dL/dB).
    struct Case {
        ta: bool,
        tb: bool,
        a: (&'static [f64], [usize; 2]),
        b: (&'static [f64], [usize; 2]),
        da: &'static [f64],
        db: &'static [f64],
    }
    #[rustfmt::skip]
    let cases = [
        Case { ta: false, tb: false, a: (&A, [2, 3]), b: (&B, [3, 2]), da: &DA, db: &DB },
        Case { ta: true, tb: false, a: (&AT, [3, 2]), b: (&B, [3, 2]), da: &DAT, db: &DB },
        Case { ta: false, tb: true, a: (&A, [2, 3]), b: (&BT, [2, 3]), da: &DA, db: &DBT },
        Case { ta: true, tb: true, a: (&AT, [3, 2]), b: (&BT, [2, 3]), da: &DAT, db: &DBT },
    ];
    for Case {
        ta,
        tb,
        a,
        b,
        da,
        db,
    } in cases
    {
        let a = param(a.0, &a.1);
        let b = param(b.0, &b.1);
        let c = a.matmul_t(&b, ta, tb)?;
        assert_eq!(c.dims(), &[2, 2], "ta {ta}, tb {tb}");
        assert_close(c.data(), &AB);
        let g = grads(&weighted(&c, &W)?, &[&a, &b])?;
        assert_close(&g[0], da);
        assert_close(&g[1], db);
    }
    Ok(())
}

#[test]
fn transpose() -> Result<()> {
    let x = param(&A, &[2, 3]);
    let y = x.transpose()?;
    assert_eq!(y.dims(), &[3, 2]);
    assert_close(y.data(), &AT);
    // d/dx Σ W∘xᵀ = Wᵀ; W = [[1,2],[3,4],[5,6]] gives [[1,3,5],[2,4,6]]
    let g = grads(&weighted(&y, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?, &[&x])?;
    assert_close(&g[0], &[1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
    Ok(())
}

#[test]
fn reshape() -> Result<()> {
    let x = param(&A, &[2, 3]);
    let y = x.reshape(&[3, 2])?;
    assert_eq!(y.dims(), &[3, 2]);
    assert_close(y.data(), &A);
    // Reshaping keeps row-major order, so the gradient is W read in the input's shape.
    let w = [6.0, 5.0, 4.0, 3.0, 2.0, 1.0];
    let g = grads(&weighted(&y, &w)?, &[&x])?;
    assert_close(&g[0], &w);
    Ok(())
}

#[test]
fn expand() -> Result<()> {
    let x = param(&[1.0, 2.0], &[2, 1]);
    let y = x.expand(&[2, 3])?;
    assert_close(y.data(), &[1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
    // Each element is copied across its row: its gradient is the row sum of W, (6, 15).
    let g = grads(&weighted(&y, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?, &[&x])?;
    assert_close(&g[0], &[6.0, 15.0]);

    // Rank up: a row [3] copied into 2 rows collects the column sums of W, (5, 7, 9).
    let x = param(&[1.0, 2.0, 3.0], &[3]);
    let y = x.expand(&[2, 3])?;
    assert_close(y.data(), &[1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
    let g = grads(&weighted(&y, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?, &[&x])?;
    assert_close(&g[0], &[5.0, 7.0, 9.0]);
    Ok(())
}

#[test]
fn sum_to() -> Result<()> {
    let x = param(&A, &[2, 3]);
    let y = x.sum_to(&[3])?;
    assert_close(y.data(), &[5.0, 7.0, 9.0]);
    // Every x_ij feeds y_j once: d/dx_ij Σ w_j y_j = w_j
    let g = grads(&weighted(&y, &[1.0, 2.0, 3.0])?, &[&x])?;
    assert_close(&g[0], &[1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);

    let y = x.sum_to(&[2, 1])?;
    assert_close(y.data(), &[6.0, 15.0]);
    // x_ij feeds y_i: d/dx_ij = w_i
    let g = grads(&weighted(&y, &[-1.0, 2.0])?, &[&x])?;
    assert_close(&g[0], &[-1.0, -1.0, -1.0, 2.0, 2.0, 2.0]);
    Ok(())
}

#[test]
fn gather() -> Result<()> {
    let x = param(&A, &[2, 3]);
    // Row 0 picks column 2, row 1 picks column 0.
    let y = x.gather(1, &[2, 0])?;
    assert_eq!(y.dims(), &[2, 1]);
    assert_close(y.data(), &[3.0, 4.0]);
    // The gradient lands on the picked elements only: w at (0,2) and (1,0)
    let g = grads(&weighted(&y, &[10.0, 20.0])?, &[&x])?;
    assert_close(&g[0], &[0.0, 0.0, 10.0, 20.0, 0.0, 0.0]);

    // Along axis 0, one index per column: rows 1, 1, 0.
    let y = x.gather(0, &[1, 1, 0])?;
    assert_eq!(y.dims(), &[1, 3]);
    assert_close(y.data(), &[4.0, 5.0, 3.0]);
    let g = grads(&weighted(&y, &[1.0, 2.0, 3.0])?, &[&x])?;
    assert_close(&g[0], &[0.0, 0.0, 3.0, 1.0, 2.0, 0.0]);
    Ok(())
}

// ------------------------------------------------------------------------------ composites

#[test]
fn sum_and_mean() -> Result<()> {
    let x = param(&A, &[2, 3]);
    assert_close(&[x.sum().item()?], &[21.0]);
    // d/dx Σx = 1
    assert_close(&grads(&x.sum(), &[&x])?[0], &[1.0; 6]);
    assert_close(&[x.mean().item()?], &[3.5]);
    // d/dx (1/N) Σx = 1/N with N = 6
    assert_close(&grads(&x.mean(), &[&x])?[0], &[1.0 / 6.0; 6]);
    Ok(())
}

#[test]
fn sum_axis_and_mean_axis() -> Result<()> {
    let x = param(&A, &[2, 3]);
    let s0 = x.sum_axis(0, false)?;
    assert_eq!(s0.dims(), &[3]);
    assert_close(s0.data(), &[5.0, 7.0, 9.0]);
    // x_ij feeds column sum j: d/dx_ij = w_j
    let g = grads(&weighted(&s0, &[1.0, 2.0, 3.0])?, &[&x])?;
    assert_close(&g[0], &[1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);

    let s1 = x.sum_axis(1, true)?;
    assert_eq!(s1.dims(), &[2, 1]);
    assert_close(s1.data(), &[6.0, 15.0]);
    let g = grads(&weighted(&s1, &[1.0, 2.0])?, &[&x])?;
    assert_close(&g[0], &[1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);

    let m = x.mean_axis(1, true)?;
    assert_eq!(m.dims(), &[2, 1]);
    assert_close(m.data(), &[2.0, 5.0]);
    // d/dx_ij w_i (1/3) Σ_j x_ij = w_i / 3
    let g = grads(&weighted(&m, &[3.0, 6.0])?, &[&x])?;
    assert_close(&g[0], &[1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);

    let m = x.mean_axis(0, false)?;
    assert_close(m.data(), &[2.5, 3.5, 4.5]);
    // d/dx_ij w_j (1/2) Σ_i x_ij = w_j / 2
    let g = grads(&weighted(&m, &[2.0, 4.0, 6.0])?, &[&x])?;
    assert_close(&g[0], &[1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
    Ok(())
}

#[test]
fn max_axis_sends_the_gradient_to_the_first_maximum() -> Result<()> {
    // Row 1 has a tie between columns 0 and 2.
    let x = param(&[1.0, 5.0, 2.0, 7.0, 3.0, 7.0], &[2, 3]);
    let m = x.max_axis(1, false)?;
    assert_eq!(m.dims(), &[2]);
    assert_close(m.data(), &[5.0, 7.0]);
    // d/dx max_j x_ij = 1 at the (first) argmax, 0 elsewhere, as torch.max(dim)
    let g = grads(&weighted(&m, &[1.0, 2.0])?, &[&x])?;
    assert_close(&g[0], &[0.0, 1.0, 0.0, 2.0, 0.0, 0.0]);

    let m = x.max_axis(0, true)?;
    assert_eq!(m.dims(), &[1, 3]);
    assert_close(m.data(), &[7.0, 5.0, 7.0]);
    let g = grads(&weighted(&m, &[1.0, 2.0, 3.0])?, &[&x])?;
    assert_close(&g[0], &[0.0, 2.0, 0.0, 1.0, 0.0, 3.0]);
    Ok(())
}

#[test]
fn relu_with_derivative_zero_at_zero() -> Result<()> {
    let x = param(&[-1.0, 0.0, 2.0], &[3]);
    let y = x.relu();
    assert_close(y.data(), &[0.0, 0.0, 2.0]);
    // d/dx max(0, x) = [x > 0]; 0 at 0, as PyTorch
    assert_close(&grads(&y.sum(), &[&x])?[0], &[0.0, 0.0, 1.0]);
    Ok(())
}

#[test]
fn sigmoid() -> Result<()> {
    let x = param(&[0.0, ln3(), -ln3()], &[3]);
    let y = x.sigmoid();
    // σ(ln 3) = 3/(3+1), σ(−ln 3) = 1/(1+3)
    assert_close(y.data(), &[0.5, 0.75, 0.25]);
    // σ' = σ(1 − σ): 1/4, 3/16, 3/16
    assert_close(&grads(&y.sum(), &[&x])?[0], &[0.25, 0.1875, 0.1875]);
    Ok(())
}

#[test]
fn tanh() -> Result<()> {
    let x = param(&[0.0, LN_2, -LN_2], &[3]);
    let y = x.tanh();
    // tanh(ln 2) = (2 − 1/2)/(2 + 1/2) = 3/5
    assert_close(y.data(), &[0.0, 0.6, -0.6]);
    // tanh' = 1 − tanh² = 1, 16/25, 16/25
    assert_close(&grads(&y.sum(), &[&x])?[0], &[1.0, 0.64, 0.64]);
    Ok(())
}

#[test]
fn softplus() -> Result<()> {
    let x = param(&[0.0, ln3(), -ln3()], &[3]);
    let y = x.softplus();
    // ln(1 + eˣ): ln 2, ln 4, ln(4/3)
    assert_close(y.data(), &[LN_2, 2.0 * LN_2, 2.0 * LN_2 - ln3()]);
    // softplus' = σ: 1/2, 3/4, 1/4
    assert_close(&grads(&y.sum(), &[&x])?[0], &[0.5, 0.75, 0.25]);
    Ok(())
}

#[test]
fn hard_sigmoid_inside_and_outside_its_ramp() -> Result<()> {
    let x = param(&[-4.0, -1.5, 0.0, 1.5, 4.0], &[5]);
    let y = x.hard_sigmoid();
    // clamp(x/6 + 1/2, 0, 1)
    assert_close(y.data(), &[0.0, 0.25, 0.5, 0.75, 1.0]);
    // slope 1/6 on the ramp (−3, 3), 0 on the flat parts
    let s = 1.0 / 6.0;
    assert_close(&grads(&y.sum(), &[&x])?[0], &[0.0, s, s, s, 0.0]);
    Ok(())
}

#[test]
fn hard_sigmoid_subgradient_is_zero_at_both_kinks_as_pytorch() -> Result<()> {
    // The crate documents a subgradient of 0 at the kinks, as PyTorch's Hardsigmoid, whose
    // backward is `grad / 6` only for −3 < x < 3 (strictly).
    let x = param(&[-3.0, 3.0], &[2]);
    let y = x.hard_sigmoid();
    assert_close(y.data(), &[0.0, 1.0]);
    assert_close(&grads(&y.sum(), &[&x])?[0], &[0.0, 0.0]);
    Ok(())
}

#[test]
fn softmax() -> Result<()> {
    // eˣ = (1, 2, 3) in row 0; row 1 is the same shifted by 100, which softmax ignores.
    let x = param(
        &[0.0, LN_2, ln3(), 100.0, 100.0 + LN_2, 100.0 + ln3()],
        &[2, 3],
    );
    let p = x.softmax(1)?;
    let third = 1.0 / 3.0;
    assert_close(p.data(), &[1.0 / 6.0, third, 0.5, 1.0 / 6.0, third, 0.5]);
    // dp_i/dx_j = p_i(δ_ij − p_j), so d/dx_j Σ_i w_i p_i = p_j (w_j − Σ_i w_i p_i).
    // With w = (1, 2, 3): Σ w p = 1/6 + 2/3 + 3/2 = 7/3, giving (−2/9, −1/9, 1/3).
    let g = grads(&weighted(&p, &[1.0, 2.0, 3.0, 1.0, 2.0, 3.0])?, &[&x])?;
    let row = [-2.0 / 9.0, -1.0 / 9.0, third];
    assert_close(&g[0], &[row, row].concat());
    Ok(())
}

#[test]
fn log_softmax() -> Result<()> {
    let x = param(&[0.0, LN_2, ln3(), ln3(), 0.0, LN_2], &[2, 3]);
    let lp = x.log_softmax(1)?;
    let ln6 = LN_2 + ln3();
    // x − ln Σ eˣ with Σ eˣ = 6 in both rows
    assert_close(
        lp.data(),
        &[-ln6, LN_2 - ln6, ln3() - ln6, ln3() - ln6, -ln6, LN_2 - ln6],
    );
    // d/dx_j Σ_i w_i lp_i = w_j − p_j Σ_i w_i. Row 0, w = (1, 0, 0), p = (1/6, 1/3, 1/2):
    // (5/6, −1/3, −1/2). Row 1, w = (0, 1, 1), p = (1/2, 1/6, 1/3): (−1, 2/3, 1/3).
    let g = grads(&weighted(&lp, &[1.0, 0.0, 0.0, 0.0, 1.0, 1.0])?, &[&x])?;
    assert_close(
        &g[0],
        &[5.0 / 6.0, -1.0 / 3.0, -0.5, -1.0, 2.0 / 3.0, 1.0 / 3.0],
    );

    // Along axis 0 the columns are the distributions: column 0 is (0, ln 3), p = (1/4, 3/4).
    let lp0 = x.log_softmax(0)?;
    let l4 = 2.0 * LN_2;
    assert_close(&lp0.data()[..1], &[-l4]);
    assert_close(&lp0.data()[3..4], &[ln3() - l4]);
    // d/dx_00 of lp_00 alone: 1 − p_00 = 3/4; of x_10: −p_10 = −3/4
    let g = grads(&weighted(&lp0, &[1.0, 0.0, 0.0, 0.0, 0.0, 0.0])?, &[&x])?;
    assert_close(&g[0], &[0.75, 0.0, 0.0, -0.75, 0.0, 0.0]);
    Ok(())
}

/// Logits whose softmax rows are (1/6, 1/3, 1/2) and (1/2, 1/6, 1/3).
fn two_row_logits() -> [f64; 6] {
    [0.0, LN_2, ln3(), ln3(), 0.0, LN_2]
}
const P: [f64; 6] = [1.0 / 6.0, 1.0 / 3.0, 0.5, 0.5, 1.0 / 6.0, 1.0 / 3.0];

#[test]
fn cross_entropy_on_integer_labels() -> Result<()> {
    let z = param(&two_row_logits(), &[2, 3]);
    let l = cross_entropy(&z, &[2, 0])?;
    // −ln p[label]: −ln(1/2) in both rows, so the mean is ln 2
    assert_close(&[l.item()?], &[LN_2]);
    // d/dz (1/N) Σ_n −ln p_n[y_n] = (p − onehot(y)) / N
    let g = grads(&l, &[&z])?;
    assert_close(
        &g[0],
        &[1.0 / 12.0, 1.0 / 6.0, -0.25, -0.25, 1.0 / 12.0, 1.0 / 6.0],
    );
    Ok(())
}

#[test]
fn mse_and_mae() -> Result<()> {
    let pred = param(&[1.0, 2.0, 3.0], &[3, 1]);
    let target = param(&[0.0, 2.0, 5.0], &[3, 1]);
    let l = mse(&pred, &target)?;
    // (1² + 0² + 2²) / 3
    assert_close(&[l.item()?], &[5.0 / 3.0]);
    // d/dŷ (1/N) Σ (ŷ − y)² = 2(ŷ − y)/N, and the negative for y
    let g = grads(&l, &[&pred, &target])?;
    assert_close(&g[0], &[2.0 / 3.0, 0.0, -4.0 / 3.0]);
    assert_close(&g[1], &[-2.0 / 3.0, 0.0, 4.0 / 3.0]);

    let l = mae(&pred, &target)?;
    // (1 + 0 + 2) / 3
    assert_close(&[l.item()?], &[1.0]);
    // d/dŷ (1/N) Σ |ŷ − y| = sign(ŷ − y)/N, with 0 where they are equal (as PyTorch's L1Loss)
    let g = grads(&l, &[&pred, &target])?;
    assert_close(&g[0], &[1.0 / 3.0, 0.0, -1.0 / 3.0]);
    assert_close(&g[1], &[-1.0 / 3.0, 0.0, 1.0 / 3.0]);
    Ok(())
}

#[test]
fn softmax_mse_on_integer_labels() -> Result<()> {
    let z = param(&[0.0, LN_2, ln3()], &[1, 3]);
    let l = softmax_mse(&z, &[2])?;
    // p = (1/6, 1/3, 1/2), y = (0, 0, 1): 1/36 + 1/9 + 1/4 = 14/36
    assert_close(&[l.item()?], &[7.0 / 18.0]);
    // d = dL/dp = 2(p − y) = (1/3, 2/3, −1); dL/dz_j = p_j (d_j − Σ_i d_i p_i) with
    // Σ d p = 1/18 + 2/9 − 1/2 = −2/9: (1/6·5/9, 1/3·8/9, 1/2·(−7/9))
    let g = grads(&l, &[&z])?;
    assert_close(&g[0], &[5.0 / 54.0, 8.0 / 27.0, -7.0 / 18.0]);
    Ok(())
}

#[test]
fn binary_cross_entropy_with_logits_on_soft_targets() -> Result<()> {
    let x = param(&[0.0, ln3(), -ln3()], &[3]);
    let y = t(&[1.0, 0.0, 0.5], &[3]);
    let l = binary_cross_entropy_with_logits(&x, &y)?;
    // softplus(x) − xy per element: ln 2, ln 4, ln(4/3) + (ln 3)/2; then the mean
    let expected = (LN_2 + 2.0 * LN_2 + (2.0 * LN_2 - ln3()) + 0.5 * ln3()) / 3.0;
    assert_close(&[l.item()?], &[expected]);
    // d/dx (softplus(x) − xy)/N = (σ(x) − y)/N: (−1/2, 3/4, −1/4) / 3
    let g = grads(&l, &[&x])?;
    assert_close(&g[0], &[-1.0 / 6.0, 0.25, -1.0 / 12.0]);
    Ok(())
}

// ---------------------------------------------------------------------- second derivatives

#[test]
fn cube_second_derivative_by_grad_twice_and_by_hessian() -> Result<()> {
    let x = Tensor::scalar(2.0).into_param();
    let y = x.powf(3.0);
    // d(x³)/dx = 3x² = 12 at 2
    let d1 = grad(&y, std::slice::from_ref(&x), true)?;
    assert_close(&[d1[0].item()?], &[12.0]);
    // d²(x³)/dx² = 6x = 12 at 2
    let d2 = grad(&d1[0], std::slice::from_ref(&x), true)?;
    assert_close(&[d2[0].item()?], &[12.0]);
    // d³(x³)/dx³ = 6: the second derivative's graph is differentiable too
    let d3 = grad(&d2[0], &[x], false)?;
    assert_close(&[d3[0].item()?], &[6.0]);

    let h = hessian(|p| Ok(p[0].powf(3.0).sum()), &[Tensor::scalar(2.0)])?;
    assert_close(&h, &[12.0]);
    Ok(())
}

/// The diagonal second derivative of Σ f(x) by `grad` with `create_graph`, twice.
fn second_derivative(x: &[f64], f: impl Fn(&Tensor<f64>) -> Tensor<f64>) -> Result<Vec<f64>> {
    let x = param(x, &[x.len()]);
    let d1 = grad(&f(&x).sum(), std::slice::from_ref(&x), true)?;
    let d2 = grad(&d1[0].sum(), &[x], false)?;
    Ok(d2[0].to_vec())
}

#[test]
fn elementwise_second_derivatives() -> Result<()> {
    // σ'' = σ(1 − σ)(1 − 2σ): 0 at 0; (3/16)(−1/2) at ln 3; (3/16)(1/2) at −ln 3
    let x = [0.0, ln3(), -ln3()];
    assert_close(
        &second_derivative(&x, |x| x.sigmoid())?,
        &[0.0, -3.0 / 32.0, 3.0 / 32.0],
    );
    // The Hessian of Σ σ(x) is diagonal with the same entries.
    let h = hessian(|p| Ok(p[0].sigmoid().sum()), &[t(&x, &[3])])?;
    let d = -3.0 / 32.0;
    assert_close(&h, &[0.0, 0.0, 0.0, 0.0, d, 0.0, 0.0, 0.0, -d]);

    // tanh'' = −2 tanh (1 − tanh²): ∓2·(3/5)·(16/25) at ±ln 2
    assert_close(
        &second_derivative(&[LN_2, -LN_2], |x| x.tanh())?,
        &[-0.768, 0.768],
    );
    // softplus'' = σ' = σ(1 − σ): 3/16 at ±ln 3
    assert_close(
        &second_derivative(&[ln3(), -ln3()], |x| x.softplus())?,
        &[0.1875, 0.1875],
    );
    // (ln x)'' = −1/x², (√x)'' = −¼ x^(−3/2), (eˣ)'' = eˣ, (1/x)'' via div = 2/x³
    assert_close(
        &second_derivative(&[2.0, 0.5], |x| x.log())?,
        &[-0.25, -4.0],
    );
    assert_close(&second_derivative(&[4.0], |x| x.sqrt())?, &[-1.0 / 32.0]);
    assert_close(&second_derivative(&[LN_2], |x| x.exp())?, &[2.0]);
    assert_close(
        &second_derivative(&[2.0], |x| Tensor::scalar(1.0).div(x).unwrap())?,
        &[0.25],
    );
    // Piecewise-linear functions have second derivative 0 wherever it exists.
    assert_close(
        &second_derivative(&[-1.0, 2.0], |x| x.relu().add(&x.abs()).unwrap())?,
        &[0.0, 0.0],
    );
    Ok(())
}

#[test]
fn mixed_second_derivative_of_a_product() -> Result<()> {
    // f(x, y) = x²y: H = [[2y, 2x], [2x, 0]], at (3, −1): [[−2, 6], [6, 0]]
    let h = hessian(
        |p| Ok(p[0].powf(2.0).mul(&p[1])?.sum()),
        &[Tensor::scalar(3.0), Tensor::scalar(-1.0)],
    )?;
    assert_close(&h, &[-2.0, 6.0, 6.0, 0.0]);
    Ok(())
}

#[test]
fn softmax_cross_entropy_hessian_in_closed_form() -> Result<()> {
    // L = (1/N) Σ_n −ln softmax(z_n)[y_n]. Its Hessian in z is block diagonal over rows, each
    // block (diag(p_n) − p_n p_nᵀ)/N — independent of the labels.
    let (n, c) = (2, 3);
    let h = hessian(
        |p| cross_entropy(&p[0], &[2, 0]),
        &[t(&two_row_logits(), &[n, c])],
    )?;
    let mut expected = vec![0.0; (n * c) * (n * c)];
    for row in 0..n {
        for i in 0..c {
            for j in 0..c {
                let (pi, pj) = (P[row * c + i], P[row * c + j]);
                let delta = if i == j { pi } else { 0.0 };
                expected[(row * c + i) * (n * c) + row * c + j] = (delta - pi * pj) / n as f64;
            }
        }
    }
    assert_close(&h, &expected);
    Ok(())
}

#[test]
fn mse_of_a_linear_model_has_hessian_two_over_n_xtx() -> Result<()> {
    // L(w, b) = (1/N) ‖Xw + b − y‖² is quadratic with H = (2/N) X̃ᵀX̃, X̃ = [X 1]:
    // XᵀX = [[35, 44], [44, 56]], Xᵀ1 = (9, 12), 1ᵀ1 = 3.
    let x = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]);
    let y = t(&[1.0, -1.0, 0.5], &[3, 1]);
    let h = hessian(
        |p| mse(&x.matmul(&p[0])?.add(&p[1])?, &y),
        &[t(&[0.3, -0.2], &[2, 1]), t(&[0.1], &[1])],
    )?;
    let xt_x = [35.0, 44.0, 9.0, 44.0, 56.0, 12.0, 9.0, 12.0, 3.0];
    let expected: Vec<f64> = xt_x.iter().map(|v| 2.0 / 3.0 * v).collect();
    assert_close(&h, &expected);
    Ok(())
}

// -------------------------------------------------------------------------- extreme inputs

#[track_caller]
fn assert_finite(what: &str, v: &[f64]) {
    assert!(v.iter().all(|x| x.is_finite()), "{what} not finite: {v:?}");
}

#[test]
fn saturating_functions_stay_finite_at_plus_minus_1000() -> Result<()> {
    let x = param(&[1000.0, -1000.0], &[2]);

    let y = x.sigmoid();
    assert_finite("sigmoid", y.data());
    // σ saturates to exactly 1 and 0 in f64; σ' = σ(1 − σ) underflows to 0 on both sides
    assert_close(y.data(), &[1.0, 0.0]);
    assert_close(&grads(&y.sum(), &[&x])?[0], &[0.0, 0.0]);

    let y = x.softplus();
    // softplus(x) → x for large x and → eˣ (underflowing to 0) for very negative x
    assert_close(y.data(), &[1000.0, 0.0]);
    // softplus' = σ
    assert_close(&grads(&y.sum(), &[&x])?[0], &[1.0, 0.0]);

    let y = x.tanh();
    assert_close(y.data(), &[1.0, -1.0]);
    assert_close(&grads(&y.sum(), &[&x])?[0], &[0.0, 0.0]);

    let h = hessian(
        |p| Ok(p[0].sigmoid().add(&p[0].softplus())?.sum()),
        &[x.detach()],
    )?;
    assert_finite("sigmoid + softplus Hessian", &h);
    Ok(())
}

#[test]
fn log_softmax_and_cross_entropy_stay_finite_at_plus_minus_1000() -> Result<()> {
    let z = param(&[1000.0, -1000.0], &[1, 2]);
    let lp = z.log_softmax(1)?;
    // ln Σ e^z = 1000 + ln(1 + e^−2000) = 1000 in f64
    assert_close(lp.data(), &[0.0, -2000.0]);
    // d/dz lp_1 = onehot(1) − p with p = (1, 0)
    let g = grads(&weighted(&lp, &[0.0, 1.0])?, &[&z])?;
    assert_close(&g[0], &[-1.0, 1.0]);

    let p = z.softmax(1)?;
    assert_close(p.data(), &[1.0, 0.0]);

    // The wrong label costs −ln p = 2000; the gradient is p − onehot = (1, −1).
    let l = cross_entropy(&z, &[1])?;
    assert_close(&[l.item()?], &[2000.0]);
    assert_close(&grads(&l, &[&z])?[0], &[1.0, -1.0]);
    // The right label costs 0 with zero gradient.
    let l = cross_entropy(&z, &[0])?;
    assert_close(&[l.item()?], &[0.0]);
    assert_close(&grads(&l, &[&z])?[0], &[0.0, 0.0]);

    let h = hessian(|p| cross_entropy(&p[0], &[1]), &[z.detach()])?;
    // diag(p) − ppᵀ with p = (1, 0) is exactly 0
    assert_close(&h, &[0.0; 4]);

    let l = binary_cross_entropy_with_logits(&z, &t(&[0.0, 1.0], &[1, 2]))?;
    // Both are confidently wrong: softplus(1000) − 0 and softplus(−1000) + 1000, mean 1000
    assert_close(&[l.item()?], &[1000.0]);
    // (σ(z) − y)/2 = (1/2, −1/2)
    assert_close(&grads(&l, &[&z])?[0], &[0.5, -0.5]);
    Ok(())
}
