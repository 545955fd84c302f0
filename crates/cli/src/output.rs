//! Writing results and errors.

use std::io::{self, Write};

/// The error and its causes as one line, `outer: inner: innermost`. A cause whose text its
/// parent already ends with is skipped, so messages that embed their source do not repeat it.
/// Control characters are escaped (`\n`, `\u{1b}`), so that no echoed value (an argument, a
/// path, a key) can break the line or drive the terminal.
pub fn cause_chain(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text: String = cause
            .to_string()
            .chars()
            .flat_map(|c| {
                let escaped: Vec<char> = if c.is_control() {
                    c.escape_default().collect()
                } else {
                    vec![c]
                };
                escaped
            })
            .collect();
        if out.ends_with(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// True when writing to stdout failed because the reader went away.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Writes `text` to stdout, returning (rather than panicking on) a closed pipe.
pub fn stdout(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// One JSON object and a newline on stdout.
pub fn json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let mut s = serde_json::to_string(value)?;
    s.push('\n');
    stdout(&s)?;
    Ok(())
}

/// `0.9731` → `97.31%`.
pub fn percent(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

/// A loss or similar value with enough significant digits for small and large magnitudes.
pub fn num(x: f64) -> String {
    if x != 0.0 && (x.abs() < 1e-3 || x.abs() >= 1e5) {
        format!("{x:.4e}")
    } else {
        format!("{x:.5}")
    }
}

/// `x` rounded to `digits` significant digits, written without trailing zeros (and in
/// scientific notation only where plain digits would be long): `0.000123456` → `0.000123`.
pub fn significant(x: f64, digits: usize) -> String {
    trainscope_train::round_significant(x, digits).to_string()
}

/// Sets the thread count of the matrix products and of rayon's global pool (0: every core).
pub fn set_threads(n: usize) {
    trainscope_core::set_num_threads(n);
    // Fails only if the pool was already built, which leaves it as it is.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global();
}
