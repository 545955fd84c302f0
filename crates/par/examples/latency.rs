//! Cost of one fork-join of two 10 µs pieces, after a pause of `gap` µs on the calling
//! thread, for this crate's team and for `rayon::join` (called from outside its pool, as
//! the engine would be):
//! `cargo run --release -p trainscope-par --example latency`.

use std::time::Instant;

fn spin_for(us: f64) {
    let t = Instant::now();
    while t.elapsed().as_secs_f64() * 1e6 < us {
        std::hint::spin_loop();
    }
}

fn main() {
    trainscope_par::set_threads(2);
    let n = 2000;
    println!("{:>8} {:>12} {:>12}", "gap µs", "team µs", "rayon µs");
    for gap in [0.0, 5.0, 20.0, 50.0, 200.0, 2000.0] {
        let (mut team, mut rayon) = (0.0, 0.0);
        let reps = if gap > 1000.0 { 200 } else { n };
        for _ in 0..reps {
            spin_for(gap);
            let t = Instant::now();
            trainscope_par::for_each_piece(2, &|_| spin_for(10.0));
            team += t.elapsed().as_secs_f64();
            spin_for(gap);
            let t = Instant::now();
            rayon::join(|| spin_for(10.0), || spin_for(10.0));
            rayon += t.elapsed().as_secs_f64();
        }
        let per = |s: f64| s / reps as f64 * 1e6;
        println!("{gap:>8} {:>12.1} {:>12.1}", per(team), per(rayon));
    }
}
