#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| trainscope_fuzz_targets::resume(data));
