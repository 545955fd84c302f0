//! Reverse mode: the backward rule of every primitive, and the engine that applies them.
//!
//! Each rule is written in the differentiable ops of `primitives.rs`. With `create_graph` the
//! rules run with recording on, so the gradients they return are themselves on the graph and
//! can be differentiated again (Hessian-vector products); without it, they run unrecorded and
//! plain training pays nothing for second-order support.

use crate::element::Element;
use crate::error::{Error, Result};
use crate::grad_mode::{with_grad, NoGradGuard};
use crate::primitives::Op;
use crate::shape::Shape;
use crate::tensor::Tensor;
use rustc_hash::{FxHashMap, FxHashSet};

/// Reduces a broadcast gradient back to an input's shape.
fn unbroadcast<T: Element>(g: Tensor<T>, shape: Shape) -> Result<Tensor<T>> {
    if g.shape() == shape {
        Ok(g)
    } else {
        g.sum_to_shape(shape)
    }
}

/// Gradients of the inputs of `out` (produced by `op`) given the gradient `g` of `out`.
/// `None` where an input needs no gradient.
fn rule<T: Element>(op: &Op<T>, out: &Tensor<T>, g: &Tensor<T>) -> Result<[Option<Tensor<T>>; 2]> {
    let need = |t: &Tensor<T>| t.requires_grad();
    Ok(match op {
        Op::Add(a, b) => [
            if need(a) {
                Some(unbroadcast(g.clone(), a.shape())?)
            } else {
                None
            },
            if need(b) {
                Some(unbroadcast(g.clone(), b.shape())?)
            } else {
                None
            },
        ],
        Op::Sub(a, b) => [
            if need(a) {
                Some(unbroadcast(g.clone(), a.shape())?)
            } else {
                None
            },
            if need(b) {
                Some(unbroadcast(g.neg(), b.shape())?)
            } else {
                None
            },
        ],
        // d(ab) = b da + a db
        Op::Mul(a, b) => [
            if need(a) {
                Some(unbroadcast(g.mul(b)?, a.shape())?)
            } else {
                None
            },
            if need(b) {
                Some(unbroadcast(g.mul(a)?, b.shape())?)
            } else {
                None
            },
        ],
        // d(a/b) = da / b − (a/b) db / b
        Op::Div(a, b) => [
            if need(a) {
                Some(unbroadcast(g.div(b)?, a.shape())?)
            } else {
                None
            },
            if need(b) {
                Some(unbroadcast(g.mul(out)?.div(b)?.neg(), b.shape())?)
            } else {
                None
            },
        ],
        Op::Affine(_, s) => [Some(g.mul_scalar(*s)), None],
        // d exp(a) = exp(a) da
        Op::Exp(_) => [Some(g.mul(out)?), None],
        Op::Log(a) => [Some(g.div(a)?), None],
        // d sqrt(a) = da / (2 sqrt(a))
        Op::Sqrt(_) => [Some(g.div(out)?.mul_scalar(T::from_f64(0.5))), None],
        // d a^p = p a^(p−1) da
        Op::PowF(a, p) => {
            let d = if *p == T::from_f64(2.0) {
                a.mul_scalar(T::from_f64(2.0))
            } else if *p == T::one() {
                return Ok([Some(g.clone()), None]);
            } else {
                a.powf(*p - T::one()).mul_scalar(*p)
            };
            [Some(g.mul(&d)?), None]
        }
        // σ' = σ(1 − σ), with σ the (differentiable) output
        Op::Sigmoid(_) => [
            Some(g.mul(out)?.mul(&out.affine(-T::one(), T::one()))?),
            None,
        ],
        // relu' = 1 where the output is positive (a constant mask), else 0
        Op::Relu(_) => [Some(g.mul(&out.gt_scalar(T::zero()))?), None],
        // tanh' = 1 − tanh²
        Op::Tanh(_) => [
            Some(g.mul(&out.powf(T::from_f64(2.0)).affine(-T::one(), T::one()))?),
            None,
        ],
        // sign(a) is a constant: its own derivative is 0 almost everywhere.
        Op::Abs(a) => {
            let sign = a
                .gt_scalar(T::zero())
                .sub(&a.lt(&Tensor::scalar(T::zero()))?)?;
            [Some(g.mul(&sign)?), None]
        }
        Op::Select(mask, a, b) => [
            if need(a) {
                Some(unbroadcast(g.mul(mask)?, a.shape())?)
            } else {
                None
            },
            if need(b) {
                let not = mask.affine(-T::one(), T::one());
                Some(unbroadcast(g.mul(&not)?, b.shape())?)
            } else {
                None
            },
        ],
        // C = A'B' with A' = op(A), B' = op(B): dA' = g B'ᵀ, dB' = A'ᵀ g, then undo op.
        Op::MatMul(a, b, ta, tb) => [
            if need(a) {
                Some(if *ta {
                    b.matmul_t(g, *tb, true)?
                } else {
                    g.matmul_t(b, false, !*tb)?
                })
            } else {
                None
            },
            if need(b) {
                Some(if *tb {
                    g.matmul_t(a, true, *ta)?
                } else {
                    a.matmul_t(g, !*ta, false)?
                })
            } else {
                None
            },
        ],
        Op::TransposeLast2(_) => [Some(g.transpose()?), None],
        Op::Reshape(a) => [Some(g.reshape_to(a.shape())?), None],
        Op::Expand(a) => [Some(g.sum_to_shape(a.shape())?), None],
        Op::SumTo(a) => [Some(g.expand_to(a.shape())?), None],
        Op::Gather(a, axis, idx) => [Some(g.scatter(a.shape(), *axis, idx.clone())), None],
        Op::Scatter(_, axis, idx) => [Some(g.gather_unchecked(*axis, idx.clone())), None],
        Op::TakeCols(a, idx) => [Some(g.put_cols(idx.clone(), a.dims()[1])), None],
        Op::PutCols(_, idx) => [Some(g.take_cols_unchecked(idx.clone())), None],
        Op::TakeAlong(a, idx) => [Some(g.put_along(idx.clone(), a.dims()[1])), None],
        Op::PutAlong(_, idx) => [Some(g.take_along(idx.clone())), None],
        // y = conv(x, w) is bilinear; its input gradient is the adjoint in x, its weight
        // gradient the adjoint in w, and each of the three is the others' derivative:
        // ⟨h, convᵀ_w(dy)⟩ = ⟨conv(h, w), dy⟩ and ⟨H, dW(x, dy)⟩ = ⟨conv(x, H), dy⟩.
        Op::Conv2d(x, w, geo) => [
            need(x).then(|| g.conv2d_input_grad(w, *geo)),
            need(w).then(|| x.conv2d_weight_grad(g, *geo)),
        ],
        Op::Conv2dInputGrad(dy, w, geo) => [
            need(dy).then(|| g.conv2d_primitive(w, *geo)),
            need(w).then(|| g.conv2d_weight_grad(dy, *geo)),
        ],
        Op::Conv2dWeightGrad(x, dy, geo) => [
            need(x).then(|| dy.conv2d_input_grad(g, *geo)),
            need(dy).then(|| x.conv2d_primitive(g, *geo)),
        ],
    })
}

