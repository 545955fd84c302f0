//! How a training run reports progress on stderr: a bar on a terminal, epoch lines (every
//! epoch, or every N-th with `--log-every N`; a long run on a terminal every few epochs, fitted
//! to the terminal's width), nothing with `--quiet`.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use trainscope_train::{EpochMetrics, Observer, RunInfo};

use crate::output::{num, percent};

/// Progress on stderr.
pub struct Progress {
    quiet: bool,
    terminal: bool,
    bar: Option<ProgressBar>,
    epochs: usize,
    show_model: bool,
    /// `--log-every N`; `None`: every epoch, or on a terminal about [`LINES_ON_A_TERMINAL`].
    log_every: Option<usize>,
    every: usize,
    start_epoch: usize,
    /// Columns of the terminal, when stderr is one.
    width: Option<usize>,
}

/// About how many epoch lines a long run prints on a terminal by default.
const LINES_ON_A_TERMINAL: usize = 50;

/// The smallest 1-2-5 step (1, 2, 5, 10, 20, …) that shows at most `lines` of `epochs`.
pub fn auto_every(epochs: usize, lines: usize) -> usize {
    let mut step = 1;
    let mut i = 0;
    while epochs.div_ceil(step) > lines {
        step = [1, 2, 5][(i + 1) % 3] * 10usize.pow(((i + 1) / 3) as u32);
        i += 1;
    }
    step
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        Progress {
            quiet,
            terminal: std::io::stderr().is_terminal(),
            bar: None,
            epochs: 0,
            show_model: false,
            log_every: None,
            every: 1,
            start_epoch: 0,
            width: None,
        }
    }

    /// Print every `n`-th epoch's line (and the first and last); `None` chooses.
    pub fn log_every(mut self, n: Option<usize>) -> Self {
        self.log_every = n;
        self
    }

    /// Prints the model's table when the run starts (`train --verbose`).
    pub fn show_model(mut self, yes: bool) -> Self {
        self.show_model = yes;
        self
    }
}

impl Observer for Progress {
    fn on_start(&mut self, info: &RunInfo) {
        self.epochs = info.epochs;
        self.start_epoch = info.start_epoch;
        if self.terminal {
            self.width = console::Term::stderr()
                .size_checked()
                .map(|(_, cols)| usize::from(cols));
        }
        self.every = self.log_every.unwrap_or(if self.terminal {
            auto_every(
                info.epochs.saturating_sub(info.start_epoch),
                LINES_ON_A_TERMINAL,
            )
        } else {
            1
        });
        if self.show_model && !self.quiet {
            eprint!(
                "{}",
                trainscope_nn::summary_text(&info.model.inputs, &info.model.summary())
            );
        }
        if self.quiet || !self.terminal {
            return;
        }
        let total = (info.epochs.saturating_sub(info.start_epoch) * info.batches_per_epoch) as u64;
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} updates  {msg}  [{elapsed}<{eta}]")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        self.bar = Some(bar);
    }

    fn on_update(&mut self, epoch: usize, update: usize, loss: f64) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
            // Formatting every update would cost more than a small model's update.
            if update % 16 == 1 {
                bar.set_message(format!("epoch {epoch}/{}  loss {}", self.epochs, num(loss)));
            }
        }
    }

    fn on_epoch(&mut self, m: &EpochMetrics) {
        if self.quiet {
            return;
        }
        let shown =
            m.epoch % self.every == 0 || m.epoch == self.epochs || m.epoch == self.start_epoch + 1;
        if !shown {
            return;
        }
        let line = fit(&epoch_fields(m, self.epochs), self.width);
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    fn on_finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// Where the rows of a table computed one at a time (folds, batch sizes, seeds, rungs) go while
/// they are computed, before the whole table is printed on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowMode {
    /// `--quiet` or `--json`: nowhere.
    Silent,
    /// On a terminal: the latest row as one line that the next row replaces and that is
    /// cleared before the table is printed, so the terminal shows every row once.
    Transient,
    /// Redirected stderr (a log): one line per row, kept.
    Lines,
}

impl RowMode {
    /// The mode for this process's stderr.
    pub fn for_stderr(quiet: bool) -> RowMode {
        RowMode::choose(quiet, std::io::stderr().is_terminal())
    }

    fn choose(quiet: bool, stderr_is_terminal: bool) -> RowMode {
        match (quiet, stderr_is_terminal) {
            (true, _) => RowMode::Silent,
            (false, true) => RowMode::Transient,
            (false, false) => RowMode::Lines,
        }
    }
}

/// Progress of a table's rows on stderr, in a [`RowMode`]; the transient line is cleared when
/// this is dropped (also when the command fails).
pub struct RowProgress {
    mode: RowMode,
    line: Option<ProgressBar>,
}

