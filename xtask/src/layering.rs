//! The layering rule, read from `cargo metadata`: the leaf crates depend on no workspace crate,
//! and the crates above them only on the ones they are allowed.

use crate::step;
use serde_json::Value;
use std::collections::BTreeSet;

/// Crates that must stay usable on their own (see ARCHITECTURE.md).
const LEAVES: &[&str] = &["ws-codec", "ws-handshake", "actor-core"];

/// Crates with the only workspace crates they may depend on: ws-tokio is the pure crates
/// for tokio users, without the actor runtime or the server (issue 18).
const ALLOWED: &[(&str, &[&str])] = &[("ws-tokio", &["ws-codec", "ws-handshake"])];

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
            "layering: {} depend on no workspace crate; {}",
            LEAVES.join(", "),
            ALLOWED
                .iter()
                .map(|(c, deps)| format!("{c} only on {}", deps.join(", ")))
                .collect::<Vec<_>>()
                .join("; ")
        );
        Ok(())
    } else {
        Err(format!("layering violated:\n  {}", violations.join("\n  ")))
    }
}

/// Every `leaf -> workspace crate` edge and every edge of an `ALLOWED` crate to a workspace
/// crate not in its list (any dependency kind) in the metadata.
fn violations(meta: &Value) -> Result<Vec<String>, String> {
    let packages = meta["packages"]
        .as_array()
        .ok_or("cargo metadata has no `packages`")?;
    let members: BTreeSet<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let rules = LEAVES.iter().map(|leaf| (*leaf, &[][..])).chain(
        ALLOWED
            .iter()
            .map(|(c, deps)| (*c, *deps))
            .filter(|(c, _)| members.contains(c)),
    );
    let mut found = Vec::new();
    for (leaf, allowed) in rules {
        let pkg = packages
            .iter()
            .find(|p| p["name"] == *leaf)
            .ok_or_else(|| format!("workspace has no crate `{leaf}`"))?;
        for dep in pkg["dependencies"].as_array().into_iter().flatten() {
            let name = dep["name"].as_str().unwrap_or_default();
            if members.contains(name) && !allowed.contains(&name) {
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
            { "name": "ws-tokio", "dependencies": [{ "name": "ws-codec" }, { "name": "ws-handshake" }] },
        ]})
    }

    #[test]
    fn ws_tokio_may_use_the_pure_crates_only() {
        let mut m = meta(json!([]));
        assert!(violations(&m).unwrap().is_empty());
        m["packages"][4]["dependencies"] =
            json!([{ "name": "ws-codec" }, { "name": "actor-core" }]);
        assert_eq!(
            violations(&m).unwrap(),
            vec!["ws-tokio depends on workspace crate actor-core"]
        );
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
