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
//! All transforms work on one flat buffer holding every parameter tensor back to back: the
//! built-in ones are element-wise or global, so tensor boundaries do not matter to them.
//! State buffers are allocated once in [`GradientTransform::init`] and never resized.

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

/// One link of an optimizer chain.
///
/// `update` receives the flat update vector (the gradient after earlier links) and the flat
/// parameters (only filled in when [`uses_params`](Self::uses_params) is true; otherwise an
/// empty slice, which saves a copy per step).
pub trait GradientTransform<T: Float>: Send + Sync + Debug {
    /// Short name used as a prefix of the saved state buffers.
    fn name(&self) -> &'static str;
    /// Whether `update` needs the current parameter values.
    fn uses_params(&self) -> bool {
        false
    }
    /// Allocates state for `len` elements. Called once, before the first update.
    fn init(&mut self, _len: usize) {}
    /// Transforms `updates` in place.
    fn update(&mut self, updates: &mut [T], params: &[T], ctx: &mut StepContext);
    /// The state buffers, by name, for saving.
    fn buffers(&self) -> Vec<(&'static str, &[T])> {
        Vec::new()
    }
    /// The state buffers, by name, for restoring.
    fn buffers_mut(&mut self) -> Vec<(&'static str, &mut Vec<T>)> {
        Vec::new()
    }
}

/// The element types optimizers work on: any `Float` that can cross threads (`f32`, `f64`).
pub trait Scalar: Float + Send + Sync + Debug + 'static {}
impl<T: Float + Send + Sync + Debug + 'static> Scalar for T {}

/// Converts a hyperparameter to the element type; `Float` types always succeed, and NaN
/// (rather than a panic) is the fallback should a custom type refuse.
pub(crate) fn cast<T: Float>(x: f64) -> T {
    T::from(x).unwrap_or_else(T::nan)
}

