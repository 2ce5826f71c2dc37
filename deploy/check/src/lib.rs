//! Checks of what `deploy/` ships, with the tools that own each format:
//! - Kubernetes manifests: validated against the JSON schema of the Kubernetes API types
//!   (the `k8s-openapi` crate's, generated from Kubernetes' OpenAPI spec), made strict: an
//!   object may hold only the fields its type defines, so a misspelt field is an error, as
//!   `kubectl apply --validate=strict` would say.
//! - Prometheus rules: `promtool check rules` and `promtool test rules`.
//! - The systemd unit: `systemd-analyze verify`.
//! - The Grafana dashboard: JSON, unique panel ids, every query on nfprobe's metrics.
//!
//! `cargo test -p nfprobe-deploy-check` runs them all.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// `deploy/` of this repository.
pub fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("deploy/check has a parent")
        .to_path_buf()
}

/// The YAML documents of a file, as JSON values.
pub fn yaml_documents(text: &str) -> Result<Vec<Value>> {
    use serde::Deserialize;
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        let v = Value::deserialize(doc).context("parsing YAML")?;
        if !v.is_null() {
            out.push(v);
        }
    }
    Ok(out)
}

/// The strict JSON schema of a Kubernetes API type.
fn strict_schema<T: schemars::JsonSchema>() -> Value {
    let mut v = serde_json::to_value(schemars::schema_for!(T)).expect("a schema is JSON");
    forbid_unknown_fields(&mut v);
    v
}

/// Every object schema that lists its properties gets `additionalProperties: false`.
fn forbid_unknown_fields(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            for (_, child) in map.iter_mut() {
                forbid_unknown_fields(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(forbid_unknown_fields),
        _ => {}
    }
}

/// Schema errors of one manifest document (empty: valid). A kind this checker has no schema
/// for is an error, not a pass.
pub fn k8s_errors(doc: &Value) -> Result<Vec<String>> {
    use k8s_openapi::api::{apps::v1 as apps, core::v1 as core};
    let api = doc["apiVersion"].as_str().unwrap_or("");
    let kind = doc["kind"].as_str().unwrap_or("");
    let schema = match (api, kind) {
        ("apps/v1", "DaemonSet") => strict_schema::<apps::DaemonSet>(),
        ("v1", "Namespace") => strict_schema::<core::Namespace>(),
        ("v1", "ServiceAccount") => strict_schema::<core::ServiceAccount>(),
        ("v1", "Service") => strict_schema::<core::Service>(),
        _ => bail!("no schema here for apiVersion {api:?} kind {kind:?}"),
    };
    let validator = jsonschema::validator_for(&schema)
        .map_err(|e| anyhow::anyhow!("the {kind} schema does not compile: {e}"))?;
    Ok(validator
        .iter_errors(doc)
        .map(|e| format!("{kind} {}: {e}", e.instance_path()))
        .collect())
}

/// Run a program; error with its output unless it exits 0. Returns stdout + stderr.
pub fn run(program: &str, args: &[&str], dir: &Path) -> Result<String> {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .with_context(|| format!("running {program} (is it installed?)"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        bail!("{program} {}: {}\n{text}", args.join(" "), out.status);
    }
    Ok(text)
}

/// Every PromQL expression of the dashboard (panel targets and annotations).
pub fn dashboard_exprs(dash: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for p in dash["panels"].as_array().into_iter().flatten() {
        for t in p["targets"].as_array().into_iter().flatten() {
            if let Some(e) = t["expr"].as_str() {
                out.push(e.to_owned());
            }
        }
    }
    for a in dash["annotations"]["list"].as_array().into_iter().flatten() {
        if let Some(e) = a["expr"].as_str() {
            out.push(e.to_owned());
        }
    }
    out
}

/// Problems of the dashboard's structure (empty: fine).
pub fn dashboard_problems(dash: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["title", "uid", "panels", "schemaVersion"] {
        if dash.get(key).is_none() {
            out.push(format!("no `{key}`"));
        }
    }
    let mut ids = std::collections::BTreeSet::new();
    for p in dash["panels"].as_array().into_iter().flatten() {
        let id = p["id"].as_u64();
        let title = p["title"].as_str().unwrap_or("?");
        match id {
            Some(i) if ids.insert(i) => {}
            _ => out.push(format!("panel {title:?}: missing or repeated id {id:?}")),
        }
        if p["gridPos"]["w"].as_u64().is_none() || p["gridPos"]["h"].as_u64().is_none() {
            out.push(format!("panel {title:?}: no gridPos"));
        }
        let targets = p["targets"].as_array().map_or(0, Vec::len);
        if targets == 0 {
            out.push(format!("panel {title:?}: no query"));
        }
    }
    for e in dashboard_exprs(dash) {
        if !e.contains("nfprobe_") && !e.contains("up{job=\"nfprobe\"") {
            out.push(format!("query on no nfprobe metric: {e}"));
        }
    }
    out
}

/// A dashboard expression made runnable outside Grafana (its variables replaced).
pub fn without_grafana_variables(e: &str) -> String {
    e.replace("$__rate_interval", "1m")
        .replace("$instance", ".*")
}