impl RowProgress {
    pub fn new(quiet: bool) -> Self {
        let mode = RowMode::for_stderr(quiet);
        let line = (mode == RowMode::Transient).then(|| {
            let line = ProgressBar::new_spinner();
            line.set_style(
                ProgressStyle::with_template("{spinner} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            line.enable_steady_tick(Duration::from_millis(200));
            line
        });
        RowProgress { mode, line }
    }

    /// Shows a finished row.
    pub fn row(&self, text: String) {
        match (&self.line, self.mode) {
            (Some(line), _) => line.set_message(text),
            (None, RowMode::Lines) => eprintln!("{text}"),
            (None, _) => {}
        }
    }
}

impl Drop for RowProgress {
    fn drop(&mut self) {
        if let Some(line) = self.line.take() {
            line.finish_and_clear();
        }
    }
}

#[cfg(test)]
fn epoch_line(m: &EpochMetrics, epochs: usize) -> String {
    fit(&epoch_fields(m, epochs), None)
}

/// The fields of an epoch's line with their rank: lower ranks are dropped first when the line
/// does not fit.
fn epoch_fields(m: &EpochMetrics, epochs: usize) -> Vec<(u8, String)> {
    let w = epochs.to_string().len();
    let mut f = vec![
        (9, format!("epoch {:>w$}/{epochs}", m.epoch)),
        (9, format!("train_loss {}", num(m.train_loss))),
    ];
    if let Some(a) = m.train_accuracy {
        f.push((3, format!("train_acc {}", percent(a))));
    }
    if let Some(v) = m.val_loss {
        f.push((8, format!("val_loss {}", num(v))));
    }
    if let Some(a) = m.val_accuracy {
        f.push((7, format!("val_acc {}", percent(a))));
    }
    f.push((4, format!("lr {}", num(m.lr))));
    f.push((5, format!("grad_norm {}", num(m.grad_norm))));
    f.push((2, format!("{:.1}s", m.elapsed_s)));
    f
}

/// The fields joined by two spaces, dropping the lowest-ranked ones until the line fits in
/// `width` columns (never the epoch and the training loss).
fn fit(fields: &[(u8, String)], width: Option<usize>) -> String {
    let mut keep: Vec<bool> = vec![true; fields.len()];
    let line = |keep: &[bool]| {
        fields
            .iter()
            .zip(keep)
            .filter(|(_, k)| **k)
            .map(|(f, _)| f.1.as_str())
            .collect::<Vec<_>>()
            .join("  ")
    };
    let Some(width) = width else {
        return line(&keep);
    };
    let mut ranks: Vec<u8> = fields.iter().map(|f| f.0).filter(|&r| r < 9).collect();
    ranks.sort_unstable();
    ranks.dedup();
    for r in ranks {
        if line(&keep).chars().count() < width {
            break;
        }
        for (k, f) in keep.iter_mut().zip(fields) {
            if f.0 == r {
                *k = false;
            }
        }
    }
    line(&keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_runs_log_on_a_round_step_and_lines_fit_the_terminal() {
        assert_eq!(auto_every(30, 50), 1);
        assert_eq!(auto_every(50, 50), 1);
        assert_eq!(auto_every(51, 50), 2);
        assert_eq!(auto_every(1000, 50), 20);
        assert_eq!(auto_every(240, 50), 5);
        assert_eq!(auto_every(100_000, 50), 2000);
        let m = EpochMetrics {
            epoch: 7,
            step: 70,
            train_loss: 0.5,
            val_loss: Some(0.6),
            train_accuracy: Some(0.8),
            val_accuracy: Some(0.75),
            grad_norm: 1.25,
            grad_norm_last: 1.0,
            grad_norm_per_layer: Default::default(),
            lr: 0.01,
            elapsed_s: 12.3,
        };
        let full = epoch_line(&m, 1000);
        assert!(full.chars().count() > 100, "{full}");
        for width in [80, 60, 40] {
            let l = fit(&epoch_fields(&m, 1000), Some(width));
            assert!(l.starts_with("epoch    7/1000  train_loss 0.50000"), "{l}");
            assert!(l.chars().count() < width || width < 40, "{width}: {l}");
        }
        let l80 = fit(&epoch_fields(&m, 1000), Some(80));
        assert!(l80.contains("val_loss") && !l80.contains("12.3s"), "{l80}");
        assert_eq!(fit(&epoch_fields(&m, 1000), Some(500)), full);
    }

    #[test]
    fn rows_are_printed_once_on_a_terminal() {
        assert_eq!(RowMode::choose(true, true), RowMode::Silent);
        assert_eq!(RowMode::choose(true, false), RowMode::Silent);
        assert_eq!(RowMode::choose(false, true), RowMode::Transient);
        assert_eq!(RowMode::choose(false, false), RowMode::Lines);
    }
}
