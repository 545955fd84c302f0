//! Gradient transforms: the small pieces every optimizer is chained from.
//!
//! Following Optax, a transform maps the *update* vector (initially the gradient) to a new
//! update, possibly keeping state. The optimizer adds the final update to the parameters, so
//! the learning-rate transform [`ScaleByLearningRate`] flips the sign. Every optimizer in
//! this crate fits the lecture's summary form
//!
//! ```text
//! θ_i^{t+1} = θ_i^t − (η^t / σ_i^t) m_i^t
//! ```
//!
//! with `η^t` from [`ScaleByLearningRate`], `σ` from one of the root-mean-square transforms and
//! `m` from [`Trace`] or [`ScaleByAdam`].
//!
//! Transforms are element-wise (each output element depends on the same element of the
//! update, parameters and state) or, like [`ClipByGlobalNorm`], need one global quantity
//! first. That lets the [`Optimizer`](crate::Optimizer) run the whole chain over one small
//! block of elements at a time while the block sits in the cache, and blocks side by side on
//! several threads, instead of one pass over all parameters per transform. As in Optax the
//! state lives outside the transform: the optimizer owns the buffers a transform names in
//! [`GradientTransform::state_names`] and hands it the matching block of each.

use std::fmt::Debug;

use num_traits::Float;

/// What a transform may read about the current step, and where it may report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepContext {
    /// Updates completed before this one: 0 on the first step (PyTorch's `step` is this + 1).
    pub step: u64,
    /// Learning rate in effect for this step, from the optimizer's schedule.
    pub lr: f64,
    /// Global gradient norm before clipping, set by [`ClipByGlobalNorm`].
    pub grad_norm: Option<f64>,
}

/// The most state buffers one transform may name.
pub const MAX_STATE_BUFFERS: usize = 4;

/// One link of an optimizer chain.
///
/// `update` transforms one block of the flat update vector (the gradient after earlier
/// links). Blocks may be processed in any order and on several threads at once, so the
/// result for an element may depend only on that element of `updates`, `params` and the
/// state, and on what [`prepare`](Self::prepare) computed for the whole step.
pub trait GradientTransform<T: Float>: Send + Sync + Debug {
    /// Short name used as a prefix of the saved state buffers.
    fn name(&self) -> &'static str;
    /// Whether `update` needs the current parameter values (otherwise it gets an empty
    /// slice).
    fn uses_params(&self) -> bool {
        false
    }
    /// Names of the per-element state buffers (at most [`MAX_STATE_BUFFERS`]), in the order
    /// `update` receives them. Saved as `"<position>.<transform>.<buffer>"`.
    fn state_names(&self) -> &'static [&'static str] {
        &[]
    }
    /// The value every element of state buffer `k` starts at.
    fn state_init(&self, _k: usize) -> T {
        T::zero()
    }
    /// Whether the transform needs the whole update vector before it can transform any block
    /// (a global norm); [`prepare`](Self::prepare) is then called first, every step.
    fn is_global(&self) -> bool {
        false
    }
    /// Sees the whole update vector, one slice per tensor, before any block of this step.
    /// Called only when [`is_global`](Self::is_global) is true.
    fn prepare(&mut self, _updates: &mut dyn Iterator<Item = &[T]>, _ctx: &mut StepContext) {}
    /// Transforms one block of the update in place. `params` holds the same elements of the
    /// parameters when [`uses_params`](Self::uses_params) is true, `state[k]` the same
    /// elements of state buffer `k`.
    fn update(&self, updates: &mut [T], params: &[T], state: &mut [&mut [T]], ctx: &StepContext);
}

/// The element types optimizers work on: any `Float` that can cross threads (`f32`, `f64`).
pub trait Scalar: Float + Send + Sync + Debug + 'static {}
impl<T: Float + Send + Sync + Debug + 'static> Scalar for T {}

/// Converts a hyperparameter to the element type; `Float` types always succeed, and NaN
/// (rather than a panic) is the fallback should a custom type refuse.
pub(crate) fn cast<T: Float>(x: f64) -> T {
    T::from(x).unwrap_or_else(T::nan)
}

