//! The general guide: a ladder of models from simple to deep, and what their training,
//! validation and test losses say — model bias, optimization issue, overfitting, mismatch.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use trainscope_nn::Sequential;
use trainscope_train::{
    cross_validate, files, load_run_data, load_training_data, loss_for_data, model_spec, train,
    Config, Preset, RunOptions, Silent, TrainedModel,
};
use trainscope_viz::plot::{bias_complexity_plot, ComplexityPoint};

use crate::error::{invalid, Result};

/// The numeric rules of the guide's verdicts. "Baseline" is the loss of the trivial model on
/// the training rows: a constant prediction of the training mean (regression) or of the
/// training class frequencies (classification), in the units the models train in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuideRules {
    /// Model bias when the lowest training loss of the whole ladder is above this fraction of
    /// the baseline (even the most flexible model removes less than half the trivial loss).
    /// Also the bound under which a training loss counts as "low" for overfitting.
    pub bias_ratio: f64,
    /// Optimization issue when a deeper model's training loss exceeds a shallower one's by more
    /// than this fraction: `L_deep > (1 + margin) · L_shallow`…
    pub optimization_margin: f64,
    /// …and `L_deep − L_shallow > optimization_gap · baseline` (a gap that matters on the
    /// data's scale: 0.089 against 0.047 with a baseline of 1.1 is not an issue).
    pub optimization_gap: f64,
    /// A deeper rung that early stopping ended is left out of the optimization-issue rule
    /// unless its training loss had settled: from the epoch whose weights it keeps to the last
    /// epoch trained, the training loss fell by less than this fraction.
    pub settled_change: f64,
    /// Overfitting when, with a low training loss, `L_val > overfit_ratio · L_train`…
    pub overfit_ratio: f64,
    /// …and `L_val − L_train > overfit_gap · baseline` (a gap that matters on the data's scale).
    pub overfit_gap: f64,
    /// Mismatch when the test loss of the selected model is `> mismatch_ratio · L_val`…
    pub mismatch_ratio: f64,
    /// …and `L_test − L_val > mismatch_gap · baseline`.
    pub mismatch_gap: f64,
}

impl Default for GuideRules {
    fn default() -> Self {
        GuideRules {
            bias_ratio: 0.5,
            optimization_margin: 0.1,
            optimization_gap: 0.1,
            settled_change: 0.01,
            overfit_ratio: 2.0,
            overfit_gap: 0.1,
            mismatch_ratio: 3.0,
            mismatch_gap: 0.1,
        }
    }
}

impl GuideRules {
    /// The rules in words, as printed.
    pub fn describe(&self) -> Vec<String> {
        vec![
            format!(
                "model bias: the lowest training loss of the ladder > {} × baseline",
                self.bias_ratio
            ),
            format!(
                "optimization issue: a deeper model's training loss > {} × a shallower one's, \
                 and the gap > {} × baseline; a deeper model that early stopping ended before \
                 its training loss settled (still falling by ≥ {}% after the kept epoch) is left \
                 out",
                1.0 + self.optimization_margin,
                self.optimization_gap,
                100.0 * self.settled_change
            ),
            format!(
                "overfitting: training loss ≤ {} × baseline, validation loss > {} × training \
                 loss, and the gap > {} × baseline",
                self.bias_ratio, self.overfit_ratio, self.overfit_gap
            ),
            format!(
                "mismatch: the selected model's test loss > {} × its validation loss, and the \
                 gap > {} × baseline",
                self.mismatch_ratio, self.mismatch_gap
            ),
            "baseline: the trivial model's loss on the training rows (constant prediction of \
             the training mean, or of the training class frequencies)"
                .into(),
        ]
    }
}

/// Options of [`guide`].
#[derive(Debug, Clone)]
pub struct GuideOptions {
    /// Hidden-layer counts of the ladder (0: the linear model).
    pub depths: Vec<usize>,
    /// Hidden widths: layer `i` of every rung has width `widths[i]` (the last repeats).
    pub widths: Vec<usize>,
    /// Every hidden layer after the first inside a residual block (`resnet_mlp`; one width).
    pub residual: bool,
    /// K-fold cross validation instead of the configuration's validation rows.
    pub folds: Option<usize>,
    /// A labelled test file, compared with the validation loss (mismatch).
    pub test: Option<PathBuf>,
    /// Where the rungs' runs, `guide.json`, `guide.svg` and `guide.png` go.
    pub out_dir: PathBuf,
    /// The verdicts' thresholds.
    pub rules: GuideRules,
}