/// `torch.lerp`: `start + w (end − start)`, computed from whichever end is nearer to `w` so
/// results match PyTorch's `lerp_` bit for bit.
#[inline]
fn lerp<T: Float>(start: T, end: T, w: T) -> T {
    if w.abs() < cast(0.5) {
        start + w * (end - start)
    } else {
        end - (end - start) * (T::one() - w)
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
    fn update(&mut self, updates: &mut [T], _params: &[T], ctx: &mut StepContext) {
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
    buf: Vec<T>,
}

impl<T: Float> Trace<T> {
    /// `momentum` μ, `dampening` in [0, 1], `nesterov` look-ahead. Validation lives in the
    /// named optimizers; here any value is taken as given.
    pub fn new(momentum: f64, dampening: f64, nesterov: bool) -> Self {
        Trace {
            momentum: cast(momentum),
            one_minus_dampening: cast(1.0 - dampening),
            nesterov,
            buf: Vec::new(),
        }
    }
}

impl<T: Scalar> GradientTransform<T> for Trace<T> {
    fn name(&self) -> &'static str {
        "trace"
    }
    fn init(&mut self, len: usize) {
        self.buf = vec![T::zero(); len];
    }
    fn update(&mut self, updates: &mut [T], _params: &[T], ctx: &mut StepContext) {
        let first = ctx.step == 0;
        for (u, b) in updates.iter_mut().zip(self.buf.iter_mut()) {
            *b = if first {
                *u
            } else {
                *b * self.momentum + *u * self.one_minus_dampening
            };
            *u = if self.nesterov {
                *u + *b * self.momentum
            } else {
                *b
            };
        }
    }
    fn buffers(&self) -> Vec<(&'static str, &[T])> {
        vec![("momentum", &self.buf)]
    }
    fn buffers_mut(&mut self) -> Vec<(&'static str, &mut Vec<T>)> {
        vec![("momentum", &mut self.buf)]
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
    fn update(&mut self, updates: &mut [T], params: &[T], _ctx: &mut StepContext) {
        for (u, p) in updates.iter_mut().zip(params) {
            *u = *u + *p * self.weight_decay;
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
    sum: Vec<T>,
}

impl<T: Float> ScaleByRootSumSquare<T> {
    /// `eps` added to the root, `initial_accumulator_value`, `lr_decay`.
    pub fn new(eps: f64, initial_accumulator_value: f64, lr_decay: f64) -> Self {
        ScaleByRootSumSquare {
            eps: cast(eps),
            initial: cast(initial_accumulator_value),
            lr_decay,
            sum: Vec::new(),
        }
    }
}

impl<T: Scalar> GradientTransform<T> for ScaleByRootSumSquare<T> {
    fn name(&self) -> &'static str {
        "adagrad"
    }
    fn init(&mut self, len: usize) {
        self.sum = vec![self.initial; len];
    }
    fn update(&mut self, updates: &mut [T], _params: &[T], ctx: &mut StepContext) {
        let decay: T = cast(1.0 / (1.0 + ctx.step as f64 * self.lr_decay));
        for (u, s) in updates.iter_mut().zip(self.sum.iter_mut()) {
            *s = *s + *u * *u;
            *u = *u / (s.sqrt() + self.eps) * decay;
        }
    }
    fn buffers(&self) -> Vec<(&'static str, &[T])> {
        vec![("sum", &self.sum)]
    }
    fn buffers_mut(&mut self) -> Vec<(&'static str, &mut Vec<T>)> {
        vec![("sum", &mut self.sum)]
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
    sum: Vec<T>,
}

impl<T: Float> ScaleByRootMeanSquare<T> {
    /// `eps`: floor on σ.
    pub fn new(eps: f64) -> Self {
        ScaleByRootMeanSquare {
            eps: cast(eps),
            sum: Vec::new(),
        }
    }
}

impl<T: Scalar> GradientTransform<T> for ScaleByRootMeanSquare<T> {
    fn name(&self) -> &'static str {
        "adagrad_lecture"
    }
    fn init(&mut self, len: usize) {
        self.sum = vec![T::zero(); len];
    }
    fn update(&mut self, updates: &mut [T], _params: &[T], ctx: &mut StepContext) {
        let count: T = cast(ctx.step as f64 + 1.0);
        for (u, s) in updates.iter_mut().zip(self.sum.iter_mut()) {
            *s = *s + *u * *u;
            let sigma = (*s / count).sqrt();
            *u = *u / sigma.max(self.eps);
        }
    }
    fn buffers(&self) -> Vec<(&'static str, &[T])> {
        vec![("sum_squares", &self.sum)]
    }
    fn buffers_mut(&mut self) -> Vec<(&'static str, &mut Vec<T>)> {
        vec![("sum_squares", &mut self.sum)]
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
    square_avg: Vec<T>,
    grad_avg: Vec<T>,
}

impl<T: Float> ScaleByRms<T> {
    /// Smoothing `alpha`, `eps` outside the root, and whether to subtract the squared mean.
    pub fn new(alpha: f64, eps: f64, centered: bool) -> Self {
        ScaleByRms {
            alpha: cast(alpha),
            one_minus_alpha: cast(1.0 - alpha),
            eps: cast(eps),
            centered,
            square_avg: Vec::new(),
            grad_avg: Vec::new(),
        }
    }
}

impl<T: Scalar> GradientTransform<T> for ScaleByRms<T> {
    fn name(&self) -> &'static str {
        "rmsprop"
    }
    fn init(&mut self, len: usize) {
        self.square_avg = vec![T::zero(); len];
        if self.centered {
            self.grad_avg = vec![T::zero(); len];
        }
    }
    fn update(&mut self, updates: &mut [T], _params: &[T], _ctx: &mut StepContext) {
        for (i, (u, v)) in updates
            .iter_mut()
            .zip(self.square_avg.iter_mut())
            .enumerate()
        {
            let g = *u;
            *v = *v * self.alpha + g * g * self.one_minus_alpha;
            let avg = if self.centered {
                let c = &mut self.grad_avg[i];
                *c = lerp(*c, g, self.one_minus_alpha);
                (*v - *c * *c).sqrt()
            } else {
                v.sqrt()
            };
            *u = g / (avg + self.eps);
        }
    }
    fn buffers(&self) -> Vec<(&'static str, &[T])> {
        let mut b = vec![("square_avg", self.square_avg.as_slice())];
        if self.centered {
            b.push(("grad_avg", self.grad_avg.as_slice()));
        }
        b
    }
    fn buffers_mut(&mut self) -> Vec<(&'static str, &mut Vec<T>)> {
        let mut b = vec![("square_avg", &mut self.square_avg)];
        if self.centered {
            b.push(("grad_avg", &mut self.grad_avg));
        }
        b
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
    sigma_sq: Vec<T>,
}

impl<T: Float> ScaleByRmsLecture<T> {
    /// Smoothing `alpha` in (0, 1) and floor `eps`.
    pub fn new(alpha: f64, eps: f64) -> Self {
        ScaleByRmsLecture {
            alpha: cast(alpha),
            one_minus_alpha: cast(1.0 - alpha),
            eps: cast(eps),
            sigma_sq: Vec::new(),
        }
    }
}

impl<T: Scalar> GradientTransform<T> for ScaleByRmsLecture<T> {
    fn name(&self) -> &'static str {
        "rmsprop_lecture"
    }
    fn init(&mut self, len: usize) {
        self.sigma_sq = vec![T::zero(); len];
    }
    fn update(&mut self, updates: &mut [T], _params: &[T], ctx: &mut StepContext) {
        let first = ctx.step == 0;
        for (u, s) in updates.iter_mut().zip(self.sigma_sq.iter_mut()) {
            let g = *u;
            *s = if first {
                g * g
            } else {
                *s * self.alpha + g * g * self.one_minus_alpha
            };
            *u = g / s.sqrt().max(self.eps);
        }
    }
    fn buffers(&self) -> Vec<(&'static str, &[T])> {
        vec![("sigma_sq", &self.sigma_sq)]
    }
    fn buffers_mut(&mut self) -> Vec<(&'static str, &mut Vec<T>)> {
        vec![("sigma_sq", &mut self.sigma_sq)]
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
    mu: Vec<T>,
    nu: Vec<T>,
}

impl<T: Float> ScaleByAdam<T> {
    /// Decay rates `beta1`, `beta2` in [0, 1) and `eps` added to `sqrt(v̂)`.
    pub fn new(beta1: f64, beta2: f64, eps: f64) -> Self {
        ScaleByAdam {
            beta1,
            beta2,
            eps: cast(eps),
            mu: Vec::new(),
            nu: Vec::new(),
        }
    }
}

/// Shared first/second moment update of Adam and RAdam.
fn update_moments<T: Float>(g: T, m: &mut T, v: &mut T, w1: T, beta2: T, w2: T) {
    *m = lerp(*m, g, w1);
    *v = *v * beta2 + g * g * w2;
}

fn bias_corrections(beta1: f64, beta2: f64, t: f64) -> (f64, f64) {
    (1.0 - beta1.powf(t), 1.0 - beta2.powf(t))
}

impl<T: Scalar> GradientTransform<T> for ScaleByAdam<T> {
    fn name(&self) -> &'static str {
        "adam"
    }
    fn init(&mut self, len: usize) {
        self.mu = vec![T::zero(); len];
        self.nu = vec![T::zero(); len];
    }
    fn update(&mut self, updates: &mut [T], _params: &[T], ctx: &mut StepContext) {
        let (bc1, bc2) = bias_corrections(self.beta1, self.beta2, ctx.step as f64 + 1.0);
        let (w1, b2, w2): (T, T, T) = (
            cast(1.0 - self.beta1),
            cast(self.beta2),
            cast(1.0 - self.beta2),
        );
        // One division per element: m̂/(sqrt(v̂)+ε) = (m/bc1) / (sqrt(v)·(1/sqrt(bc2)) + ε).
        let (inv_bc1, inv_bc2_sqrt): (T, T) = (cast(1.0 / bc1), cast(1.0 / bc2.sqrt()));
        let eps = self.eps;
        for ((u, m), v) in updates
            .iter_mut()
            .zip(self.mu.iter_mut())
            .zip(self.nu.iter_mut())
        {
            update_moments(*u, m, v, w1, b2, w2);
            *u = (*m * inv_bc1) / (v.sqrt() * inv_bc2_sqrt + eps);
        }
    }
    fn buffers(&self) -> Vec<(&'static str, &[T])> {
        vec![("mu", &self.mu), ("nu", &self.nu)]
    }
    fn buffers_mut(&mut self) -> Vec<(&'static str, &mut Vec<T>)> {
        vec![("mu", &mut self.mu), ("nu", &mut self.nu)]
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
    mu: Vec<T>,
    nu: Vec<T>,
}

impl<T: Float> ScaleByRadam<T> {
    /// Decay rates `beta1`, `beta2` in [0, 1) and `eps`.
    pub fn new(beta1: f64, beta2: f64, eps: f64) -> Self {
        ScaleByRadam {
            beta1,
            beta2,
            eps: cast(eps),
            mu: Vec::new(),
            nu: Vec::new(),
        }
    }
}

impl<T: Scalar> GradientTransform<T> for ScaleByRadam<T> {
    fn name(&self) -> &'static str {
        "radam"
    }
    fn init(&mut self, len: usize) {
        self.mu = vec![T::zero(); len];
        self.nu = vec![T::zero(); len];
    }
    fn update(&mut self, updates: &mut [T], _params: &[T], ctx: &mut StepContext) {
        let t = ctx.step as f64 + 1.0;
        let (bc1, bc2) = bias_corrections(self.beta1, self.beta2, t);
        let rho_inf = 2.0 / (1.0 - self.beta2) - 1.0;
        let rho_t = rho_inf - 2.0 * t * self.beta2.powf(t) / bc2;
        let (w1, b2, w2): (T, T, T) = (
            cast(1.0 - self.beta1),
            cast(self.beta2),
            cast(1.0 - self.beta2),
        );
        let bc1: T = cast(bc1);
        let rect = if rho_t > 5.0 {
            let r = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
                .sqrt();
            Some((cast::<T>(r), cast::<T>(bc2.sqrt())))
        } else {
            None
        };
        for ((u, m), v) in updates
            .iter_mut()
            .zip(self.mu.iter_mut())
            .zip(self.nu.iter_mut())
        {
            update_moments(*u, m, v, w1, b2, w2);
            let m_hat = *m / bc1;
            *u = match rect {
                Some((r, bc2_sqrt)) => m_hat * (bc2_sqrt / (v.sqrt() + self.eps)) * r,
                None => m_hat,
            };
        }
    }
    fn buffers(&self) -> Vec<(&'static str, &[T])> {
        vec![("mu", &self.mu), ("nu", &self.nu)]
    }
    fn buffers_mut(&mut self) -> Vec<(&'static str, &mut Vec<T>)> {
        vec![("mu", &mut self.mu), ("nu", &mut self.nu)]
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
/// `clip_by_global_norm` has none. Place it first in a chain so it sees the raw gradient.
#[derive(Debug, Clone)]
pub struct ClipByGlobalNorm {
    max_norm: f64,
}

impl ClipByGlobalNorm {
    /// Largest allowed global norm.
    pub fn new(max_norm: f64) -> Self {
        ClipByGlobalNorm { max_norm }
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
    fn update(&mut self, updates: &mut [T], _params: &[T], ctx: &mut StepContext) {
        let norm = global_norm(updates);
        ctx.grad_norm = norm.to_f64();
        let coef: T = cast::<T>(self.max_norm) / (norm + cast(1e-6));
        if coef < T::one() {
            updates.iter_mut().for_each(|u| *u = *u * coef);
        }
    }
}
