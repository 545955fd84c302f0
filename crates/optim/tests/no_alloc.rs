//! After the first step, `Optimizer::step` must not touch the heap. A counting global
//! allocator (counting only on the thread under test, since the test harness allocates on
//! others) checks every optimizer.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use trainscope_optim::{OptimizerConfig, OptimizerOptions, ScheduleConfig};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(|c| c.get()) {
            COUNT.with(|n| n.set(n.get() + 1));
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(|c| c.get()) {
            COUNT.with(|n| n.set(n.get() + 1));
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    COUNT.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    COUNT.with(|n| n.get())
}

#[test]
fn steps_after_the_first_do_not_allocate() {
    let configs = [
        r#"{"kind":"sgd","lr":0.1,"momentum":0.9,"nesterov":true,"weight_decay":0.01,"clip_global_norm":1}"#,
        r#"{"kind":"sgd","lr":0.1,"momentum":0.9,"variant":"lecture"}"#,
        r#"{"kind":"adagrad","lr_decay":0.1}"#,
        r#"{"kind":"adagrad","variant":"lecture"}"#,
        r#"{"kind":"rmsprop","centered":true,"momentum":0.5,"weight_decay":0.1}"#,
        r#"{"kind":"rmsprop","variant":"lecture"}"#,
        r#"{"kind":"adam","weight_decay":0.01}"#,
        r#"{"kind":"adamw"}"#,
        r#"{"kind":"radam"}"#,
    ];
    let schedule: ScheduleConfig = serde_json::from_str(
        r#"{"kind":"sequential","milestone":3,"warmup":{"kind":"linear","start_factor":0.1,"total_iters":3},
            "then":{"kind":"cosine","t_max":10}}"#,
    )
    .unwrap();
    for cfg in configs {
        let parsed: OptimizerConfig = serde_json::from_str(cfg).unwrap();
        let mut opt = parsed.build_with_schedule::<f32>(&schedule).unwrap();
        let mut w = [0.5f32; 24];
        let mut b = [0.1f32; 6];
        let gw = [0.3f32; 24];
        let gb = [-0.2f32; 6];
        opt.step(&mut [&mut w[..], &mut b[..]], &[&gw[..], &gb[..]])
            .unwrap();
        let n = allocations_during(|| {
            for _ in 0..10 {
                opt.step(&mut [&mut w[..], &mut b[..]], &[&gw[..], &gb[..]])
                    .unwrap();
            }
        });
        assert_eq!(n, 0, "{cfg}: {n} allocations in 10 steps");
    }
}

/// The counter itself works (otherwise the test above could never fail).
#[test]
fn counter_sees_allocations() {
    let n = allocations_during(|| {
        let v = vec![1u8; 100];
        std::hint::black_box(v);
    });
    assert!(n >= 1);
}