/// `torch.lerp(start, end, w) = start + w (end − start)` for a fixed `w`, computed from
/// whichever end is nearer to `w` so results match PyTorch's `lerp_` bit for bit.
#[derive(Clone, Copy)]
struct Lerp<T> {
    w: T,
    one_minus_w: T,
    from_start: bool,
}

impl<T: Float> Lerp<T> {
    #[inline]
    fn new(w: T) -> Self {
        Lerp {
            w,
            one_minus_w: T::one() - w,
            from_start: w.abs() < cast(0.5),
        }
    }
    #[inline(always)]
    fn at(self, start: T, end: T) -> T {
        if self.from_start {
            start + self.w * (end - start)
        } else {
            end - (end - start) * self.one_minus_w
        }
    }
}

/// `x`, or zero if `x` is subnormal. Decaying state (momentum, moving averages) of an element
/// whose gradient stays zero, such as the weight of an always-blank input pixel, shrinks
/// geometrically into the subnormal range, where x86 arithmetic is 20–100× slower (an Adam
/// step over such a model measured 19× slower); stored state is therefore flushed to zero
/// there. Only values below `T::min_positive_value()` (1.2e-38 in f32, 2.2e-308 in f64) are
/// affected, the same on every platform.
#[inline(always)]
fn flush<T: Float>(x: T) -> T {
    if x.abs() < T::min_positive_value() {
        T::zero()
    } else {
        x
    }
}

/// Multiplies the update by `−η^t`, the learning rate of the step (Optax
/// `scale_by_learning_rate`). The sign flip turns a descent direction into an update that is
/// *added* to the parameters.
#[derive(Debug, Clone, Default)]
pub struct ScaleByLearningRate;

impl<T: Float> GradientTransform<T> for ScaleByLearningRate {
    fn name(&self) -> &'static str {
        "scale_by_lr"
    }
    fn update(&self, updates: &mut [T], _params: &[T], _state: &mut [&mut [T]], ctx: &StepContext) {
        let neg_lr: T = cast(-ctx.lr);
        updates.iter_mut().for_each(|u| *u = *u * neg_lr);
    }
}

/// Momentum: a decaying sum of past updates (Optax `trace`, PyTorch SGD's momentum buffer).
///
/// ```text
/// b^0 = u^0;   b^t = μ b^{t−1} + (1 − dampening) u^t      (t > 0)
/// out = b^t                 (heavy ball)
/// out = u^t + μ b^t         (Nesterov)
/// ```
///
/// The first step copies the update without dampening, exactly as `torch.optim.SGD` does.
///
/// **Placement decides the variant.** Before [`ScaleByLearningRate`] this is PyTorch's
/// `b ← μ b + g, θ ← θ − η b`. After it, with no dampening, it is the lecture's
/// `m ← λ m − η g, θ ← θ + m`. The two agree while η is constant and differ once a schedule
/// changes η: the lecture form keeps old steps at the η they were taken with.
#[derive(Debug, Clone)]
pub struct Trace<T> {
    momentum: T,
    one_minus_dampening: T,
    nesterov: bool,
}

impl<T: Float> Trace<T> {
    /// `momentum` μ, `dampening` in [0, 1], `nesterov` look-ahead. Validation lives in the
    /// named optimizers; here any value is taken as given.
    pub fn new(momentum: f64, dampening: f64, nesterov: bool) -> Self {
        Trace {
            momentum: cast(momentum),
            one_minus_dampening: cast(1.0 - dampening),
            nesterov,
        }
    }
}