impl Default for GuideOptions {
    fn default() -> Self {
        GuideOptions {
            depths: vec![0, 1, 2, 4],
            widths: vec![32],
            residual: false,
            folds: None,
            test: None,
            out_dir: PathBuf::from("runs/guide"),
            rules: GuideRules::default(),
        }
    }
}

/// One model of the ladder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rung {
    /// `linear`, or the hidden widths, e.g. `mlp [32, 32]`.
    pub label: String,
    /// Hidden layers.
    pub depth: usize,
    /// Hidden widths.
    pub hidden: Vec<usize>,
    /// Scalar parameters.
    pub parameters: usize,
    /// Training loss: the final model on all training rows (eval mode); with folds, the mean
    /// over the folds of the last epoch's training loss.
    #[serde(deserialize_with = "trainscope_record::nan_if_null")]
    pub train_loss: f64,
    /// Validation loss (mean over the folds with `--folds`).
    #[serde(deserialize_with = "trainscope_record::nan_if_null")]
    pub val_loss: f64,
    /// Standard deviation over the folds.
    pub train_loss_std: Option<f64>,
    /// Standard deviation over the folds.
    pub val_loss_std: Option<f64>,
    /// The run directory (without folds).
    pub run_dir: Option<PathBuf>,
    /// Epochs trained (the most over the folds).
    pub epochs: usize,
    /// True when early stopping ended the training (in any fold): the rung keeps the weights
    /// of its best validation epoch, so its training loss is that epoch's.
    pub stopped_early: bool,
    /// The epoch whose weights the rung keeps, when early stopping watched it (without folds).
    pub best_epoch: Option<usize>,
    /// When early stopping ended the training: whether the training loss had settled by then
    /// ([`GuideRules::settled_change`], from `metrics.jsonl`); `None` when it did not stop
    /// early or it is unknown (with folds).
    pub train_loss_settled: Option<bool>,
}

/// The kinds of finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// The models are too simple.
    ModelBias,
    /// A deeper model trains worse than a shallower one.
    OptimizationIssue,
    /// Low training loss, high validation loss.
    Overfitting,
    /// The test data differs from the training data.
    Mismatch,
    /// None of the rules fired.
    NoProblemFound,
}

impl FindingKind {
    /// Human wording.
    pub fn describe(self) -> &'static str {
        match self {
            FindingKind::ModelBias => "model bias",
            FindingKind::OptimizationIssue => "optimization issue",
            FindingKind::Overfitting => "overfitting",
            FindingKind::Mismatch => "mismatch",
            FindingKind::NoProblemFound => "no problem found",
        }
    }

    fn remedies(self) -> Vec<String> {
        let r: &[&str] = match self {
            FindingKind::ModelBias => &[
                "make the model more flexible: more features, more neurons, more layers",
            ],
            FindingKind::OptimizationIssue => &[
                "the deeper model can represent whatever the shallower one does, so its higher training loss is the optimizer's fault, not the model's",
                "start from shallow models, which are easy to optimize; then improve the optimizer of the deep one (adaptive learning rate, momentum, learning-rate schedule, batch normalization)",
            ],
            FindingKind::Overfitting => &[
                "more training data, or data augmentation",
                "a less flexible model: fewer parameters or features, shared parameters",
                "early stopping, regularization, dropout",
                "select the model by validation (or N-fold cross validation), never by the test set",
            ],
            FindingKind::Mismatch => &[
                "the training and test data come from different distributions: more or better-matched training data helps, not a different model",
                "learn about how the test data was collected and make the training data look like it",
            ],
            FindingKind::NoProblemFound => &[
                "the selected model is the one with the lowest validation loss; evaluate it once on the test set",
            ],
        };
        r.iter().map(|s| s.to_string()).collect()
    }
}

/// One verdict with its evidence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    /// What was found.
    pub kind: FindingKind,
    /// The numbers that decided it.
    pub evidence: String,
    /// The lectures' remedies.
    pub remedies: Vec<String>,
}

