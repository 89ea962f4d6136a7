//! The layering rule, read from `cargo metadata`: the leaf crates depend on no workspace crate.

use crate::step;
use serde_json::Value;
use std::collections::BTreeSet;

/// Crates that must stay usable on their own (see ARCHITECTURE.md).
const LEAVES: &[&str] = &["ws-codec", "ws-handshake", "actor-core"];

pub(crate) fn check() -> Result<(), String> {
    let out = step::cargo(&["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .map_err(|e| format!("cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let meta: Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata JSON: {e}"))?;
    let violations = violations(&meta)?;
    if violations.is_empty() {
        println!(
            "layering: {} depend on no workspace crate",
            LEAVES.join(", ")
        );
        Ok(())
    } else {
        Err(format!("layering violated:\n  {}", violations.join("\n  ")))
    }
}

/// Every `leaf -> workspace crate` edge (any dependency kind) in the metadata.
fn violations(meta: &Value) -> Result<Vec<String>, String> {
    let packages = meta["packages"]
        .as_array()
        .ok_or("cargo metadata has no `packages`")?;
    let members: BTreeSet<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let mut found = Vec::new();
    for leaf in LEAVES {
        let pkg = packages
            .iter()
            .find(|p| p["name"] == *leaf)
            .ok_or_else(|| format!("workspace has no crate `{leaf}`"))?;
        for dep in pkg["dependencies"].as_array().into_iter().flatten() {
            let name = dep["name"].as_str().unwrap_or_default();
            if members.contains(name) {
                found.push(format!("{leaf} depends on workspace crate {name}"));
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(codec_deps: Value) -> Value {
        json!({ "packages": [
            { "name": "ws-codec", "dependencies": codec_deps },
            { "name": "ws-handshake", "dependencies": [] },
            { "name": "actor-core", "dependencies": [{ "name": "crossbeam-deque" }] },
            { "name": "ws-server", "dependencies": [{ "name": "ws-codec" }] },
        ]})
    }

    #[test]
    fn leaves_with_external_deps_pass() {
        assert!(violations(&meta(json!([{ "name": "bytes" }])))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn leaf_depending_on_workspace_crate_fails() {
        let v = violations(&meta(json!([{ "name": "actor-core" }]))).unwrap();
        assert_eq!(v, vec!["ws-codec depends on workspace crate actor-core"]);
    }
}