impl<T: Scalar> GradientTransform<T> for Trace<T> {
    fn name(&self) -> &'static str {
        "trace"
    }
    fn state_names(&self) -> &'static [&'static str] {
        &["momentum"]
    }
    fn update(&self, updates: &mut [T], _params: &[T], state: &mut [&mut [T]], ctx: &StepContext) {
        let [buf] = state else { return };
        let buf = &mut buf[..updates.len()];
        let (mu, keep) = (self.momentum, self.one_minus_dampening);
        if ctx.step == 0 {
            buf.copy_from_slice(updates);
        } else {
            for (b, &u) in buf.iter_mut().zip(updates.iter()) {
                *b = flush(*b * mu + u * keep);
            }
        }
        if self.nesterov {
            for (u, &b) in updates.iter_mut().zip(buf.iter()) {
                *u = *u + b * mu;
            }
        } else {
            updates.copy_from_slice(buf);
        }
    }
}

/// Adds `λ θ` to the update (Optax `add_decayed_weights`).
///
/// Before a normalising transform it is L2 regularisation ("coupled" weight decay, the
/// `weight_decay` of `torch.optim.SGD`, `Adagrad`, `RMSprop`, `Adam`, `RAdam`): the gradient of
/// `L + λ/2 ‖θ‖²`. After it (just before the learning rate) it is decoupled weight decay as in
/// AdamW (Loshchilov & Hutter, 2019): `θ ← θ − η(u + λθ) = θ(1 − ηλ) − ηu`.
#[derive(Debug, Clone)]
pub struct AddDecayedWeights<T> {
    weight_decay: T,
}

impl<T: Float> AddDecayedWeights<T> {
    /// Decay coefficient λ.
    pub fn new(weight_decay: f64) -> Self {
        AddDecayedWeights {
            weight_decay: cast(weight_decay),
        }
    }
}

impl<T: Scalar> GradientTransform<T> for AddDecayedWeights<T> {
    fn name(&self) -> &'static str {
        "add_decayed_weights"
    }
    fn uses_params(&self) -> bool {
        true
    }
    fn update(&self, updates: &mut [T], params: &[T], _state: &mut [&mut [T]], _ctx: &StepContext) {
        for (u, &p) in updates.iter_mut().zip(params) {
            *u = *u + p * self.weight_decay;
        }
    }
}

/// PyTorch Adagrad's scaling: root of the *sum* of squared gradients, plus ε outside the root
/// (`torch.optim.Adagrad`; Duchi, Hazan & Singer, 2011).
///
/// ```text
/// s^t = s^{t−1} + (g^t)²        s^{−1} = initial_accumulator_value
/// out = g^t / (√s^t + ε) / (1 + t · lr_decay)
/// ```
///
/// The last factor is torch's `lr_decay`, `clr = lr / (1 + (step − 1) lr_decay)`. The lecture
/// variant is [`ScaleByRootMeanSquare`].
#[derive(Debug, Clone)]
pub struct ScaleByRootSumSquare<T> {
    eps: T,
    initial: T,
    lr_decay: f64,
}

impl<T: Float> ScaleByRootSumSquare<T> {
    /// `eps` added to the root, `initial_accumulator_value`, `lr_decay`.
    pub fn new(eps: f64, initial_accumulator_value: f64, lr_decay: f64) -> Self {
        ScaleByRootSumSquare {
            eps: cast(eps),
            initial: cast(initial_accumulator_value),
            lr_decay,
        }
    }
}

impl<T: Scalar> GradientTransform<T> for ScaleByRootSumSquare<T> {
    fn name(&self) -> &'static str {
        "adagrad"
    }
    fn state_names(&self) -> &'static [&'static str] {
        &["sum"]
    }
    fn state_init(&self, _k: usize) -> T {
        self.initial
    }
    fn update(&self, updates: &mut [T], _params: &[T], state: &mut [&mut [T]], ctx: &StepContext) {
        let [sum] = state else { return };
        let decay: T = cast(1.0 / (1.0 + ctx.step as f64 * self.lr_decay));
        for (u, s) in updates.iter_mut().zip(sum.iter_mut()) {
            *s = *s + *u * *u;
            *u = *u / (s.sqrt() + self.eps) * decay;
        }
    }
}