/// Post-order of the recorded nodes reachable from `roots` (inputs before their users).
fn topo_order<T: Element>(roots: &[Tensor<T>]) -> Vec<Tensor<T>> {
    let mut order = Vec::new();
    let mut visited = FxHashSet::default();
    let mut stack: Vec<(Tensor<T>, bool)> = roots
        .iter()
        .filter(|r| r.requires_grad())
        .map(|r| (r.clone(), false))
        .collect();
    while let Some((t, expanded)) = stack.pop() {
        if expanded {
            order.push(t);
            continue;
        }
        if !visited.insert(t.id()) {
            continue;
        }
        stack.push((t.clone(), true));
        if let Some(op) = t.op() {
            for inp in op.inputs().into_iter().flatten() {
                if inp.requires_grad() && !visited.contains(&inp.id()) {
                    stack.push((inp.clone(), false));
                }
            }
        }
    }
    order
}

/// Gradient of the scalar `output` with respect to each tensor of `wrt`.
///
/// With `create_graph`, the returned gradients stay on the graph so `grad` applies to them
/// again (second order). A tensor of `wrt` that `output` does not depend on gets zeros.
///
/// ```
/// use trainscope_core::{grad, Tensor};
/// // d²(x³)/dx² at x = 2 is 6x = 12.
/// let x = Tensor::<f64>::scalar(2.0).into_param();
/// let y = x.powf(3.0);
/// let dy = grad(&y, std::slice::from_ref(&x), true).unwrap();
/// let d2y = grad(&dy[0], &[x], false).unwrap();
/// assert!((d2y[0].item().unwrap() - 12.0).abs() < 1e-12);
/// ```
pub fn grad<T: Element>(
    output: &Tensor<T>,
    wrt: &[Tensor<T>],
    create_graph: bool,
) -> Result<Vec<Tensor<T>>> {
    if output.numel() != 1 {
        return Err(Error::invalid(
            "grad",
            format!(
                "output must have one element, shape is {}; reduce it (sum or mean) first",
                output.shape()
            ),
        ));
    }
    let seed = Tensor::full_shape(output.shape(), T::one());
    grad_with_seeds(std::slice::from_ref(output), &[seed], wrt, create_graph)
}

