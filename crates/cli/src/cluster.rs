//! The processes a command runs on: one alone, or, built with the feature `mpi` and started
//! by an MPI launcher (`mpirun -np N trainscope …`), the N processes of MPI's world.

use trainscope_train::distributed::Cluster;

/// MPI's world when the process was started by an MPI launcher (and the binary built with
/// the feature `mpi`), else one process alone.
pub fn join() -> anyhow::Result<Cluster> {
    #[cfg(feature = "mpi")]
    {
        use trainscope_train::distributed::mpi::{launched, Mpi};
        if launched() {
            let mpi = Mpi::init().ok_or_else(|| {
                anyhow::anyhow!("MPI could not be initialized with serialized thread support")
            })?;
            return Ok(Cluster::new(mpi));
        }
    }
    Ok(Cluster::single())
}

/// After an error on one of several processes: prints it (naming the rank) and ends them all,
/// since the others could be waiting for this one in a sum. Returns when alone.
pub fn abort_after(cluster: &Cluster, err: &anyhow::Error) {
    if cluster.is_distributed() {
        eprintln!(
            "error (rank {} of {}): {}",
            cluster.rank(),
            cluster.size(),
            crate::output::cause_chain(err)
        );
        cluster.abort_if_distributed(2);
    }
}
