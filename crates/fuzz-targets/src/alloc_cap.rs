//! A global allocator that refuses any single allocation above a limit, so a fuzzer run
//! without AddressSanitizer (whose `-malloc_limit_mb` needs the sanitizer's hooks) still
//! catches a size read from a file and allocated before it was checked.

use std::alloc::{GlobalAlloc, Layout, System};

/// The largest single allocation a target may make: 512 MB, as `fuzz/run.sh` states.
pub const LIMIT: usize = 512 << 20;

/// [`System`], aborting on an allocation above [`LIMIT`] bytes.
pub struct CappedAlloc;

fn check(size: usize) {
    if size > LIMIT {
        // An abort, not a panic: the allocator must not unwind, and libFuzzer reports an
        // abort as a crash with the input that caused it.
        eprintln!("allocation of {size} bytes exceeds the fuzzing limit of {LIMIT} bytes");
        std::process::abort();
    }
}

unsafe impl GlobalAlloc for CappedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        check(new_size);
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}