/// What [`guide`] found (`guide.json`, and what `--json` prints; the report reads it back as
/// this type).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GuideReport {
    /// What was run: the resolved configuration (saved beside the result) by content hash,
    /// the training data and its rows (always written; absent in files written before results
    /// were stamped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<trainscope_record::Stamp>,
    /// The ladder, shallow to deep.
    pub rungs: Vec<Rung>,
    /// The loss's name.
    pub loss_name: String,
    /// The trivial model's loss on the training rows.
    #[serde(deserialize_with = "trainscope_record::nan_if_null")]
    pub baseline_loss: f64,
    /// How validation was done.
    pub validation: String,
    /// The rung with the lowest validation loss.
    pub selected: String,
    /// The selected rung's validation loss.
    #[serde(deserialize_with = "trainscope_record::nan_if_null")]
    pub selected_val_loss: f64,
    /// Its test loss, when a test file was given.
    pub test_loss: Option<f64>,
    /// The verdicts.
    pub findings: Vec<Finding>,
    /// What the rules left out and why (a deeper rung that early stopping ended before its
    /// training loss settled).
    pub notes: Vec<String>,
    /// The thresholds.
    pub rules: GuideRules,
    /// The rules in words.
    pub rule_text: Vec<String>,
    /// The bias–complexity plots written.
    pub plots: Vec<PathBuf>,
}

/// The trivial model's loss on `data` (the training rows): one implementation with the
/// trainer's `baseline_*` figures.
pub use trainscope_train::baseline_loss;

fn rung_config(base: &Config, hidden: &[usize], residual: bool) -> Config {
    let mut cfg = base.clone();
    let m = &mut cfg.model;
    m.init = None;
    m.count = None;
    m.layers = None;
    m.width = None;
    m.depth = None;
    m.residual = None;
    m.layer_norm = false;
    m.channels = None;
    m.kernel_size = None;
    if residual && !hidden.is_empty() {
        m.preset = Some(Preset::ResnetMlp);
        m.width = Some(hidden[0]);
        m.depth = Some(hidden.len());
        m.hidden = None;
        m.batch_norm = false;
        m.dropout = 0.0;
    } else if hidden.is_empty() {
        m.preset = Some(Preset::Linear);
        m.hidden = None;
        m.activation = None;
        m.batch_norm = false;
        m.dropout = 0.0;
    } else {
        m.preset = Some(Preset::Mlp);
        m.hidden = Some(hidden.to_vec());
    }
    cfg
}

fn label(hidden: &[usize], residual: bool) -> String {
    match hidden {
        [] => "linear".into(),
        [w, ..] if residual => format!("residual mlp {} × {w}", hidden.len()),
        [w, rest @ ..] if rest.len() >= 4 && rest.iter().all(|r| r == w) => {
            format!("mlp {} × {w}", hidden.len())
        }
        _ => format!("mlp {hidden:?}"),
    }
}

/// The deepest rung the guide builds: far beyond what trains, small enough that a typo cannot
/// allocate a list of 10⁹ layers.
pub const MAX_DEPTH: usize = 1000;

