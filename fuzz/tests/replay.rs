//! Replays the committed seeds and every regression input (a fuzzer finding,
//! kept once fixed) through the same checks libFuzzer runs, on stable Rust.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut count = 0;
    for dir in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("dir entry").path();
            let data = std::fs::read(&path).expect("read input");
            eprintln!("{target}: {}", path.display());
            run(&data);
            count += 1;
        }
    }
    assert!(count > 0, "no inputs for {target}");
}

#[test]
fn config() {
    replay("config", aep_edge_fuzz::config);
}

#[test]
fn request() {
    replay("request", aep_edge_fuzz::request);
}

#[test]
fn response() {
    replay("response", aep_edge_fuzz::response);
}

#[test]
fn token() {
    replay("token", aep_edge_fuzz::token);
}

#[test]
fn state_file() {
    replay("state_file", aep_edge_fuzz::state_file);
}

#[test]
fn text_paths_request() {
    replay("text_paths_request", aep_edge_fuzz::text_paths_request);
}

#[test]
fn text_paths_response() {
    replay("text_paths_response", aep_edge_fuzz::text_paths_response);
}
