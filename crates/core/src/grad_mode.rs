//! Whether operations record themselves for differentiation, per thread.

use std::cell::Cell;

thread_local! {
    static ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// True when new operations on tensors that require a gradient are recorded.
pub fn is_grad_enabled() -> bool {
    ENABLED.with(|e| e.get())
}

/// Disables recording until dropped (then restores the previous mode).
pub struct NoGradGuard {
    prev: bool,
}

impl NoGradGuard {
    pub fn new() -> Self {
        NoGradGuard {
            prev: ENABLED.with(|e| e.replace(false)),
        }
    }
}

impl Default for NoGradGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        ENABLED.with(|e| e.set(self.prev));
    }
}

/// Runs `f` without recording anything: inference, parameter updates, metrics.
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _g = NoGradGuard::new();
    f()
}

/// Runs `f` with recording on (used to build graphs of gradients for second order).
pub(crate) fn with_grad<R>(f: impl FnOnce() -> R) -> R {
    let prev = ENABLED.with(|e| e.replace(true));
    let r = f();
    ENABLED.with(|e| e.set(prev));
    r
}
