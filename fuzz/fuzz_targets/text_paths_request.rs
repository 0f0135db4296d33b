#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| aep_edge_fuzz::text_paths_request(data));
