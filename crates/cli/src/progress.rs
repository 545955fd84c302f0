//! How a training run reports progress on stderr: a bar on a terminal, one line per epoch
//! otherwise, nothing with `--quiet`.

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
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        Progress {
            quiet,
            terminal: std::io::stderr().is_terminal(),
            bar: None,
            epochs: 0,
            show_model: false,
        }
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
        if self.show_model && !self.quiet {
            eprint!(
                "{}",
                trainscope_nn::summary_text(info.model.inputs, &info.model.summary())
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
        let line = epoch_line(m, self.epochs);
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

/// `epoch  3/30  train_loss 0.12345  val_loss …  lr 0.00100  grad_norm 0.123  1.2s`
pub fn epoch_line(m: &EpochMetrics, epochs: usize) -> String {
    let w = epochs.to_string().len();
    let mut s = format!(
        "epoch {:>w$}/{epochs}  train_loss {}",
        m.epoch,
        num(m.train_loss)
    );
    if let Some(a) = m.train_accuracy {
        s += &format!("  train_acc {}", percent(a));
    }
    if let Some(v) = m.val_loss {
        s += &format!("  val_loss {}", num(v));
    }
    if let Some(a) = m.val_accuracy {
        s += &format!("  val_acc {}", percent(a));
    }
    s += &format!(
        "  lr {}  grad_norm {}  {:.1}s",
        num(m.lr),
        num(m.grad_norm),
        m.elapsed_s
    );
    s
}

#[cfg(test)]
mod tests {
    use super::RowMode;

    #[test]
    fn rows_are_printed_once_on_a_terminal() {
        assert_eq!(RowMode::choose(true, true), RowMode::Silent);
        assert_eq!(RowMode::choose(true, false), RowMode::Silent);
        assert_eq!(RowMode::choose(false, true), RowMode::Transient);
        assert_eq!(RowMode::choose(false, false), RowMode::Lines);
    }
}