/// The lecture's Adagrad scaling: root *mean* square of all gradients so far.
///
/// ```text
/// σ_i^t = sqrt( (1/(t+1)) Σ_{s=0..t} (g_i^s)² )
/// out   = g_i^t / max(σ_i^t, ε)
/// ```
///
/// So `σ^0 = |g^0|` and the first step is exactly `±η`. ε (default `1e-10`) is a *floor* on σ
/// rather than a summand so that the lecture's numbers are reproduced exactly whenever
/// `σ ≥ ε`; it only matters when every gradient seen so far is (nearly) zero, where it turns
/// `0/0` into `0`. PyTorch's variant ([`ScaleByRootSumSquare`]) divides by the root of the
/// sum, so its steps are `√(t+1)` times smaller for the same η.
#[derive(Debug, Clone)]
pub struct ScaleByRootMeanSquare<T> {
    eps: T,
}

impl<T: Float> ScaleByRootMeanSquare<T> {
    /// `eps`: floor on σ.
    pub fn new(eps: f64) -> Self {
        ScaleByRootMeanSquare { eps: cast(eps) }
    }
}

impl<T: Scalar> GradientTransform<T> for ScaleByRootMeanSquare<T> {
    fn name(&self) -> &'static str {
        "adagrad_lecture"
    }
    fn state_names(&self) -> &'static [&'static str] {
        &["sum_squares"]
    }
    fn update(&self, updates: &mut [T], _params: &[T], state: &mut [&mut [T]], ctx: &StepContext) {
        let [sum] = state else { return };
        let count: T = cast(ctx.step as f64 + 1.0);
        for (u, s) in updates.iter_mut().zip(sum.iter_mut()) {
            *s = *s + *u * *u;
            let sigma = (*s / count).sqrt();
            *u = *u / sigma.max(self.eps);
        }
    }
}

/// PyTorch RMSProp's scaling (`torch.optim.RMSprop`; Hinton, Coursera lecture 6e; centered
/// form from Graves, 2013).
///
/// ```text
/// v^t = α v^{t−1} + (1 − α)(g^t)²          v^{−1} = 0
/// c^t = α c^{t−1} + (1 − α) g^t             (centered only)
/// out = g^t / (sqrt(v^t − (c^t)²) + ε)      (centered: minus c², else without it)
/// ```
///
/// Starting at 0 makes the first steps large (`|out| ≈ 1/√(1−α)`); the lecture variant
/// [`ScaleByRmsLecture`] starts at `σ^0 = |g^0|` instead.
#[derive(Debug, Clone)]
pub struct ScaleByRms<T> {
    alpha: T,
    one_minus_alpha: T,
    eps: T,
    centered: bool,
}

impl<T: Float> ScaleByRms<T> {
    /// Smoothing `alpha`, `eps` outside the root, and whether to subtract the squared mean.
    pub fn new(alpha: f64, eps: f64, centered: bool) -> Self {
        ScaleByRms {
            alpha: cast(alpha),
            one_minus_alpha: cast(1.0 - alpha),
            eps: cast(eps),
            centered,
        }
    }
}

impl<T: Scalar> GradientTransform<T> for ScaleByRms<T> {
    fn name(&self) -> &'static str {
        "rmsprop"
    }
    fn state_names(&self) -> &'static [&'static str] {
        if self.centered {
            &["square_avg", "grad_avg"]
        } else {
            &["square_avg"]
        }
    }
    fn update(&self, updates: &mut [T], _params: &[T], state: &mut [&mut [T]], _ctx: &StepContext) {
        let (alpha, w, eps) = (self.alpha, self.one_minus_alpha, self.eps);
        match state {
            [square_avg] => {
                for (u, v) in updates.iter_mut().zip(square_avg.iter_mut()) {
                    let g = *u;
                    *v = flush(*v * alpha + g * g * w);
                    *u = g / (v.sqrt() + eps);
                }
            }
            [square_avg, grad_avg] => {
                let lerp = Lerp::new(w);
                for ((u, v), c) in updates
                    .iter_mut()
                    .zip(square_avg.iter_mut())
                    .zip(grad_avg.iter_mut())
                {
                    let g = *u;
                    *v = flush(*v * alpha + g * g * w);
                    *c = flush(lerp.at(*c, g));
                    *u = g / ((*v - *c * *c).sqrt() + eps);
                }
            }
            _ => {}
        }
    }
}

