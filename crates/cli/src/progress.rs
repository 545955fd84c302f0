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
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        Progress {
            quiet,
            terminal: std::io::stderr().is_terminal(),
            bar: None,
            epochs: 0,
        }
    }
}

impl Observer for Progress {
    fn on_start(&mut self, info: &RunInfo) {
        self.epochs = info.epochs;
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
