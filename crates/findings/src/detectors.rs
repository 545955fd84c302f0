//! One function per kind of finding. Each reads the run's facts through [`Ctx`] and returns
//! a finding only on positive evidence: a change must stand out from the loss's own noise, a
//! level is judged against the trivial model, and the learning rate is the one applied.

use serde_json::{json, Map, Value};

use crate::facts::{RunFacts, Task};
use crate::finding::{Finding, Kind, Remedy, Severity};
use crate::remedies::{ranked, Remedies};
use crate::series::{head_level, logs, median, noise, tail_level, tail_range, Trend};

/// The learning rate counts as vanished below this fraction of its peak.
pub const LR_VANISHED: f64 = 1e-3;
/// A level above this fraction of the trivial model's loss is "high".
pub const HIGH: f64 = 0.5;
/// A run whose final loss is above this fraction of the trivial model's is "hampered".
pub const HAMPERED: f64 = 0.1;
/// A final loss above this multiple of the trivial model's is worse than the trivial model.
pub const WORSE: f64 = 1.1;
/// A gradient below this fraction of its earlier largest value is "small".
pub const GRAD_SMALL: f64 = 0.1;

/// The run's facts with the derived series every detector uses.
pub struct Ctx<'a> {
    /// The facts.
    pub f: &'a RunFacts,
    /// Remedies that know what the run already does.
    pub rem: Remedies<'a>,
    /// Training losses, one per epoch.
    pub train: Vec<f64>,
    /// Their logarithms.
    pub y: Vec<f64>,
    /// Index of the epoch whose weights the run ended with.
    pub reported: usize,
    /// The final training loss (median of the last three epochs up to the reported one).
    pub final_train: f64,
    /// The largest learning rate applied (or configured).
    pub peak_lr: f64,
}

impl<'a> Ctx<'a> {
    /// Derives the series; `None` when the run has no completed epoch.
    pub fn new(f: &'a RunFacts) -> Option<Ctx<'a>> {
        if f.epochs.is_empty() {
            return None;
        }
        let train: Vec<f64> = f.epochs.iter().map(|e| e.train_loss).collect();
        let y = logs(&train);
        let reported = f
            .reported_epoch
            .and_then(|r| f.epochs.iter().position(|e| e.epoch == r))
            .unwrap_or(f.epochs.len() - 1);
        let final_train = tail_level(&train[..=reported], 3).unwrap_or(train[reported]);
        let peak_lr = f
            .epochs
            .iter()
            .filter_map(|e| e.lr)
            .fold(f.optimizer.lr, f64::max);
        Some(Ctx {
            f,
            rem: Remedies::new(f),
            train,
            y,
            reported,
            final_train,
            peak_lr,
        })
    }

    fn n(&self) -> usize {
        self.train.len()
    }

    fn epoch(&self, i: usize) -> u64 {
        self.f.epochs[i].epoch
    }

    fn span(&self, a: usize, b: usize) -> Option<[u64; 2]> {
        Some([self.epoch(a), self.epoch(b)])
    }

    /// The final training loss over the trivial model's, if known.
    pub fn train_ratio(&self) -> Option<f64> {
        self.f.baseline_train_loss.map(|b| self.final_train / b)
    }

    /// The reported epoch's validation loss over the trivial model's, if known.
    fn val_ratio(&self) -> Option<f64> {
        let v = self.f.epochs[self.reported].val_loss?;
        Some(v / self.f.baseline_val_loss?)
    }

    /// A level is high when above half the trivial model's training loss (without a baseline:
    /// above half the first epoch's loss).
    fn high(&self, level: f64) -> bool {
        match self.f.baseline_train_loss {
            Some(b) => level > HIGH * b,
            None => level > HIGH * self.train[0],
        }
    }

    /// True unless the run ended within 10 % of the trivial model's loss of zero.
    pub fn hampered(&self) -> bool {
        self.train_ratio().map_or(true, |r| r > HAMPERED)
    }

    /// The noise of the log loss over `range`, or of the whole run when the range is short.
    fn sigma(&self, range: std::ops::Range<usize>) -> f64 {
        let local = if range.len() >= 5 {
            noise(&self.y[range])
        } else {
            None
        };
        local.or_else(|| noise(&self.y)).unwrap_or(0.0)
    }

    fn lr_at(&self, i: usize) -> Option<f64> {
        self.f.epochs[i].lr
    }

    fn grad_norms(&self) -> Option<Vec<f64>> {
        self.f.epochs.iter().map(|e| e.grad_norm).collect()
    }

    fn uses_vanished_lr(&self, range: std::ops::Range<usize>) -> bool {
        range
            .filter_map(|i| self.lr_at(i))
            .any(|lr| lr <= LR_VANISHED * self.peak_lr)
    }
}

fn num(x: f64) -> Value {
    if x.is_finite() {
        // Four significant digits: evidence is for reading, the metrics keep every digit.
        let s = format!("{x:.4e}");
        s.parse::<f64>().map(Value::from).unwrap_or(Value::Null)
    } else {
        Value::Null
    }
}

fn g(x: f64) -> String {
    let a = x.abs();
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        format!("{x:.3e}")
    } else if a >= 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.4}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