/// Trains the ladder `opts.depths` (hidden-layer counts, shallow to deep) with everything else
/// from `config`, measures training and validation loss (holdout, or K-fold with
/// `opts.folds`), and applies [`GuideRules`]. Without folds and without a validation setting,
/// a 20 % validation fraction is used. Writes `guide.json`, `guide.svg` and `guide.png`.
pub fn guide(
    config: &Config,
    opts: &GuideOptions,
    on_rung: &mut dyn FnMut(&Rung),
) -> Result<GuideReport> {
    if opts.depths.is_empty() {
        return Err(invalid("--depths: need at least one model"));
    }
    if opts.widths.is_empty() || opts.widths.contains(&0) {
        return Err(invalid("--widths: need positive widths"));
    }
    if opts.residual && opts.widths.len() > 1 {
        return Err(invalid(
            "--widths: a residual ladder needs one width (a block adds its input to its output)",
        ));
    }
    if opts.folds.is_some_and(|k| k < 2) {
        return Err(invalid("--folds: need at least 2 folds"));
    }
    // Sizes are refused before any data is read or any rung trains: with one input and one
    // output a rung has the fewest parameters it can have.
    if let Some(&d) = opts.depths.iter().find(|&&d| d > MAX_DEPTH) {
        return Err(invalid(format!(
            "--depths: {d} hidden layers, more than the limit of {MAX_DEPTH}"
        )));
    }
    let limit = trainscope_nn::MAX_PARAMETERS;
    for &d in &opts.depths {
        let hidden: Vec<usize> = (0..d)
            .map(|i| opts.widths[i.min(opts.widths.len() - 1)])
            .collect();
        let n = model_spec(&rung_config(config, &hidden, opts.residual), 1, 1)
            .and_then(|s| s.parameter_count());
        if !n.is_some_and(|n| n <= limit) {
            return Err(invalid(format!(
                "--widths: the rung {} would have {} parameters, more than the limit of {limit}",
                label(&hidden, opts.residual),
                n.map_or_else(
                    || "more than usize::MAX".into(),
                    |n| format!("at least {n}")
                )
            )));
        }
    }
    let mut depths = opts.depths.clone();
    depths.sort_unstable();
    depths.dedup();
    std::fs::create_dir_all(&opts.out_dir)
        .map_err(|e| invalid(format!("cannot create {}: {e}", opts.out_dir.display())))?;
    let mut base = config.clone();
    let validation = match opts.folds {
        Some(k) => format!("{k}-fold cross validation"),
        None if base.has_validation() => "the configuration's validation rows".to_string(),
        None => {
            base.data.validation_fraction = Some(0.2);
            "a 20% validation split (the configuration has none)".to_string()
        }
    };
    if let Some(t) = &opts.test {
        base.data.test = Some(t.clone());
    }
    let train_rows = match opts.folds {
        Some(_) => load_training_data(&base)?,
        None => load_run_data(&base)?.train,
    };
    let baseline = baseline_loss(&base, &train_rows)?;
    let (loss, outputs) = loss_for_data(base.training.loss, &train_rows)?;
    let data = match opts.folds {
        Some(_) => None,
        None => Some(load_run_data(&base)?),
    };
    let mut rungs = Vec::new();
    let mut test_losses = Vec::new();
    for &d in &depths {
        let hidden: Vec<usize> = (0..d)
            .map(|i| opts.widths[i.min(opts.widths.len() - 1)])
            .collect();
        let cfg = rung_config(&base, &hidden, opts.residual);
        cfg.validate()?;
        let parameters = model_spec(&cfg, train_rows.n_features(), outputs)
            .map(|s| Sequential::<f64>::from_seed(s, 0).map(|m| m.num_parameters()))
            .transpose()?
            .unwrap_or(0);
        let name = label(&hidden, opts.residual);
        let rung = match (&data, opts.folds) {
            (Some(data), _) => {
                let dir = opts.out_dir.join(format!("depth-{d}"));
                let run = RunOptions {
                    out_dir: Some(dir.clone()),
                    ..Default::default()
                };
                let s = train(&cfg, data, &run, &mut Silent)?;
                let model = TrainedModel::load(&dir.join(files::MODEL))?;
                let train_loss = model.evaluate(&data.train)?.loss;
                test_losses.push(s.test_loss);
                let settled = if s.stopped_early {
                    train_loss_settled(&dir, s.best_epoch, opts.rules.settled_change)?
                } else {
                    None
                };
                Rung {
                    label: name,
                    depth: d,
                    hidden,
                    parameters,
                    train_loss,
                    val_loss: s.val_loss.unwrap_or(f64::NAN),
                    train_loss_std: None,
                    val_loss_std: None,
                    run_dir: Some(dir),
                    epochs: s.epochs,
                    stopped_early: s.stopped_early,
                    best_epoch: s.best_epoch,
                    train_loss_settled: settled,
                }
            }
            (None, Some(k)) => {
                let s = cross_validate(&cfg, k, &mut Silent, &mut |_| {})?;
                test_losses.push(None);
                Rung {
                    label: name,
                    depth: d,
                    hidden,
                    parameters,
                    train_loss: s.train_loss.mean,
                    val_loss: s.val_loss.mean,
                    train_loss_std: Some(s.train_loss.std),
                    val_loss_std: Some(s.val_loss.std),
                    run_dir: None,
                    epochs: s.per_fold.iter().map(|f| f.epochs).max().unwrap_or(0),
                    stopped_early: s.per_fold.iter().any(|f| f.stopped_early),
                    best_epoch: None,
                    train_loss_settled: None,
                }
            }
            (None, None) => unreachable!("data is loaded unless folds are given"),
        };
        on_rung(&rung);
        rungs.push(rung);
    }
    let sel = (0..rungs.len())
        .min_by(|&a, &b| rungs[a].val_loss.total_cmp(&rungs[b].val_loss))
        .expect("at least one rung");
    let test_loss = match (&opts.test, opts.folds) {
        (None, _) => None,
        (Some(_), None) => test_losses[sel],
        (Some(_), Some(_)) => {
            // Cross validation trains no final model; train the selected rung once on all
            // the training rows and evaluate that on the test file.
            let mut cfg = rung_config(&base, &rungs[sel].hidden, opts.residual);
            cfg.data.validation = None;
            cfg.data.validation_fraction = None;
            cfg.training.early_stopping_patience = None;
            let data = load_run_data(&cfg)?;
            let run = RunOptions {
                out_dir: Some(opts.out_dir.join("selected")),
                ..Default::default()
            };
            train(&cfg, &data, &run, &mut Silent)?.test_loss
        }
    };
    let (findings, notes) = judge(&rungs, sel, baseline, test_loss, &opts.rules);
    let mut plots = Vec::new();
    for ext in ["svg", "png"] {
        let p = opts.out_dir.join(format!("guide.{ext}"));
        plot_ladder(&rungs, &p)?;
        plots.push(p);
    }
    let report = GuideReport {
        stamp: Some(crate::saved::config_stamp(
            &opts.out_dir,
            trainscope_record::files::GUIDE,
            config,
            None,
        )?),
        selected: rungs[sel].label.clone(),
        selected_val_loss: rungs[sel].val_loss,
        rungs,
        loss_name: loss.name().to_string(),
        baseline_loss: baseline,
        validation,
        test_loss,
        findings,
        notes,
        rule_text: opts.rules.describe(),
        rules: opts.rules.clone(),
        plots,
    };
    crate::saved::save_analysis(&opts.out_dir, trainscope_record::files::GUIDE, &report)?;
    Ok(report)
}