/// The vector–Jacobian product: the gradient of `Σ_k ⟨seeds[k], outputs[k]⟩` with respect to
/// `wrt`. With gradients as `outputs` and a direction as `seeds`, this is a Hessian-vector
/// product.
pub fn grad_with_seeds<T: Element>(
    outputs: &[Tensor<T>],
    seeds: &[Tensor<T>],
    wrt: &[Tensor<T>],
    create_graph: bool,
) -> Result<Vec<Tensor<T>>> {
    if outputs.len() != seeds.len() {
        return Err(Error::invalid(
            "grad",
            format!("{} outputs but {} seeds", outputs.len(), seeds.len()),
        ));
    }
    let _mode = if create_graph {
        None
    } else {
        Some(NoGradGuard::new())
    };
    let run = || -> Result<Vec<Tensor<T>>> {
        let mut grads: FxHashMap<usize, Tensor<T>> = FxHashMap::default();
        for (o, s) in outputs.iter().zip(seeds) {
            o.check_same_shape("grad (seed)", s)?;
            if o.requires_grad() {
                accumulate(&mut grads, o.id(), s.clone(), create_graph)?;
            }
        }
        let wanted: FxHashSet<usize> = wrt.iter().map(|t| t.id()).collect();
        let mut found: FxHashMap<usize, Tensor<T>> = FxHashMap::default();
        for node in topo_order(outputs).iter().rev() {
            let id = node.id();
            let Some(g) = grads.remove(&id) else { continue };
            if wanted.contains(&id) {
                found.insert(id, g.clone());
            }
            let Some(op) = node.op() else { continue };
            let [ga, gb] = rule(op, node, &g)?;
            let [ia, ib] = op.inputs();
            for (inp, gi) in [(ia, ga), (ib, gb)] {
                if let (Some(inp), Some(gi)) = (inp, gi) {
                    if inp.requires_grad() {
                        accumulate(&mut grads, inp.id(), gi, create_graph)?;
                    }
                }
            }
        }
        Ok(wrt
            .iter()
            .map(|t| {
                found
                    .get(&t.id())
                    .cloned()
                    .unwrap_or_else(|| Tensor::full_shape(t.shape(), T::zero()))
            })
            .collect())
    };
    if create_graph {
        with_grad(run)
    } else {
        run()
    }
}

fn accumulate<T: Element>(
    grads: &mut FxHashMap<usize, Tensor<T>>,
    id: usize,
    g: Tensor<T>,
    create_graph: bool,
) -> Result<()> {
    match grads.remove(&id) {
        None => {
            grads.insert(id, g);
        }
        Some(mut acc) => {
            let sum = if !create_graph && acc.is_unique() {
                // No graph to keep: add in place instead of allocating.
                for (x, &y) in acc.data_mut().iter_mut().zip(g.data()) {
                    *x += y;
                }
                acc
            } else {
                acc.add(&g)?
            };
            grads.insert(id, sum);
        }
    }
    Ok(())
}