fn pct(x: f64) -> String {
    format!("{:.0}%", 100.0 * x)
}

fn evidence(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn finding(
    kind: Kind,
    severity: Severity,
    epochs: Option<[u64; 2]>,
    evidence: Map<String, Value>,
    explanation: String,
    remedies: Vec<Remedy>,
    rule: &str,
) -> Finding {
    Finding {
        kind,
        severity,
        epochs,
        evidence,
        explanation,
        remedies,
        rule: rule.to_string(),
    }
}

/// The target's scale when it is far from 1 and not standardized.
fn unscaled_target_scale(f: &RunFacts) -> Option<(f64, f64, f64)> {
    let d = f.data.as_ref()?;
    let t = d.target.as_ref()?;
    if f.task != Task::Regression || d.target_standardized {
        return None;
    }
    let scale = t.mean.abs().max(t.std);
    (scale >= 10.0).then_some((t.mean, t.std, scale))
}

/// `diverged`: the loss, a gradient or a parameter became NaN or infinite.
pub fn diverged(c: &Ctx) -> Option<Finding> {
    let d = c.f.diverged.as_ref()?;
    let kept = d.epoch.saturating_sub(1);
    let target = unscaled_target_scale(c.f).and_then(|_| c.rem.standardize_target());
    Some(finding(
        Kind::Diverged,
        Severity::Problem,
        Some([d.epoch, d.epoch]),
        evidence(&[
            ("epoch", json!(d.epoch)),
            ("update", json!(d.update)),
            ("what", json!(d.what)),
            ("lr", num(c.lr_at(c.n() - 1).unwrap_or(c.f.optimizer.lr))),
        ]),
        format!(
            "{} in epoch {}, update {}; the model kept is epoch {kept}'s",
            d.what, d.epoch, d.update
        ),
        ranked([
            target,
            c.rem.lower_lr(
                10.0,
                "steps that overshoot the valley make the loss grow until it overflows",
            ),
            c.rem.clip("caps the size of each step"),
        ]),
        "the training loss, the gradient norm or a parameter became NaN or infinite",
    ))
}

/// `worse_than_baseline`: the model ends worse than a constant prediction.
pub fn worse_than_baseline(c: &Ctx) -> Option<Finding> {
    if c.f.diverged.is_some() {
        return None;
    }
    let e = &c.f.epochs[c.reported];
    let (loss, base, which) = match (e.val_loss, c.f.baseline_val_loss) {
        (Some(v), Some(b)) => (v, b, "validation"),
        _ => (c.final_train, c.f.baseline_train_loss?, "training"),
    };
    // Within 10 % of the trivial model is "barely learned"; a mini-batch run that learned
    // nothing sits a little above it from the noise of its steps alone.
    if loss.is_nan() || loss <= WORSE * base {
        return None;
    }
    if let (Some(acc), Some(base_acc)) = (e.val_accuracy, c.f.baseline_val_accuracy) {
        if acc > base_acc + 0.02 {
            return None;
        }
    }
    let trivial = match c.f.task {
        Task::Regression => "always predicting the training mean",
        Task::Classification => "always predicting the training class frequencies",
    };
    Some(finding(
        Kind::WorseThanBaseline,
        Severity::Problem,
        None,
        evidence(&[
            ("loss", num(loss)),
            ("baseline_loss", num(base)),
            ("ratio", num(loss / base)),
            ("measured_on", json!(which)),
        ]),
        format!(
            "the {which} loss {} is {:.1}× that of {trivial} ({}): the model is worse than not learning at all",
            g(loss),
            loss / base,
            g(base)
        ),
        vec![c.rem.guide()],
        "final validation loss (training loss without validation) > 1.1 × the trivial model's; in classification also an accuracy no more than 2 points above the majority class's",
    ))
}

/// `barely_learned`: the final training loss is above half the trivial model's.
pub fn barely_learned(c: &Ctx) -> Option<Finding> {
    let r = c.train_ratio()?;
    if r <= HIGH || c.val_ratio().is_some_and(|v| v <= HIGH) {
        return None;
    }
    let tail = tail_range(c.n(), 5);
    let still_falling =
        c.n() >= 6 && Trend::of(&c.y[tail.clone()], c.sigma(tail)).is_some_and(|t| t.falling(0.01));
    Some(finding(
        Kind::BarelyLearned,
        Severity::Warning,
        None,
        evidence(&[
            ("train_loss", num(c.final_train)),
            ("baseline_train_loss", num(c.f.baseline_train_loss?)),
            ("ratio", num(r)),
        ]),
        format!(
            "the final training loss {} is {} of the trivial model's {}: either the model is too simple (model bias) or the optimization did not find a good solution",
            g(c.final_train),
            pct(r),
            g(c.f.baseline_train_loss?)
        ),
        ranked([
            Some(c.rem.guide()),
            if still_falling {
                c.rem.more_epochs("the loss was still falling when the run ended")
            } else {
                None
            },
            (c.f.hidden_layers > 0 || c.f.layers.len() <= 1).then(|| Remedy {
                action: "a more flexible model: more units or hidden layers".into(),
                key: Some("model.hidden".into()),
                value: None,
            }),
        ]),
        "final training loss > 0.5 × the trivial model's training loss (and, with validation, the validation loss > 0.5 × its baseline)",
    ))
}

/// `lr_vanished`: the schedule took the rate below 1e-3 of its peak while the loss was still
/// falling, and the loss stopped falling with it.
pub fn lr_vanished(c: &Ctx) -> Option<Finding> {
    let n = c.n();
    let i0 = (0..n).find(|&i| c.lr_at(i).is_some_and(|lr| lr <= LR_VANISHED * c.peak_lr))?;
    let stretch = n - i0;
    if i0 < 3 || stretch < 3.max(n.div_ceil(10)) {
        return None;
    }
    let w = i0.min(10);
    let before = Trend::of(&c.y[i0 - w..i0], c.sigma(i0 - w..i0))?;
    if !before.falling(0.01) {
        return None;
    }
    let rate = -before.change / (w - 1) as f64;
    let after = if stretch >= 3 {
        -Trend::of(&c.y[i0..n], c.sigma(i0..n))?.change
    } else {
        c.y[i0] - c.y[n - 1]
    };
    let expected = rate * (stretch - 1) as f64;
    if after >= 0.25 * expected {
        return None;
    }
    let lr = c.lr_at(i0)?;
    let kind = c.f.schedule.as_deref().unwrap_or("schedule");
    let per_epoch = c.f.updates_per_epoch.max(1);
    let epochs = c.f.epochs_planned.max(n);
    let total = epochs * per_epoch;
    // Never suggest counting in epochs to a run that already does.
    let in_epochs = c.f.schedule_unit.as_deref() == Some("epoch");
    let fix = match kind {
        "step" | "multistep" | "exponential" | "inverse_time" if !in_epochs => Remedy::set(
            "schedule.unit",
            "\"epoch\"",
            format!(
                "the {kind} schedule counts its steps in updates ({per_epoch} updates per epoch): count them in epochs, as PyTorch's scheduler.step() once per epoch does, or decay more gently"
            ),
        ),
        _ if in_epochs => Remedy::set(
            "schedule",
            format!("{{ kind = \"cosine\", t_max = {epochs}, unit = \"epoch\" }}"),
            format!("a decay that reaches its end with the run's last epoch ({epochs} epochs)"),
        ),
        _ => Remedy::set(
            "schedule",
            format!("{{ kind = \"cosine\", t_max = {total} }}"),
            format!("a decay that reaches its end with the run's last update ({total} updates)"),
        ),
    };
    Some(finding(
        Kind::LrVanished,
        Severity::Warning,
        c.span(i0, n - 1),
        evidence(&[
            ("epoch", json!(c.epoch(i0))),
            ("lr", num(lr)),
            ("peak_lr", num(c.peak_lr)),
            ("loss_fall_per_epoch_before", num(rate)),
            ("loss_fall_per_epoch_after", num(after / (stretch - 1).max(1) as f64)),
        ]),
        format!(
            "from epoch {} the {kind} schedule kept the learning rate below {LR_VANISHED:e} × its peak ({} vs {}); the loss had been falling {:.1}% per epoch and then stopped: the schedule, not the model, ended training",
            c.epoch(i0),
            g(lr),
            g(c.peak_lr),
            100.0 * rate
        ),
        vec![fix],
        "the learning rate ≤ 1e-3 × its peak for the last ≥ 10% of the epochs (at least 3), the loss falling significantly (> 3 noise σ) in the 10 epochs before, and falling less than a quarter as fast after",
    ))
}

/// The last third of the run: is the loss stalled at a high level, and is the gradient small?
struct Stall {
    range: std::ops::Range<usize>,
    trend: Trend,
    level: f64,
    /// Median mini-batch gradient norm over the stretch, and the largest one before it.
    grad: Option<(f64, f64)>,
    /// The full-data gradient norm at the final weights.
    full: Option<f64>,
    /// The loss's actual fall per epoch over the stretch divided by the fall the first-order
    /// model predicts for the steps taken (see [`efficiency`]).
    efficiency: Option<f64>,
}

impl Stall {
    /// The gradient has vanished: the full-data norm at the end (or, without it, the median
    /// mini-batch norm) is below 0.1 × the largest mini-batch norm before the stretch.
    fn vanished(&self) -> bool {
        match (self.full, self.grad) {
            (Some(full), Some((_, before))) => full < GRAD_SMALL * before,
            (None, Some((tail, before))) => tail < GRAD_SMALL * before,
            _ => false,
        }
    }

    /// The mini-batch gradients are mostly signal, not sampling noise: the full-data norm is
    /// at least 0.3 × the mini-batch norm (`E‖g_B‖² = ‖g‖² + tr Σ / B`). True when unknown.
    fn signal(&self) -> bool {
        match (self.full, self.grad) {
            (Some(full), Some((tail, _))) => full >= 0.3 * tail,
            _ => true,
        }
    }
}

fn stall(c: &Ctx) -> Option<Stall> {
    let n = c.n();
    if n < 6 {
        return None;
    }
    let range = tail_range(n, 5);
    if c.uses_vanished_lr(range.clone()) {
        return None;
    }
    let trend = Trend::of(&c.y[range.clone()], c.sigma(range.clone()))?;
    let level = median(&c.train[range.clone()])?;
    let grad = c.grad_norms().and_then(|gs| {
        let tail = median(&gs[range.clone()])?;
        let before = gs[..range.start.max(1)].iter().copied().fold(0.0, f64::max);
        Some((tail, before))
    });
    let efficiency = grad.and_then(|(g, _)| efficiency(c, &range, trend, level, g));
    Some(Stall {
        range,
        trend,
        level,
        grad,
        full: c.f.full_grad_norm,
        efficiency,
    })
}

/// How much of the first-order prediction the loss actually realized: the fall per epoch over
/// `range` (from the trend of `ln L` at level `level`) over the fall a step predicts,
/// `L(θ − Δ) ≈ L(θ) − gᵀΔ`, times the updates per epoch. SGD steps `Δ = η g/(1 − μ)` predict
/// `η‖g‖²/(1 − μ)`; adaptive methods step about `η` along every coordinate, `gᵀΔ ≈ η‖g‖₁ ≤
/// η√P‖g‖`. Near 1: the loss is still locally linear at this step size, so larger steps are
/// safe (too small a rate). Near 0 or negative with a large gradient: the steps overshoot
/// (too large a rate). The mini-batch norm overstates ‖g‖, which only makes a step look less
/// efficient. (Cockpit's "alpha" compares the same two quantities along one step.)
fn efficiency(
    c: &Ctx,
    range: &std::ops::Range<usize>,
    trend: Trend,
    level: f64,
    g: f64,
) -> Option<f64> {
    let per_epoch = c.f.updates_per_epoch;
    let lr = median(&range.clone().filter_map(|i| c.lr_at(i)).collect::<Vec<_>>())?;
    if per_epoch == 0 || lr <= 0.0 || g <= 0.0 || range.len() < 2 {
        return None;
    }
    let step = if c.f.optimizer.adaptive() {
        let p: usize = c.f.layers.iter().map(|l| l.parameters).sum();
        if p == 0 {
            return None;
        }
        lr * (p as f64).sqrt() * g
    } else {
        lr * g * g / (1.0 - c.f.optimizer.momentum.clamp(0.0, 0.99))
    };
    let actual = -trend.change / (range.len() - 1) as f64 * level;
    Some(actual / (step * per_epoch as f64))
}

/// A model with a hidden layer: its loss is not convex, so a critical point need not be the
/// best it can do. (For a linear model every critical point is the global minimum: a flat
/// loss there is model bias, which `barely_learned` covers.)
fn non_convex(c: &Ctx) -> bool {
    c.f.layers.is_empty() || c.f.layers.iter().filter(|l| l.kind == "linear").count() >= 2
}

/// `critical_point`: flat loss at a high level with a gradient that has vanished.
pub fn critical_point(c: &Ctx) -> Option<Finding> {
    let s = stall(c)?;
    let (gt, gb) = s.grad?;
    if s.trend.falling(0.02) || !c.high(s.level) || !s.vanished() || !non_convex(c) {
        return None;
    }
    let shown = s.full.unwrap_or(gt);
    Some(finding(
        Kind::CriticalPoint,
        Severity::Warning,
        c.span(s.range.start, s.range.end - 1),
        evidence(&[
            ("loss", num(s.level)),
            ("loss_change", num(s.trend.change)),
            ("noise", num(s.trend.se)),
            ("grad_norm", num(gt)),
            ("grad_norm_earlier_max", num(gb)),
            ("full_grad_norm", s.full.map_or(Value::Null, num)),
        ]),
        format!(
            "the loss stays at {} (no fall beyond its noise) and the {}gradient norm has shrunk to {} from {} earlier: the parameters sit near a critical point — a saddle point or a poor local minimum",
            g(s.level),
            if s.full.is_some() { "full-data " } else { "" },
            g(shown),
            g(gb)
        ),
        ranked([
            Some(c.rem.diagnose()),
            c.rem.momentum("momentum carries the parameters across flat regions and saddles"),
            (c.f.updates_per_epoch <= 1).then(|| {
                Remedy::set(
                    "training.batch_size",
                    "32",
                    "mini-batch noise does not stay where the full gradient vanishes",
                )
            }),
        ]),
        "over the last third of the epochs (at least 5; learning rate not vanished) the log loss does not fall by more than 3 noise σ and 0.02, the loss is above half the trivial model's, the model has a hidden layer, and the full-data gradient norm at the end (without it, the median mini-batch norm) is below 0.1 × the largest earlier mini-batch norm",
    ))
}

/// `lr_too_large`: flat or rising loss at a high level while the gradient stays large.
pub fn lr_too_large(c: &Ctx) -> Option<Finding> {
    let s = stall(c)?;
    if s.vanished() || !s.signal() {
        return None;
    }
    // The best level the loss held for 3 epochs: one lucky epoch is not a level.
    let best = (0..c.n().saturating_sub(2))
        .filter_map(|i| median(&c.train[i..i + 3]))
        .fold(f64::INFINITY, f64::min);
    let noticeable = c.f.baseline_train_loss.map_or(true, |b| s.level > 0.01 * b);
    let rising = s.trend.rising(0.05) && noticeable;
    let bounced = s.level > 2.0 * best && noticeable;
    // Not falling at all beyond the noise: a loss that crawls down smoothly is too small a
    // step, not a bouncing one.
    let overshooting = s.efficiency.map_or(true, |e| e < 0.1);
    let stalled_high =
        (!s.trend.falling(0.0) || overshooting) && !s.trend.falling(0.02) && c.high(s.level);
    if !(rising || bounced || stalled_high) {
        return None;
    }
    let what = if rising {
        format!(
            "the loss rose by {} over the last {} epochs",
            pct(s.trend.change.exp() - 1.0),
            s.range.len()
        )
    } else if bounced {
        format!(
            "the loss climbed back to {} from a best of {}",
            g(s.level),
            g(best)
        )
    } else {
        format!("the loss stays at {} without falling", g(s.level))
    };
    let grad = s
        .grad
        .map(|(t, b)| {
            format!(
                " while the gradient norm stays large ({} vs {} earlier)",
                g(t),
                g(b)
            )
        })
        .unwrap_or_default();
    let mut ev = evidence(&[
        ("loss", num(s.level)),
        ("best_loss", num(best)),
        ("loss_change", num(s.trend.change)),
        ("noise", num(s.trend.se)),
        ("lr", num(c.lr_at(c.n() - 1).unwrap_or(c.f.optimizer.lr))),
        ("step_efficiency", s.efficiency.map_or(Value::Null, num)),
    ]);
    if let Some((t, b)) = s.grad {
        ev.insert("grad_norm".into(), num(t));
        ev.insert("grad_norm_earlier_max".into(), num(b));
    }
    Some(finding(
        Kind::LrTooLarge,
        Severity::Warning,
        c.span(s.range.start, s.range.end - 1),
        ev,
        format!("{what}{grad}: the steps bounce between the walls of a valley instead of going down it"),
        ranked([
            c.rem.lower_lr(10.0, "smaller steps settle into the valley"),
            c.rem.decay("shrinking steps settle where a fixed rate keeps bouncing"),
            c.rem.adaptive(
                "a per-parameter rate: smaller steps across steep walls, larger along the flat floor",
            ),
            c.rem.clip("caps the steps the steep walls produce"),
        ]),
        "over the last third of the epochs (at least 5; learning rate not vanished) the gradient has not vanished (as for critical_point) and is mostly signal (full-data norm ≥ 0.3 × the mini-batch norm), and the log loss rises by > 3 noise σ and 0.05, or sits above twice its best 3-epoch level (both only above 0.01 × the trivial model's loss), or, above half the trivial model's loss, falls by less than 0.02 and either not beyond its noise or by less than 0.1 of what the first-order model predicts for the steps taken",
    ))
}

/// `lr_too_small`: still falling steadily at the end, but far too slowly for the gradient.
pub fn lr_too_small(c: &Ctx) -> Option<Finding> {
    let s = stall(c)?;
    // Falling beyond the noise, and by about what the first-order model predicts for the
    // steps taken: the steps are in the linear regime, far from overshooting.
    if !s.trend.falling(0.0) || s.efficiency.is_some_and(|e| e < 0.3) {
        return None;
    }
    let first = head_level(&c.train, 1)?;
    let fell = 1.0 - c.final_train / first;
    if fell >= 0.5 || c.train_ratio().is_some_and(|r| r <= 0.3) {
        return None;
    }
    let (g0, g1) = match c.grad_norms() {
        Some(gs) => (head_level(&gs, 2)?, tail_level(&gs, 3)?),
        None => return None,
    };
    if g1 < 0.3 * g0 {
        return None;
    }
    let per_epoch = -s.trend.change / (s.range.len() - 1) as f64;
    Some(finding(
        Kind::LrTooSmall,
        Severity::Warning,
        c.span(0, c.n() - 1),
        evidence(&[
            ("loss_first", num(first)),
            ("loss_final", num(c.final_train)),
            ("loss_fall_per_epoch", num(per_epoch)),
            ("grad_norm_first", num(g0)),
            ("grad_norm_final", num(g1)),
            ("lr", num(c.f.optimizer.lr)),
            ("step_efficiency", s.efficiency.map_or(Value::Null, num)),
        ]),
        format!(
            "the loss is still falling steadily ({:.2}% per epoch at the end) but fell only {} in {} epochs, while the gradient norm stayed at {} (from {}): steps this small barely move the parameters",
            100.0 * per_epoch,
            pct(fell.max(0.0)),
            c.n(),
            g(g1),
            g(g0)
        ),
        ranked([
            c.rem.raise_lr(10.0, "the loss falls steadily, so larger steps are safe to try (a learning-rate range test: a few rates 10× apart)"),
            c.rem.momentum("momentum accumulates steps along a consistent downhill direction"),
            c.rem.adaptive("a per-parameter rate takes steps of about the learning rate whatever the gradient's scale"),
            c.rem.more_epochs("the loss was still falling"),
        ]),
        "over the last third of the epochs the log loss falls by > 3 noise σ and by ≥ 0.3 of what the first-order model predicts for the steps taken (step efficiency), yet the loss fell by less than half over the run, stays > 0.3 × the trivial model's, and the gradient norm kept > 0.3 of its first value",
    ))
}

/// `overfitting`: validation loss rising from its minimum while the training loss falls.
pub fn overfitting(c: &Ctx) -> Option<Finding> {
    let idx: Vec<usize> = (0..c.n())
        .filter(|&i| c.f.epochs[i].val_loss.is_some())
        .collect();
    if idx.len() < 6 {
        return None;
    }
    let vals: Vec<f64> = idx.iter().filter_map(|&i| c.f.epochs[i].val_loss).collect();
    let yv = logs(&vals);
    // A running median of 3 so that one lucky epoch is not the minimum.
    let smooth: Vec<f64> = (0..yv.len())
        .map(|i| {
            let (a, b) = (i.saturating_sub(1), (i + 2).min(yv.len()));
            median(&yv[a..b]).unwrap_or(yv[i])
        })
        .collect();
    let best = (0..smooth.len()).min_by(|&a, &b| smooth[a].total_cmp(&smooth[b]))?;
    let end_level = tail_level(&yv, 3)?;
    let rise = end_level - smooth[best];
    let sigma = noise(&yv).unwrap_or(0.0);
    let after = yv.len() - 1 - best;
    let train_fell = c.y[idx[best]] - tail_level(&c.y, 3)?;
    let significant = after >= 3 && rise > (3.0 * sigma).max(0.1) && train_fell > 0.02;
    let best_epoch = c.epoch(idx[best]);
    let restored = c.f.early_stopping_patience.is_some() && c.reported + 1 < c.n();
    let best_epoch = if restored {
        c.epoch(c.reported)
    } else {
        best_epoch
    };
    let ev = evidence(&[
        ("best_epoch", json!(best_epoch)),
        ("val_loss_best", num(smooth[best].exp())),
        ("val_loss_final", num(end_level.exp())),
        ("val_rise", num(rise.exp() - 1.0)),
        ("train_fall_after_best", num(1.0 - (-train_fell).exp())),
        ("noise", num(sigma)),
    ]);
    let rule = "after its (3-epoch median) minimum the validation loss rises by > 3 noise σ and 10% for at least 3 epochs while the training loss falls by > 2%; with early stopping restoring the best weights this is a note";
    if restored {
        let kept = c.epoch(c.reported);
        let how = if c.f.stopped_early {
            "early stopping ended the run and restored"
        } else {
            "the run ended on the best weights:"
        };
        let why = if significant {
            format!(
                "; the validation loss rose {} after epoch {best_epoch} while the training loss kept falling",
                pct(rise.exp() - 1.0)
            )
        } else {
            String::new()
        };
        return Some(finding(
            Kind::Overfitting,
            Severity::Note,
            c.span(c.reported, c.n() - 1),
            ev,
            format!("{how} epoch {kept}, the lowest validation loss{why}"),
            Vec::new(),
            rule,
        ));
    }
    if !significant {
        return None;
    }
    Some(finding(
        Kind::Overfitting,
        Severity::Warning,
        c.span(idx[best], c.n() - 1),
        ev,
        format!(
            "the validation loss rose {} after epoch {best_epoch} while the training loss fell {}: the model learns the training rows' noise",
            pct(rise.exp() - 1.0),
            pct(1.0 - (-train_fell).exp())
        ),
        ranked([
            c.rem.early_stopping(),
            c.rem.dropout(),
            c.rem.weight_decay(),
            Some(Remedy::advice(
                "more training data (or data augmentation), or fewer parameters",
            )),
        ]),
        rule,
    ))
}

/// Per-layer RMS gradient ratio (first linear layer over last), median over the second half.
fn layer_ratio(c: &Ctx) -> Option<(String, String, f64)> {
    let linear: Vec<_> = c.f.layers.iter().filter(|l| l.kind == "linear").collect();
    if linear.len() < 3 {
        return None;
    }
    let (first, last) = (linear[0], linear[linear.len() - 1]);
    let rms = |e: &crate::facts::EpochFacts, name: &str, p: usize| {
        e.grad_norm_per_layer
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v / (p.max(1) as f64).sqrt())
    };
    let ratios: Vec<f64> = c.f.epochs[c.n() / 2..]
        .iter()
        .filter_map(|e| {
            let a = rms(e, &first.name, first.parameters)?;
            let b = rms(e, &last.name, last.parameters)?;
            (b > 0.0).then(|| a / b)
        })
        .collect();
    Some((first.name.clone(), last.name.clone(), median(&ratios)?))
}

