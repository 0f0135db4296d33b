//! The committed header is exactly what the pinned cbindgen generates, and its
//! version macros, `aep_edge_version()` and Cargo.toml agree.
//! `AEP_EDGE_BLESS=1 cargo test --test header` (scripts/gen-header.sh) rewrites it.
#![cfg(feature = "capi")]

use std::path::Path;

fn generate() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut out = Vec::new();
    cbindgen::Builder::new()
        .with_config(config)
        .with_crate(root)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut out);
    String::from_utf8(out).expect("UTF-8 header")
}

#[test]
fn committed_header_matches_cbindgen() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/aep_edge.h");
    let generated = generate();
    if std::env::var_os("AEP_EDGE_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/aep_edge.h is stale: run scripts/gen-header.sh and commit the result"
    );
}

#[test]
fn versions_agree_in_header_library_and_manifest() {
    let header =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("include/aep_edge.h"))
            .unwrap();
    let define = |name: &str| -> String {
        header
            .lines()
            .find_map(|l| l.strip_prefix(&format!("#define {name} ")))
            .unwrap_or_else(|| panic!("{name} missing from the header"))
            .trim()
            .to_string()
    };
    let from_header = format!(
        "{}.{}.{}",
        define("AEP_EDGE_VERSION_MAJOR"),
        define("AEP_EDGE_VERSION_MINOR"),
        define("AEP_EDGE_VERSION_PATCH")
    );
    let from_library = unsafe { std::ffi::CStr::from_ptr(aep_edge::ffi::aep_edge_version()) }
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(from_header, env!("CARGO_PKG_VERSION"));
    assert_eq!(from_library, env!("CARGO_PKG_VERSION"));
    assert_eq!(define("AEP_EDGE_ABI_VERSION"), "1");
    assert_eq!(aep_edge::ffi::aep_edge_abi_version(), 1);
}
