#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| aep_edge_fuzz::config(data));