/// The lecture's RMSProp scaling.
///
/// ```text
/// σ_i^0 = |g_i^0|
/// σ_i^t = sqrt( α (σ_i^{t−1})² + (1 − α)(g_i^t)² ),   0 < α < 1
/// out   = g_i^t / max(σ_i^t, ε)
/// ```
///
/// As in [`ScaleByRootMeanSquare`], ε (default `1e-8`) is a floor on σ, so the first step is
/// exactly `±η`. PyTorch's [`ScaleByRms`] instead starts the average at zero and adds ε.
#[derive(Debug, Clone)]
pub struct ScaleByRmsLecture<T> {
    alpha: T,
    one_minus_alpha: T,
    eps: T,
}

impl<T: Float> ScaleByRmsLecture<T> {
    /// Smoothing `alpha` in (0, 1) and floor `eps`.
    pub fn new(alpha: f64, eps: f64) -> Self {
        ScaleByRmsLecture {
            alpha: cast(alpha),
            one_minus_alpha: cast(1.0 - alpha),
            eps: cast(eps),
        }
    }
}

impl<T: Scalar> GradientTransform<T> for ScaleByRmsLecture<T> {
    fn name(&self) -> &'static str {
        "rmsprop_lecture"
    }
    fn state_names(&self) -> &'static [&'static str] {
        &["sigma_sq"]
    }
    fn update(&self, updates: &mut [T], _params: &[T], state: &mut [&mut [T]], ctx: &StepContext) {
        let [sigma_sq] = state else { return };
        let first = ctx.step == 0;
        for (u, s) in updates.iter_mut().zip(sigma_sq.iter_mut()) {
            let g = *u;
            *s = if first {
                g * g
            } else {
                flush(*s * self.alpha + g * g * self.one_minus_alpha)
            };
            *u = g / s.sqrt().max(self.eps);
        }
    }
}

/// Adam's moment scaling, Kingma & Ba (2015), Algorithm 1 (identical to `torch.optim.Adam`).
///
/// ```text
/// m_t = β1 m_{t−1} + (1 − β1) g_t        v_t = β2 v_{t−1} + (1 − β2) g_t²
/// m̂_t = m_t / (1 − β1^t)                 v̂_t = v_t / (1 − β2^t)
/// out = m̂_t / (sqrt(v̂_t) + ε)            (t counts from 1)
/// ```
///
/// Evaluated in PyTorch's arrangement, `sqrt(v̂) = sqrt(v) / sqrt(1 − β2^t)`, to agree with it
/// to rounding.
#[derive(Debug, Clone)]
pub struct ScaleByAdam<T> {
    beta1: f64,
    beta2: f64,
    eps: T,
}

impl<T: Float> ScaleByAdam<T> {
    /// Decay rates `beta1`, `beta2` in [0, 1) and `eps` added to `sqrt(v̂)`.
    pub fn new(beta1: f64, beta2: f64, eps: f64) -> Self {
        ScaleByAdam {
            beta1,
            beta2,
            eps: cast(eps),
        }
    }
}

/// The per-step constants of Adam's and RAdam's moment updates.
#[derive(Clone, Copy)]
struct Moments<T> {
    lerp1: Lerp<T>,
    beta2: T,
    one_minus_beta2: T,
}

impl<T: Float> Moments<T> {
    fn new(beta1: f64, beta2: f64) -> Self {
        Moments {
            lerp1: Lerp::new(cast(1.0 - beta1)),
            beta2: cast(beta2),
            one_minus_beta2: cast(1.0 - beta2),
        }
    }
    /// `m ← lerp(m, g, 1 − β1)`, `v ← β2 v + (1 − β2) g²` (PyTorch's arrangement).
    #[inline(always)]
    fn update(self, g: T, m: &mut T, v: &mut T) {
        *m = flush(self.lerp1.at(*m, g));
        *v = flush(*v * self.beta2 + g * g * self.one_minus_beta2);
    }
}

