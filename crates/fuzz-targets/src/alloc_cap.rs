//! A global allocator that refuses any single allocation above a limit, so a fuzzer run
//! without AddressSanitizer (whose `-malloc_limit_mb` needs the sanitizer's hooks) still
//! catches a size read from a file and allocated before it was checked.

use std::alloc::{GlobalAlloc, Layout, System};

/// The largest single allocation a target may make: 512 MB, as `fuzz/run.sh` states.
pub const LIMIT: usize = 512 << 20;

/// [`System`], aborting on an allocation above [`LIMIT`] bytes.
pub struct CappedAlloc;

/// The matrix-product kernels (faer's x86 backend) keep one packing buffer per thread, sized
/// from the CPU's last-level cache (twice the L3: 600 MiB where a virtual machine reports a
/// 300 MiB L3), allocated uninitialized and page-aligned. Its size depends on the machine,
/// never on an input, so page-aligned allocations are exempt; nothing of ours asks for that
/// alignment.
const PAGE_ALIGN: usize = 4096;

fn check(layout: Layout) {
    check_size(layout.size(), layout.align());
}

fn check_size(size: usize, align: usize) {
    if size > LIMIT && align < PAGE_ALIGN {
        // An abort, not a panic: the allocator must not unwind, and libFuzzer reports an
        // abort as a crash with the input that caused it.
        eprintln!("allocation of {size} bytes exceeds the fuzzing limit of {LIMIT} bytes");
        std::process::abort();
    }
}

unsafe impl GlobalAlloc for CappedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        check(layout);
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        check(layout);
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        check_size(new_size, layout.align());
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}
