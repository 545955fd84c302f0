//! The process-wide team: worker threads, the job they share, and how they wait for it.

use std::any::Any;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// How long a worker keeps spinning for the next job before it parks.
pub const SPIN: Duration = Duration::from_millis(1);

static THREADS: AtomicUsize = AtomicUsize::new(0);

/// Sets how many threads a job may use, the calling thread included (0: one per core).
/// Process-wide; takes effect with the next job.
pub fn set_threads(n: usize) {
    THREADS.store(n, Ordering::Relaxed);
}

/// The thread count in force, resolving 0 to the number of cores.
pub fn threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        // Cached: the standard library reads cgroup files on every call (~10 µs).
        0 => {
            static CORES: OnceLock<usize> = OnceLock::new();
            *CORES.get_or_init(|| thread::available_parallelism().map_or(1, |n| n.get()))
        }
        n => n,
    }
}

/// Runs `f(0)`, …, `f(pieces − 1)`, each exactly once, spread over the calling thread and
/// up to [`threads`]` − 1` workers; returns when all have finished. Which thread runs which
/// piece is not fixed, so results must not depend on it.
///
/// If a piece panics, the panic is resumed on the calling thread after every other piece has
/// finished.
pub fn for_each_piece(pieces: usize, f: &(dyn Fn(usize) + Sync)) {
    let helpers = threads().saturating_sub(1).min(pieces.saturating_sub(1));
    let team = team();
    if helpers == 0
        || team
            .busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
    {
        (0..pieces).for_each(f);
        return;
    }
    let job = Job {
        f,
        pieces,
        next: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        panic: Mutex::new(None),
    };
    {
        let mut workers = team.workers.lock().unwrap_or_else(|e| e.into_inner());
        while workers.len() < helpers {
            match spawn_worker(workers.len()) {
                Some(w) => workers.push(w),
                None => break,
            }
        }
        team.helpers
            .store(helpers.min(workers.len()), Ordering::SeqCst);
        // SAFETY: the pointer is cleared below, and this function does not return (or
        // unwind) before every worker that could have loaded it has let go of it.
        let erased: *const Job<'static> = (&job as *const Job<'_>).cast();
        team.job
            .store(erased as *mut Job<'static>, Ordering::SeqCst);
        team.generation.fetch_add(1, Ordering::SeqCst);
        for w in workers.iter().take(helpers) {
            if w.sleeping.load(Ordering::SeqCst) {
                w.thread.unpark();
            }
        }
    }
    job.work();
    while job.done.load(Ordering::Acquire) < pieces {
        std::hint::spin_loop();
    }
    team.job.store(ptr::null_mut(), Ordering::SeqCst);
    while team.active.load(Ordering::SeqCst) != 0 {
        std::hint::spin_loop();
    }
    team.busy.store(false, Ordering::Release);
    let panic = job.panic.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(payload) = panic {
        resume_unwind(payload);
    }
}

/// Runs `f` once on each of `parts`, spread like [`for_each_piece`]: the way to hand each
/// piece data of its own, such as disjoint `&mut` slices of one buffer.
pub fn for_each_part<P: Send>(parts: Vec<P>, f: &(dyn Fn(P) + Sync)) {
    let slots: Vec<Mutex<Option<P>>> = parts.into_iter().map(|p| Mutex::new(Some(p))).collect();
    for_each_piece(slots.len(), &|i| {
        let part = slots[i].lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(part) = part {
            f(part);
        }
    });
}

/// One call of [`for_each_piece`], on the caller's stack.
struct Job<'a> {
    f: &'a (dyn Fn(usize) + Sync),
    pieces: usize,
    next: AtomicUsize,
    done: AtomicUsize,
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

impl Job<'_> {
    /// Takes pieces until none are left.
    fn work(&self) {
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= self.pieces {
                return;
            }
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| (self.f)(i))) {
                let mut slot = self.panic.lock().unwrap_or_else(|e| e.into_inner());
                slot.get_or_insert(payload);
            }
            self.done.fetch_add(1, Ordering::Release);
        }
    }
}

struct Team {
    /// Held by the thread whose job is running.
    busy: AtomicBool,
    /// The running job, or null between jobs.
    job: AtomicPtr<Job<'static>>,
    /// Bumped for every job; workers wait for it to change.
    generation: AtomicU64,
    /// Workers that may take part in the current job.
    helpers: AtomicUsize,
    /// Workers between announcing themselves and letting go of the job.
    active: AtomicUsize,
    workers: Mutex<Vec<Worker>>,
}

struct Worker {
    thread: Thread,
    sleeping: &'static AtomicBool,
}

fn team() -> &'static Team {
    static TEAM: OnceLock<Team> = OnceLock::new();
    TEAM.get_or_init(|| Team {
        busy: AtomicBool::new(false),
        job: AtomicPtr::new(ptr::null_mut()),
        generation: AtomicU64::new(0),
        helpers: AtomicUsize::new(0),
        active: AtomicUsize::new(0),
        workers: Mutex::new(Vec::new()),
    })
}

/// Starts worker `index`; `None` if the system refuses a thread (the caller then does more
/// of the work itself).
fn spawn_worker(index: usize) -> Option<Worker> {
    let sleeping: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
    let handle = thread::Builder::new()
        .name(format!("trainscope-par-{index}"))
        .spawn(move || worker_loop(index, sleeping))
        .ok()?;
    Some(Worker {
        thread: handle.thread().clone(),
        sleeping,
    })
}

fn worker_loop(index: usize, sleeping: &AtomicBool) {
    let team = team();
    let mut seen = team.generation.load(Ordering::SeqCst);
    loop {
        let mut deadline = Instant::now() + SPIN;
        let mut spins = 0u32;
        loop {
            let now = team.generation.load(Ordering::Acquire);
            if now != seen {
                seen = now;
                break;
            }
            spins = spins.wrapping_add(1);
            if spins % 256 == 0 && Instant::now() >= deadline {
                // Announce the nap, then look once more: either the caller sees the flag
                // and unparks, or this load sees its new generation.
                sleeping.store(true, Ordering::SeqCst);
                if team.generation.load(Ordering::SeqCst) == seen {
                    thread::park();
                }
                sleeping.store(false, Ordering::SeqCst);
                deadline = Instant::now() + SPIN;
            }
            std::hint::spin_loop();
        }
        if index >= team.helpers.load(Ordering::SeqCst) {
            continue;
        }
        team.active.fetch_add(1, Ordering::SeqCst);
        let job = team.job.load(Ordering::SeqCst);
        if !job.is_null() {
            // SAFETY: `active` was raised before the load, and the job's caller waits for it
            // to fall back after clearing the pointer, so the job outlives this use.
            unsafe { &*job }.work();
        }
        team.active.fetch_sub(1, Ordering::SeqCst);
    }
}