fn bias_corrections(beta1: f64, beta2: f64, t: f64) -> (f64, f64) {
    (1.0 - beta1.powf(t), 1.0 - beta2.powf(t))
}

impl<T: Scalar> GradientTransform<T> for ScaleByAdam<T> {
    fn name(&self) -> &'static str {
        "adam"
    }
    fn state_names(&self) -> &'static [&'static str] {
        &["mu", "nu"]
    }
    fn update(&self, updates: &mut [T], _params: &[T], state: &mut [&mut [T]], ctx: &StepContext) {
        let [mu, nu] = state else { return };
        let (bc1, bc2) = bias_corrections(self.beta1, self.beta2, ctx.step as f64 + 1.0);
        // One division per element: m̂/(sqrt(v̂)+ε) = (m/bc1) / (sqrt(v)·(1/sqrt(bc2)) + ε).
        let (inv_bc1, inv_bc2_sqrt): (T, T) = (cast(1.0 / bc1), cast(1.0 / bc2.sqrt()));
        let (moments, eps) = (Moments::new(self.beta1, self.beta2), self.eps);
        let n = updates.len();
        let (mu, nu) = (&mut mu[..n], &mut nu[..n]);
        // One copy of the loop per branch of the lerp, so that each is branch-free and
        // vectorizes.
        if moments.lerp1.from_start {
            adam_block::<T, true>(updates, mu, nu, moments, inv_bc1, inv_bc2_sqrt, eps);
        } else {
            adam_block::<T, false>(updates, mu, nu, moments, inv_bc1, inv_bc2_sqrt, eps);
        }
    }
}

#[inline(always)]
fn adam_block<T: Float, const FROM_START: bool>(
    updates: &mut [T],
    mu: &mut [T],
    nu: &mut [T],
    moments: Moments<T>,
    inv_bc1: T,
    inv_bc2_sqrt: T,
    eps: T,
) {
    let Lerp { w, one_minus_w, .. } = moments.lerp1;
    for ((u, m), v) in updates.iter_mut().zip(mu.iter_mut()).zip(nu.iter_mut()) {
        let g = *u;
        *m = flush(if FROM_START {
            *m + w * (g - *m)
        } else {
            g - (g - *m) * one_minus_w
        });
        *v = flush(*v * moments.beta2 + g * g * moments.one_minus_beta2);
        *u = (*m * inv_bc1) / (v.sqrt() * inv_bc2_sqrt + eps);
    }
}

/// Rectified Adam (Liu et al., 2020, "On the Variance of the Adaptive Learning Rate and
/// Beyond"), with `torch.optim.RAdam` semantics.
///
/// ```text
/// m, v as in Adam;  ρ∞ = 2/(1 − β2) − 1;  ρ_t = ρ∞ − 2 t β2^t / (1 − β2^t)
/// ρ_t > 5:  out = m̂_t · r_t · sqrt(1 − β2^t) / (sqrt(v_t) + ε),
///           r_t = sqrt( (ρ_t − 4)(ρ_t − 2) ρ∞ / ((ρ∞ − 4)(ρ∞ − 2) ρ_t) )
/// else:     out = m̂_t                      (plain momentum while the variance is untrustworthy)
/// ```
///
/// Note ε is added to `sqrt(v_t)`, not to `sqrt(v̂_t)` as in Adam; this follows PyTorch.
#[derive(Debug, Clone)]
pub struct ScaleByRadam<T> {
    beta1: f64,
    beta2: f64,
    eps: T,
}

impl<T: Float> ScaleByRadam<T> {
    /// Decay rates `beta1`, `beta2` in [0, 1) and `eps`.
    pub fn new(beta1: f64, beta2: f64, eps: f64) -> Self {
        ScaleByRadam {
            beta1,
            beta2,
            eps: cast(eps),
        }
    }
}

