//! The team runs every piece exactly once, from any thread and at any nesting, and passes a
//! piece's panic back to the caller.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use trainscope_par::{for_each_part, for_each_piece, set_threads, threads};

// The thread setting is process-wide; tests that change it hold this lock.
static SETTING: Mutex<()> = Mutex::new(());

fn counts(pieces: usize) -> Vec<AtomicUsize> {
    (0..pieces).map(|_| AtomicUsize::new(0)).collect()
}

fn assert_each_once(c: &[AtomicUsize], what: &str) {
    for (i, n) in c.iter().enumerate() {
        assert_eq!(n.load(Ordering::SeqCst), 1, "{what}: piece {i}");
    }
}

#[test]
fn every_piece_runs_exactly_once() {
    let _g = SETTING.lock().unwrap_or_else(|e| e.into_inner());
    set_threads(2);
    for pieces in [0, 1, 2, 3, 7, 64, 1000] {
        for _ in 0..200 {
            let c = counts(pieces);
            for_each_piece(pieces, &|i| {
                c[i].fetch_add(1, Ordering::SeqCst);
            });
            assert_each_once(&c, &format!("{pieces} pieces"));
        }
    }
}

#[test]
fn workers_take_part_and_come_back_after_parking() {
    let _g = SETTING.lock().unwrap_or_else(|e| e.into_inner());
    set_threads(2);
    // Pieces that wait for each other can only finish if two threads run them at once.
    for round in 0..3 {
        let arrived = AtomicUsize::new(0);
        for_each_piece(2, &|_| {
            arrived.fetch_add(1, Ordering::SeqCst);
            let start = std::time::Instant::now();
            while arrived.load(Ordering::SeqCst) < 2 {
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "no second thread"
                );
                std::hint::spin_loop();
            }
        });
        // Long enough for the worker to stop spinning and park.
        if round < 2 {
            thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn one_thread_runs_everything_in_place() {
    let _g = SETTING.lock().unwrap_or_else(|e| e.into_inner());
    set_threads(1);
    assert_eq!(threads(), 1);
    let me = thread::current().id();
    for_each_piece(16, &|_| assert_eq!(thread::current().id(), me));
    set_threads(0);
    assert!(threads() >= 1);
}

#[test]
fn nested_and_concurrent_calls_run_inline() {
    let _g = SETTING.lock().unwrap_or_else(|e| e.into_inner());
    set_threads(2);
    let c = counts(8 * 8);
    for_each_piece(8, &|i| {
        for_each_piece(8, &|j| {
            c[i * 8 + j].fetch_add(1, Ordering::SeqCst);
        });
    });
    assert_each_once(&c, "nested");

    let c = counts(6 * 300);
    thread::scope(|s| {
        for t in 0..6 {
            let c = &c;
            s.spawn(move || {
                for k in 0..100 {
                    for_each_piece(3, &|j| {
                        c[t * 300 + k * 3 + j].fetch_add(1, Ordering::SeqCst);
                    });
                }
            });
        }
    });
    assert_each_once(&c, "concurrent");
}

#[test]
fn a_panicking_piece_reaches_the_caller_after_the_others_finish() {
    let _g = SETTING.lock().unwrap_or_else(|e| e.into_inner());
    set_threads(2);
    for bad in [0, 5] {
        let c = counts(6);
        let result = catch_unwind(AssertUnwindSafe(|| {
            for_each_piece(6, &|i| {
                c[i].fetch_add(1, Ordering::SeqCst);
                if i == bad {
                    panic!("piece {i} failed");
                }
            });
        }));
        let payload = result.expect_err("the panic must reach the caller");
        let msg = payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        assert_eq!(msg, format!("piece {bad} failed"));
        assert_each_once(&c, "with a panic");
    }
    // The team still works afterwards.
    let c = counts(10);
    for_each_piece(10, &|i| {
        c[i].fetch_add(1, Ordering::SeqCst);
    });
    assert_each_once(&c, "after a panic");
}

#[test]
fn each_part_is_handed_over_once_for_exclusive_use() {
    let _g = SETTING.lock().unwrap_or_else(|e| e.into_inner());
    set_threads(2);
    let mut data = vec![0u32; 1000];
    let parts: Vec<(usize, &mut [u32])> = data.chunks_mut(97).enumerate().collect();
    for_each_part(parts, &|(k, chunk)| {
        for x in chunk.iter_mut() {
            *x += k as u32 + 1;
        }
    });
    for (i, &x) in data.iter().enumerate() {
        assert_eq!(x, (i / 97) as u32 + 1, "element {i}");
    }
}
