//! deploy/ checked with the tools that own each format (see the crate's docs).

use nfprobe_deploy_check::*;
use serde_json::Value;

fn read(rel: &str) -> String {
    let p = deploy_dir().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn manifest() -> Vec<Value> {
    yaml_documents(&read("kubernetes/nfprobe-daemonset.yaml")).unwrap()
}

#[test]
fn kubernetes_manifest_matches_the_api_schema() {
    let docs = manifest();
    assert_eq!(docs.len(), 2);
    for d in &docs {
        let errors = k8s_errors(d).unwrap();
        assert!(errors.is_empty(), "{errors:#?}");
    }
    // And it is the agent the docs describe.
    let ds = docs.iter().find(|d| d["kind"] == "DaemonSet").unwrap();
    let pod = &ds["spec"]["template"]["spec"];
    assert_eq!(pod["hostNetwork"], true);
    let c = &pod["containers"][0];
    assert_eq!(c["securityContext"]["privileged"], false);
    let caps: Vec<&str> = c["securityContext"]["capabilities"]["add"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for cap in ["NET_ADMIN", "NET_RAW", "BPF", "PERFMON", "SYSLOG"] {
        assert!(caps.contains(&cap), "{cap} not added: {caps:?}");
    }
    let mounts: Vec<&str> = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["mountPath"].as_str())
        .collect();
    for m in ["/sys/kernel/btf", "/sys/fs/bpf"] {
        assert!(mounts.contains(&m), "{m} not mounted: {mounts:?}");
    }
    assert!(c["args"].as_array().unwrap().iter().any(|a| a == "serve"));
}

#[test]
fn the_schema_check_rejects_what_kubernetes_would() {
    let ds = manifest()
        .into_iter()
        .find(|d| d["kind"] == "DaemonSet")
        .unwrap();
    // A misspelt field.
    let mut typo = ds.clone();
    let spec = typo["spec"]["template"]["spec"].as_object_mut().unwrap();
    let v = spec.remove("hostNetwork").unwrap();
    spec.insert("hostNetwrok".into(), v);
    let e = k8s_errors(&typo).unwrap();
    assert!(e.iter().any(|e| e.contains("hostNetwrok")), "{e:?}");
    // A wrong type.
    let mut wrong = ds.clone();
    wrong["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] =
        Value::from("ninety-eight-thirty");
    assert!(!k8s_errors(&wrong).unwrap().is_empty());
    // A required field missing.
    let mut missing = ds.clone();
    missing["spec"]["template"]["spec"]["containers"][0]
        .as_object_mut()
        .unwrap()
        .remove("name");
    assert!(!k8s_errors(&missing).unwrap().is_empty());
    // A kind without a schema here is an error, not a pass.
    let mut other = ds;
    other["kind"] = Value::from("Deployment");
    assert!(k8s_errors(&other).is_err());
}

#[test]
fn prometheus_rules_pass_promtool_check_and_unit_tests() {
    let dir = deploy_dir().join("prometheus");
    let out = run("promtool", &["check", "rules", "nfprobe-alerts.yml"], &dir)
        .unwrap_or_else(|e| panic!("{e:#} (Debian package `prometheus`)"));
    assert!(out.contains("SUCCESS"), "{out}");
    let out = run(
        "promtool",
        &["test", "rules", "nfprobe-alerts.test.yml"],
        &dir,
    )
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(out.contains("SUCCESS"), "{out}");
    // The four alerts the issue asks for exist.
    let rules = read("prometheus/nfprobe-alerts.yml");
    for a in [
        "NfprobeDockerRuleMissing",
        "NfprobeIptablesCliLies",
        "NfprobeDockerBridgeDrops",
        "NfprobeExporterDown",
    ] {
        assert!(rules.contains(&format!("alert: {a}")), "{a}");
    }
}

#[test]
fn systemd_unit_verifies() {
    // systemd-analyze wants the binary to exist: check a copy whose ExecStart names one that
    // does, keeping everything else.
    let unit = read("systemd/nfprobe.service");
    assert!(unit.contains("ExecStart=/usr/local/bin/nfprobe serve"));
    let dir = std::env::temp_dir().join(format!("nfprobe-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("nfprobe.service");
    std::fs::write(&copy, unit.replace("/usr/local/bin/nfprobe", "/bin/true")).unwrap();
    let r = run("systemd-analyze", &["verify", copy.to_str().unwrap()], &dir);
    let _ = std::fs::remove_dir_all(&dir);
    let out = r.unwrap_or_else(|e| panic!("{e:#}"));
    assert!(!out.contains("Unknown"), "{out}");
    // Capabilities, not root's full set.
    let caps = unit
        .lines()
        .find_map(|l| l.strip_prefix("CapabilityBoundingSet="))
        .unwrap();
    assert!(!caps.contains("CAP_SYS_ADMIN"), "{caps}");
    assert_eq!(
        Some(caps),
        unit.lines()
            .find_map(|l| l.strip_prefix("AmbientCapabilities="))
    );
}

#[test]
fn grafana_dashboard_is_well_formed() {
    let dash: Value = serde_json::from_str(&read("grafana/nfprobe-dashboard.json")).unwrap();
    let p = dashboard_problems(&dash);
    assert!(p.is_empty(), "{p:#?}");
    assert!(dashboard_exprs(&dash).len() >= 10);
}
