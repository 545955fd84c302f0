//! Writes the course's sinc example data: y = sin(5πx) / (5πx) at 300 points on [−1, 1].
//!
//! The points are the midpoints of 300 equal cells, so x = 0 (where sinc is defined as 1 by
//! continuity) is never sampled and the set is symmetric about 0. Deterministic: the committed
//! `examples/data/sinc.csv` is exactly this program's output.
//!
//! `cargo run -p trainscope-train --example gen_sinc > examples/data/sinc.csv`

use std::f64::consts::PI;
use std::io::Write;

fn main() -> std::io::Result<()> {
    const N: usize = 300;
    let mut out = std::io::stdout().lock();
    writeln!(out, "x,y")?;
    for i in 0..N {
        let x = -1.0 + 2.0 * (i as f64 + 0.5) / N as f64;
        let t = 5.0 * PI * x;
        writeln!(out, "{x},{}", t.sin() / t)?;
    }
    Ok(())
}