/// The guide's figure (`guide` draws it, and the report and `plot` redraw it from
/// `guide.json`): training and validation loss of each rung against its size.
pub fn plot_ladder(rungs: &[Rung], out: &Path) -> Result<()> {
    let points: Vec<ComplexityPoint> = rungs
        .iter()
        .map(|r| ComplexityPoint {
            label: r.label.clone(),
            size: r.parameters as f64,
            train_loss: r.train_loss,
            val_loss: r.val_loss,
        })
        .collect();
    bias_complexity_plot(&points, out)?;
    Ok(())
}

/// Whether the training loss of the run in `dir` had settled when early stopping ended it: from
/// the kept epoch `best` to the last one, the per-epoch training loss fell by less than
/// `change` (relative). `None` when `metrics.jsonl` or the kept epoch is missing.
fn train_loss_settled(dir: &Path, best: Option<usize>, change: f64) -> Result<Option<bool>> {
    let path = dir.join(files::METRICS);
    let Some(best) = best else { return Ok(None) };
    if !path.is_file() {
        return Ok(None);
    }
    let records = crate::findings::read_epochs(&path)?;
    let Some(kept) = records.iter().find(|e| e.epoch == best) else {
        return Ok(None);
    };
    let later = records
        .iter()
        .filter(|e| e.epoch > kept.epoch)
        .map(|e| e.train_loss)
        .fold(f64::INFINITY, f64::min);
    Ok(Some(later >= (1.0 - change) * kept.train_loss))
}

/// A deeper rung whose training loss is not the optimizer's last word: early stopping ended it
/// before the loss settled, so a higher training loss than a shallower rung's says nothing
/// about optimization.
fn unsettled(g: &Rung) -> bool {
    g.stopped_early && g.train_loss_settled != Some(true)
}

