//! `cargo run -p nfprobe-deploy-check`: validate deploy/'s Kubernetes manifest by hand (the
//! tests run every check).

use nfprobe_deploy_check::{deploy_dir, k8s_errors, yaml_documents};

fn main() -> anyhow::Result<()> {
    let path = deploy_dir().join("kubernetes/nfprobe-daemonset.yaml");
    let docs = yaml_documents(&std::fs::read_to_string(&path)?)?;
    let mut bad = 0;
    for d in &docs {
        for e in k8s_errors(d)? {
            eprintln!("{}: {e}", path.display());
            bad += 1;
        }
    }
    if bad > 0 {
        anyhow::bail!("{bad} schema error(s)");
    }
    println!("{}: {} document(s) valid", path.display(), docs.len());
    Ok(())
}
