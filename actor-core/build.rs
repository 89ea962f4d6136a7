//! Build script: declares the `loom` cfg so `--cfg loom` model-checking builds are lint-clean.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(loom)");
}
