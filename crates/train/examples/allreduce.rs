//! The cost of one gradient sum of the 269,322-parameter MLP 784-256-256-10 (f32) over the
//! processes `mpirun` starts, with the processes in step (no waiting for a slower one):
//! `cargo build --release --features mpi -p trainscope-train --example allreduce`, then
//! `mpirun -np 2 target/release/examples/allreduce`.

fn main() {
    #[cfg(feature = "mpi")]
    {
        use std::time::Instant;
        use trainscope_train::distributed::{mpi::Mpi, Cluster};
        let Some(mpi) = Mpi::init() else {
            eprintln!("MPI could not be initialized");
            std::process::exit(2);
        };
        let cluster = Cluster::new(mpi);
        let parameters = 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10;
        let mut grad: Vec<f32> = (0..parameters).map(|i| (i % 7) as f32 * 1e-3).collect();
        let mut times = Vec::new();
        for _ in 0..300 {
            // In step first: a one-value sum waits for every process.
            cluster.any(false);
            let t = Instant::now();
            cluster.sum(&mut grad);
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        if cluster.is_root() {
            println!(
                "{} processes, {} f32 ({} bytes) per sum: median {:.3} ms, 10th percentile {:.3} ms, 90th {:.3} ms",
                cluster.size(),
                parameters,
                parameters * 4,
                times[times.len() / 2],
                times[times.len() / 10],
                times[times.len() * 9 / 10]
            );
        }
    }
    #[cfg(not(feature = "mpi"))]
    eprintln!("built without the feature mpi: nothing to measure");
}
