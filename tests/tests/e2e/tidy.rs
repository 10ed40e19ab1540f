//! "Tidy" tests: the architecture invariants of ARCHITECTURE.md, checked on every run.
//!
//! - Pure crates never depend (even transitively) on tokio, axum, async-nats or tokio-modbus.
//! - Pure crates never read the clock, the environment or files.
//! - Every `.rs` file opens with `//!` module docs.
//! - Every crate uses the workspace lints.
//! - The control plane (fleet, dispatch, and the market once it lands) has no path to the
//!   simulator or the scenarios: it knows the world only through the bus.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use vpp_tests::workspace_root;

/// Crates that must stay free of IO. Every one must exist: a renamed crate fails the tests
/// rather than slipping out of them.
const PURE_CRATES: &[&str] = &[
    "vpp-domain",
    "vpp-sunspec",
    "vpp-fleet",
    "vpp-forecasting",
    "vpp-optimiser",
    "vpp-dispatch",
];
/// The control plane's crates: they must know the world only through the bus.
const CONTROL_PLANE: &[&str] = &["vpp-fleet", "vpp-dispatch"];
/// The world a control plane may never read.
const THE_WORLD: &[&str] = &["vpp-battery-sim", "vpp-scenarios"];
/// Crates a pure crate may not depend on, directly or not.
const FORBIDDEN: &[&str] = &[
    "tokio",
    "axum",
    "async-nats",
    "tokio-modbus",
    "mio",
    "hyper",
];
/// Text that betrays IO or a clock read in pure source.
const IMPURE_CALLS: &[&str] = &[
    "Utc::now",
    "Local::now",
    "SystemTime::now",
    "Instant::now",
    "std::env",
    "std::fs",
    "std::net",
    "File::open",
];

fn metadata() -> serde_json::Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(workspace_root())
        .args(["metadata", "--format-version", "1"])
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
}

/// Names of every crate `root` depends on through normal (non-dev, non-build) edges.
fn normal_dependency_closure(meta: &serde_json::Value, root_id: &str) -> BTreeSet<String> {
    let nodes: HashMap<&str, &serde_json::Value> = meta["resolve"]["nodes"]
        .as_array()
        .expect("resolve.nodes")
        .iter()
        .map(|n| (n["id"].as_str().expect("node id"), n))
        .collect();
    let names: HashMap<&str, &str> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            (
                p["id"].as_str().expect("id"),
                p["name"].as_str().expect("name"),
            )
        })
        .collect();
    let mut seen = BTreeSet::new();
    let mut stack = vec![root_id];
    let mut out = BTreeSet::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        for dep in nodes[id]["deps"].as_array().into_iter().flatten() {
            let normal = dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k["kind"].is_null());
            if normal {
                let dep_id = dep["pkg"].as_str().expect("dep pkg");
                out.insert(names[dep_id].to_owned());
                stack.push(dep_id);
            }
        }
    }
    out
}

fn package_id<'a>(meta: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    meta["packages"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == name && p["source"].is_null())
        .and_then(|p| p["id"].as_str())
}

fn package_dir(meta: &serde_json::Value, name: &str) -> PathBuf {
    let manifest = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == name)
        .and_then(|p| p["manifest_path"].as_str())
        .expect("manifest path");
    Path::new(manifest).parent().expect("crate dir").to_owned()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if !(name.starts_with('.') || name == "target" || name == "node_modules") {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

#[test]
fn pure_crates_do_not_depend_on_runtimes_or_network_crates() {
    let meta = metadata();
    assert!(
        package_id(&meta, "vpp-domain").is_some(),
        "vpp-domain is in the workspace"
    );
    for name in PURE_CRATES {
        let id = package_id(&meta, name)
            .unwrap_or_else(|| panic!("pure crate {name} is not in the workspace"));
        let deps = normal_dependency_closure(&meta, id);
        let bad: Vec<_> = FORBIDDEN.iter().filter(|f| deps.contains(**f)).collect();
        assert!(bad.is_empty(), "pure crate {name} depends on {bad:?}");
    }
}

#[test]
fn the_dependency_check_would_catch_a_violation() {
    // The composition root does depend on tokio: the closure must see it, or the check above
    // proves nothing.
    let meta = metadata();
    let id = package_id(&meta, "vpp-api").expect("vpp-api");
    let deps = normal_dependency_closure(&meta, id);
    assert!(deps.contains("tokio") && deps.contains("axum") && deps.contains("tokio-modbus"));
}

#[test]
fn the_control_plane_has_no_path_to_the_simulator_or_the_scenarios() {
    let meta = metadata();
    for name in CONTROL_PLANE {
        let id = package_id(&meta, name)
            .unwrap_or_else(|| panic!("control-plane crate {name} is not in the workspace"));
        let deps = normal_dependency_closure(&meta, id);
        let bad: Vec<_> = THE_WORLD.iter().filter(|w| deps.contains(**w)).collect();
        assert!(bad.is_empty(), "control-plane crate {name} reaches {bad:?}");
    }
    // The check sees the world where it is: the composition root wires the simulator in.
    let api = package_id(&meta, "vpp-api").expect("vpp-api");
    assert!(normal_dependency_closure(&meta, api).contains("vpp-battery-sim"));
}

#[test]
fn pure_crates_read_no_clock_env_or_files() {
    let meta = metadata();
    for name in PURE_CRATES {
        assert!(
            package_id(&meta, name).is_some(),
            "pure crate {name} is not in the workspace"
        );
        let mut files = Vec::new();
        rust_files(&package_dir(&meta, name).join("src"), &mut files);
        for f in files {
            let text = std::fs::read_to_string(&f).expect("read source");
            for call in IMPURE_CALLS {
                assert!(
                    !text.contains(call),
                    "{} (pure crate {name}) uses {call}",
                    f.display()
                );
            }
        }
    }
}

#[test]
fn every_rust_file_has_module_docs() {
    let mut files = Vec::new();
    rust_files(workspace_root(), &mut files);
    assert!(files.len() > 10, "found only {} .rs files", files.len());
    let missing: Vec<_> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).expect("read source");
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            !first.starts_with("//!")
        })
        .map(|f| {
            f.strip_prefix(workspace_root())
                .unwrap_or(f)
                .display()
                .to_string()
        })
        .collect();
    assert!(
        missing.is_empty(),
        "files without //! module docs: {missing:?}"
    );
}

#[test]
fn every_crate_uses_the_workspace_lints() {
    let meta = metadata();
    for member in meta["workspace_members"].as_array().expect("members") {
        let id = member.as_str().expect("member id");
        let pkg = meta["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .find(|p| p["id"] == id)
            .expect("member package");
        let manifest = pkg["manifest_path"].as_str().expect("manifest");
        let text = std::fs::read_to_string(manifest).expect("read manifest");
        let compact: String = text.split_whitespace().collect();
        assert!(
            compact.contains("[lints]workspace=true"),
            "{} lacks `[lints] workspace = true`",
            pkg["name"]
        );
    }
}