/// `vanishing_gradients`: the first layer's RMS gradient < 1e-3 × the last's.
pub fn vanishing_gradients(c: &Ctx) -> Option<Finding> {
    let (a, b, r) = layer_ratio(c)?;
    if r >= 1e-3 {
        return None;
    }
    let severity = if c.hampered() {
        Severity::Warning
    } else {
        Severity::Note
    };
    Some(finding(
        Kind::VanishingGradients,
        severity,
        None,
        evidence(&[("first_layer", json!(a)), ("last_layer", json!(b)), ("rms_ratio", num(r))]),
        format!(
            "layer {a}'s gradient per parameter is {r:.1e} × layer {b}'s: the signal shrinks through every saturating layer on the way back, so the first layers barely learn"
        ),
        ranked([
            c.rem.relu("ReLU passes gradients through unchanged where active"),
            c.rem.batch_norm("keeps every layer's inputs in the range where gradients flow"),
            c.rem.adaptive("a per-parameter rate rescales the tiny gradients"),
            Some(Remedy::advice("fewer layers: start shallow and add depth while the training loss improves")),
        ]),
        "median over the second half of the epochs of (first linear layer's gradient norm / √parameters) / (last linear layer's) < 1e-3, with at least 3 linear layers; a warning when the final loss is above 0.1 × the trivial model's",
    ))
}

