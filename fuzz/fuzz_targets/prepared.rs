#![no_main]

#[global_allocator]
static ALLOC: trainscope_fuzz_targets::CappedAlloc = trainscope_fuzz_targets::CappedAlloc;

libfuzzer_sys::fuzz_target!(|data: &[u8]| trainscope_fuzz_targets::prepared(data));