/// The findings, and notes on the rungs the optimization-issue rule left out.
fn judge(
    rungs: &[Rung],
    sel: usize,
    baseline: f64,
    test_loss: Option<f64>,
    r: &GuideRules,
) -> (Vec<Finding>, Vec<String>) {
    let mut out = Vec::new();
    let mut notes = Vec::new();
    let residual = rungs.iter().any(|r| r.label.starts_with("residual"));
    let mut find = |kind: FindingKind, evidence: String| {
        let mut remedies = kind.remedies();
        if kind == FindingKind::OptimizationIssue && !residual {
            remedies.push(
                "residual connections (y = x + layer(x)) let a deep network train like a shallow one: `guide --residual`, or model.preset = \"resnet_mlp\"".into(),
            );
        }
        out.push(Finding {
            kind,
            evidence,
            remedies,
        })
    };
    let best = rungs
        .iter()
        .min_by(|a, b| a.train_loss.total_cmp(&b.train_loss))
        .expect("at least one rung");
    if best.train_loss > r.bias_ratio * baseline {
        find(
            FindingKind::ModelBias,
            format!(
                "the lowest training loss, {:.4e} ({}), is {:.0}% of the baseline {:.4e} \
                 (rule: > {:.0}%)",
                best.train_loss,
                best.label,
                100.0 * best.train_loss / baseline,
                baseline,
                100.0 * r.bias_ratio
            ),
        );
    }
    // The worst pair: the deeper model whose training loss exceeds a shallower one's most.
    let mut worst: Option<(usize, usize, f64)> = None;
    for j in 1..rungs.len() {
        if unsettled(&rungs[j]) {
            notes.push(format!(
                "{} is left out of the optimization-issue rule: early stopping ended its \
                 training{} before its training loss settled{}, so its training loss ({:.4e}) is \
                 not what the optimizer can reach",
                rungs[j].label,
                match rungs[j].best_epoch {
                    Some(b) => format!(" at epoch {} (keeping epoch {b})", rungs[j].epochs),
                    None => String::new(),
                },
                if rungs[j].train_loss_settled.is_none() {
                    " (not measured: assumed still falling)"
                } else {
                    ""
                },
                rungs[j].train_loss
            ));
            continue;
        }
        for i in 0..j {
            let q = rungs[j].train_loss / rungs[i].train_loss;
            if rungs[j].train_loss > (1.0 + r.optimization_margin) * rungs[i].train_loss
                && rungs[j].train_loss - rungs[i].train_loss > r.optimization_gap * baseline
                && !matches!(worst, Some((_, _, w)) if w >= q)
            {
                worst = Some((i, j, q));
            }
        }
    }
    if let Some((i, j, q)) = worst {
        find(
            FindingKind::OptimizationIssue,
            format!(
                "{} reaches a training loss of {:.4e}, {:.2}× that of the shallower {} \
                 ({:.4e}; rule: > {} × and gap > {} × baseline {:.4e})",
                rungs[j].label,
                rungs[j].train_loss,
                q,
                rungs[i].label,
                rungs[i].train_loss,
                1.0 + r.optimization_margin,
                r.optimization_gap,
                baseline
            ),
        );
    }
    let over: Vec<String> = rungs
        .iter()
        .filter(|g| {
            g.train_loss <= r.bias_ratio * baseline
                && g.val_loss > r.overfit_ratio * g.train_loss
                && g.val_loss - g.train_loss > r.overfit_gap * baseline
        })
        .map(|g| {
            format!(
                "{}: training {:.4e}, validation {:.4e}",
                g.label, g.train_loss, g.val_loss
            )
        })
        .collect();
    if !over.is_empty() {
        find(
            FindingKind::Overfitting,
            format!(
                "{} (rule: validation > {} × training and gap > {} × baseline {:.4e})",
                over.join("; "),
                r.overfit_ratio,
                r.overfit_gap,
                baseline
            ),
        );
    }
    if let Some(t) = test_loss {
        let v = rungs[sel].val_loss;
        if t > r.mismatch_ratio * v && t - v > r.mismatch_gap * baseline {
            find(
                FindingKind::Mismatch,
                format!(
                    "the selected {} has test loss {:.4e}, {:.1}× its validation loss {:.4e} \
                     (rule: > {} × and gap > {} × baseline)",
                    rungs[sel].label,
                    t,
                    t / v,
                    v,
                    r.mismatch_ratio,
                    r.mismatch_gap
                ),
            );
        }
    }
    if out.is_empty() {
        let s = &rungs[sel];
        out.push(Finding {
            kind: FindingKind::NoProblemFound,
            evidence: format!(
                "{} has the lowest validation loss, {:.4e} (training {:.4e}, baseline {:.4e})",
                s.label, s.val_loss, s.train_loss, baseline
            ),
            remedies: FindingKind::NoProblemFound.remedies(),
        });
    }
    (out, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rung(label: &str, depth: usize, train_loss: f64, val_loss: f64) -> Rung {
        Rung {
            label: label.into(),
            depth,
            hidden: vec![32; depth],
            parameters: 0,
            train_loss,
            val_loss,
            train_loss_std: None,
            val_loss_std: None,
            run_dir: None,
            epochs: 100,
            stopped_early: false,
            best_epoch: None,
            train_loss_settled: None,
        }
    }

    fn kinds(f: &[Finding]) -> Vec<FindingKind> {
        f.iter().map(|f| f.kind).collect()
    }

    #[test]
    fn a_higher_deep_training_loss_within_the_gap_is_no_optimization_issue() {
        // The case that used to fire: 0.089 > 1.1 × 0.047, but the difference 0.042 is under
        // 0.1 × the baseline 1.099 (0.1099).
        let rungs = [
            rung("mlp [32]", 1, 0.047, 0.06),
            rung("mlp [32, 32]", 2, 0.089, 0.1),
        ];
        let (f, notes) = judge(&rungs, 0, 1.099, None, &GuideRules::default());
        assert_eq!(kinds(&f), [FindingKind::NoProblemFound]);
        assert!(notes.is_empty());
        // The same ratio with a gap that matters on the data's scale still fires.
        let rungs = [
            rung("mlp [32]", 1, 0.47, 0.5),
            rung("mlp [32, 32]", 2, 0.89, 0.9),
        ];
        let (f, _) = judge(&rungs, 0, 1.099, None, &GuideRules::default());
        assert_eq!(kinds(&f), [FindingKind::OptimizationIssue]);
        assert!(
            f[0].evidence.contains("gap > 0.1 × baseline"),
            "{}",
            f[0].evidence
        );
    }

    #[test]
    fn a_deeper_rung_stopped_early_before_its_loss_settled_is_left_out() {
        let shallow = rung("mlp [32]", 1, 0.1, 0.2);
        let mut deep = rung("mlp [32, 32]", 2, 0.4, 0.45);
        deep.stopped_early = true;
        deep.epochs = 40;
        deep.best_epoch = Some(30);
        deep.train_loss_settled = Some(false);
        let rules = GuideRules::default();
        let (f, notes) = judge(&[shallow.clone(), deep.clone()], 0, 1.0, None, &rules);
        assert!(
            !kinds(&f).contains(&FindingKind::OptimizationIssue),
            "{f:?}"
        );
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].starts_with("mlp [32, 32] is left out")
                && notes[0].contains("at epoch 40 (keeping epoch 30)"),
            "{}",
            notes[0]
        );
        // Unknown (cross validation) counts as not settled.
        deep.train_loss_settled = None;
        let (f, notes) = judge(&[shallow.clone(), deep.clone()], 0, 1.0, None, &rules);
        assert!(!kinds(&f).contains(&FindingKind::OptimizationIssue));
        assert!(notes[0].contains("assumed still falling"), "{}", notes[0]);
        // A loss that had settled before the stop is the optimizer's last word: the rule applies.
        deep.train_loss_settled = Some(true);
        let (f, notes) = judge(&[shallow, deep], 0, 1.0, None, &rules);
        assert!(kinds(&f).contains(&FindingKind::OptimizationIssue), "{f:?}");
        assert!(notes.is_empty());
    }

    #[test]
    fn settled_means_the_training_loss_stopped_falling_after_the_kept_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let write = |losses: &[f64]| {
            let body: String = losses
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    format!(
                        "{{\"epoch\": {}, \"step\": {}, \"train_loss\": {l}, \"val_loss\": null, \
                         \"train_accuracy\": null, \"val_accuracy\": null, \"grad_norm\": 1.0, \
                         \"grad_norm_last\": 1.0, \"lr\": 0.1, \"elapsed_s\": 0.0}}\n",
                        i + 1,
                        i + 1
                    )
                })
                .collect();
            std::fs::write(dir.path().join(files::METRICS), body).unwrap();
        };
        write(&[1.0, 0.5, 0.3, 0.2, 0.15]);
        assert_eq!(
            train_loss_settled(dir.path(), Some(3), 0.01).unwrap(),
            Some(false)
        );
        write(&[1.0, 0.5, 0.3, 0.299, 0.2995]);
        assert_eq!(
            train_loss_settled(dir.path(), Some(3), 0.01).unwrap(),
            Some(true)
        );
        assert_eq!(train_loss_settled(dir.path(), None, 0.01).unwrap(), None);
        assert_eq!(train_loss_settled(dir.path(), Some(9), 0.01).unwrap(), None);
    }
}