/// `exploding_gradients`: gradients 1e3× larger at the input side, or grown 100× over time.
pub fn exploding_gradients(c: &Ctx) -> Option<Finding> {
    let by_layer = layer_ratio(c).filter(|&(_, _, r)| r > 1e3);
    let by_time = c.grad_norms().and_then(|gs| {
        if gs.len() < 6 {
            return None;
        }
        let early = head_level(&gs, 3)?;
        let peak = (0..gs.len() - 2)
            .filter_map(|i| median(&gs[i..i + 3]))
            .fold(0.0, f64::max);
        (early > 0.0 && peak > 100.0 * early).then_some((early, peak))
    });
    if by_layer.is_none() && by_time.is_none() {
        return None;
    }
    let mut ev = Map::new();
    let mut what = Vec::new();
    if let Some((a, b, r)) = &by_layer {
        ev.insert("first_layer".into(), json!(a));
        ev.insert("last_layer".into(), json!(b));
        ev.insert("rms_ratio".into(), num(*r));
        what.push(format!(
            "layer {a}'s gradient per parameter is {r:.1e} × layer {b}'s"
        ));
    }
    if let Some((early, peak)) = by_time {
        ev.insert("grad_norm_early".into(), num(early));
        ev.insert("grad_norm_peak".into(), num(peak));
        what.push(format!(
            "the gradient norm grew from {} to {} ({:.0}×)",
            g(early),
            g(peak),
            peak / early
        ));
    }
    Some(finding(
        Kind::ExplodingGradients,
        Severity::Warning,
        None,
        ev,
        format!(
            "{}: steps of that size throw the parameters far from where the gradient was measured",
            what.join("; ")
        ),
        ranked([
            c.rem.clip("caps the step whatever the gradient's size"),
            c.rem.lower_lr(10.0, "smaller steps keep the parameters where the gradient is informative"),
            c.rem.batch_norm("keeps activations, and so gradients, at a stable scale"),
        ]),
        "the first linear layer's gradient per parameter > 1e3 × the last's (median over the second half, ≥ 3 linear layers), or a 3-epoch median of the gradient norm > 100 × the first 3 epochs'",
    ))
}

