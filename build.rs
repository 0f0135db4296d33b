// Gives the shared library its SONAME, so hosts link against ABI version 1
// (`libaep_edge.so.1`) and a future ABI 2 can be installed beside it.
fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let elf = matches!(
        os.as_str(),
        "linux" | "android" | "freebsd" | "netbsd" | "openbsd" | "dragonfly"
    );
    if elf {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libaep_edge.so.1");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