impl<T: Scalar> GradientTransform<T> for ScaleByRadam<T> {
    fn name(&self) -> &'static str {
        "radam"
    }
    fn state_names(&self) -> &'static [&'static str] {
        &["mu", "nu"]
    }
    fn update(&self, updates: &mut [T], _params: &[T], state: &mut [&mut [T]], ctx: &StepContext) {
        let [mu, nu] = state else { return };
        let t = ctx.step as f64 + 1.0;
        let (bc1, bc2) = bias_corrections(self.beta1, self.beta2, t);
        let rho_inf = 2.0 / (1.0 - self.beta2) - 1.0;
        let rho_t = rho_inf - 2.0 * t * self.beta2.powf(t) / bc2;
        let moments = Moments::new(self.beta1, self.beta2);
        let bc1: T = cast(bc1);
        let rect = if rho_t > 5.0 {
            let r = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
                .sqrt();
            Some((cast::<T>(r), cast::<T>(bc2.sqrt())))
        } else {
            None
        };
        for ((u, m), v) in updates.iter_mut().zip(mu.iter_mut()).zip(nu.iter_mut()) {
            moments.update(*u, m, v);
            let m_hat = *m / bc1;
            *u = match rect {
                Some((r, bc2_sqrt)) => m_hat * (bc2_sqrt / (v.sqrt() + self.eps)) * r,
                None => m_hat,
            };
        }
    }
}

/// Global-norm gradient clipping with `torch.nn.utils.clip_grad_norm_` semantics
/// (Pascanu, Mikolov & Bengio, 2013).
///
/// ```text
/// n = ‖g‖₂ over all tensors;   g ← g · min(1, max_norm / (n + 1e-6))
/// ```
///
/// The norm seen *before* clipping is reported in [`StepContext::grad_norm`] and from there
/// in [`StepReport::grad_norm`](crate::StepReport::grad_norm). The `1e-6` is PyTorch's; Optax's
/// `clip_by_global_norm` has none. Place it first in a chain so it sees the raw gradient
/// (elsewhere the optimizer has to run the chain one transform at a time over all elements).
#[derive(Debug, Clone)]
pub struct ClipByGlobalNorm {
    max_norm: f64,
    /// This step's factor, from [`prepare`](GradientTransform::prepare); 1 when not clipping.
    coef: f64,
}

impl ClipByGlobalNorm {
    /// Largest allowed global norm.
    pub fn new(max_norm: f64) -> Self {
        ClipByGlobalNorm {
            max_norm,
            coef: 1.0,
        }
    }
}

/// Euclidean norm of a flat vector, accumulated in the element type.
pub fn global_norm<T: Float>(values: &[T]) -> T {
    values.iter().fold(T::zero(), |acc, &x| acc + x * x).sqrt()
}

impl<T: Float> GradientTransform<T> for ClipByGlobalNorm {
    fn name(&self) -> &'static str {
        "clip_by_global_norm"
    }
    fn is_global(&self) -> bool {
        true
    }
    fn prepare(&mut self, updates: &mut dyn Iterator<Item = &[T]>, ctx: &mut StepContext) {
        let sum = updates
            .flat_map(|u| u.iter())
            .fold(T::zero(), |acc, &x| acc + x * x);
        let norm = sum.sqrt();
        ctx.grad_norm = norm.to_f64();
        let coef: T = cast::<T>(self.max_norm) / (norm + cast(1e-6));
        self.coef = if coef < T::one() {
            coef.to_f64().unwrap_or(f64::NAN)
        } else {
            1.0
        };
    }
    fn update(
        &self,
        updates: &mut [T],
        _params: &[T],
        _state: &mut [&mut [T]],
        _ctx: &StepContext,
    ) {
        if self.coef != 1.0 {
            let coef: T = cast(self.coef);
            updates.iter_mut().for_each(|u| *u = *u * coef);
        }
    }
}