/// `dead_units`: most units of a ReLU layer never fire on the training rows.
pub fn dead_units(c: &Ctx) -> Option<Finding> {
    let worst =
        c.f.relu_units
            .iter()
            .filter(|u| u.units >= 4)
            .max_by(|a, b| {
                (a.dead as f64 / a.units as f64).total_cmp(&(b.dead as f64 / b.units as f64))
            })?;
    let frac = worst.dead as f64 / worst.units as f64;
    if frac <= 0.5 {
        return None;
    }
    let severity = if c.hampered() || frac > 0.9 {
        Severity::Warning
    } else {
        Severity::Note
    };
    let mut ev = Map::new();
    for u in &c.f.relu_units {
        ev.insert(
            format!("layer_{}", u.layer),
            json!(format!("{}/{} dead", u.dead, u.units)),
        );
    }
    Some(finding(
        Kind::DeadUnits,
        severity,
        None,
        ev,
        format!(
            "{} of the {} units of ReLU layer {} ({}) are inactive on every training row: they output 0 and get no gradient, so they never recover",
            worst.dead,
            worst.units,
            worst.layer,
            pct(frac)
        ),
        ranked([
            c.rem.lower_lr(10.0, "large steps push ReLU biases below zero for good"),
            c.rem.batch_norm("centres each unit's input so that it fires on part of every batch"),
            c.rem.tanh("an activation without a dead region"),
        ]),
        "more than half the units of a ReLU layer (≥ 4 units) have input ≤ 0 on every training row at the end; a warning when the final loss is above 0.1 × the trivial model's or more than 90% are dead",
    ))
}

/// `unscaled_target`: a regression target far from unit scale, not standardized.
pub fn unscaled_target(c: &Ctx) -> Option<Finding> {
    let (mean, std, scale) = unscaled_target_scale(c.f)?;
    let severity = if scale >= 100.0 {
        Severity::Warning
    } else {
        Severity::Note
    };
    Some(finding(
        Kind::UnscaledTarget,
        severity,
        None,
        evidence(&[("target_mean", num(mean)), ("target_std", num(std))]),
        format!(
            "the target has mean {} and standard deviation {} and is not standardized: the network's outputs start near 0 with unit scale, so its last layer must grow to about {} before predictions are even in range, and the squared errors of that size leave no learning rate that suits every layer",
            g(mean),
            g(std),
            g(scale)
        ),
        ranked([c.rem.standardize_target()]),
        "regression target with max(|mean|, std) ≥ 10 and data.standardize_target = false; a warning when ≥ 100, a note otherwise",
    ))
}

/// `unscaled_features`: features of very large or very different scales, not standardized.
pub fn unscaled_features(c: &Ctx) -> Option<Finding> {
    let d = c.f.data.as_ref()?;
    if d.features_standardized || d.features.is_empty() {
        return None;
    }
    let live: Vec<_> = d.features.iter().filter(|f| f.std > 0.0).collect();
    let largest = live
        .iter()
        .max_by(|a, b| a.mean.abs().max(a.std).total_cmp(&b.mean.abs().max(b.std)))?;
    let big = largest.mean.abs().max(largest.std);
    let (lo, hi) = live.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), f| {
        (lo.min(f.std), hi.max(f.std))
    });
    let spread = hi / lo;
    if big < 100.0 && spread < 100.0 {
        return None;
    }
    let severity = if c.hampered() {
        Severity::Warning
    } else {
        Severity::Note
    };
    Some(finding(
        Kind::UnscaledFeatures,
        severity,
        None,
        evidence(&[
            ("largest_feature", json!(largest.name)),
            ("largest_scale", num(big)),
            ("std_ratio", num(spread)),
        ]),
        format!(
            "the features are not standardized: `{}` reaches a scale of {}, and standard deviations differ {:.0}×: the error surface is a long narrow valley where one learning rate is too large across and too small along",
            largest.name,
            g(big),
            spread
        ),
        ranked([c.rem.standardize_features()]),
        "data.standardize = false and a feature with max(|mean|, std) ≥ 100, or standard deviations (of non-constant features) differing ≥ 100×; a warning when the final loss is above 0.1 × the trivial model's",
    ))
}
