//! containerd and dockerd inside the lab's host netns, everything private to the lab folder.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::Options;
use crate::core::LabCore;
use crate::netns::Netns;

/// A started daemon pair.
#[derive(Debug, Clone)]
pub struct Daemon {
    /// dockerd's API socket.
    pub socket: PathBuf,
    /// Engine version reported by dockerd (`/version`).
    pub version: String,
}

const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub fn start(
    core: &mut LabCore,
    host: &Netns,
    options: &Options,
    cgroup_parent: &str,
) -> Result<Daemon> {
    let dir = core.dir().to_path_buf();
    // Docker's and containerd's data live on a tmpfs mounted inside the lab folder: faster on
    // this disk, and teardown frees it by unmounting instead of deleting thousands of files.
    let fs = dir.join("fs");
    std::fs::create_dir_all(&fs)?;
    crate::cmd::run(
        std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1g,mode=0700", "nfprobe-lab"])
            .arg(&fs),
    )?;
    let ctr_sock = dir.join("containerd.sock");
    let ctr_conf = dir.join("containerd.toml");
    std::fs::write(&ctr_conf, containerd_config(&fs, &ctr_sock))?;
    let ctr_conf_s = ctr_conf.to_string_lossy().into_owned();
    core.spawn(
        host,
        "containerd",
        "containerd",
        &["--config", &ctr_conf_s],
        &[("PATH", PATH)],
    )?;
    wait_for(&ctr_sock, Duration::from_secs(10), |p| {
        UnixStream::connect(p).is_ok()
    })
    .with_context(|| log_tail(&dir.join("containerd.log")))?;

    let path = if options.faulty_iptables {
        let bin = crate::bugmodel::install_bin_dir(&dir.join("bin"))?;
        format!("{}:{PATH}", bin.display())
    } else {
        PATH.to_owned()
    };
    let sock = dir.join("docker.sock");
    let conf = dir.join("daemon.json");
    let mut daemon_json = serde_json::json!({
        "deprecated-key-path": dir.join("key.json"),
    });
    if options.ipv6 {
        // 20.10 programs ip6tables only as an experimental feature.
        daemon_json["experimental"] = true.into();
        daemon_json["ip6tables"] = true.into();
    }
    std::fs::write(&conf, serde_json::to_string_pretty(&daemon_json)?)?;
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let data_root = s(&fs.join("data"));
    let exec_root = s(&fs.join("exec"));
    let pidfile = s(&dir.join("dockerd.pid"));
    let host_arg = format!("unix://{}", sock.display());
    let ctr = s(&ctr_sock);
    let conf_s = s(&conf);
    let proxy = format!("--userland-proxy={}", options.userland_proxy);
    let bridge = match options.default_bridge_icc {
        None => "--bridge=none".to_owned(),
        Some(icc) => format!("--icc={icc}"),
    };
    let mut args: Vec<&str> = vec![
        "--data-root",
        &data_root,
        "--exec-root",
        &exec_root,
        "--pidfile",
        &pidfile,
        "-H",
        &host_arg,
        "--containerd",
        &ctr,
        "--config-file",
        &conf_s,
        &proxy,
        "--iptables=true",
        &bridge,
        "--storage-driver",
        "overlay2",
        "--cgroup-parent",
        cgroup_parent,
        "--log-level",
        "debug",
    ];
    if !options.ipv6 {
        // With `ipv6` daemon.json says it (dockerd refuses a flag and the file both).
        args.push("--ip6tables=false");
    }
    let mut env: Vec<(&str, &str)> = vec![("PATH", &path)];
    env.extend(
        options
            .dockerd_env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    core.spawn(host, "dockerd", "dockerd", &args, &env)?;
    wait_for(&sock, Duration::from_secs(30), |p| {
        http_unix(p, "/_ping").is_ok_and(|b| b.contains("OK"))
    })
    .with_context(|| log_tail(&dir.join("dockerd.log")))?;
    let version = http_unix(&sock, "/version")
        .ok()
        .and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok())
        .and_then(|v| v.get("Version").and_then(|x| x.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned());
    Ok(Daemon {
        socket: sock,
        version,
    })
}

fn containerd_config(fs: &Path, sock: &Path) -> String {
    let d = fs.display();
    format!(
        r#"# containerd for nfprobe lab {d}: everything private to the lab folder.
version = 2
root = "{d}/containerd/root"
state = "{d}/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "{sock}"

[ttrpc]
  address = "{sock}.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/containerd/opt"
"#,
        sock = sock.display()
    )
}

fn wait_for(path: &Path, limit: Duration, ready: impl Fn(&Path) -> bool) -> Result<()> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if path.exists() && ready(path) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("{} not ready after {limit:?}", path.display())
}

/// GET `path` over a unix socket; returns the body of a 200 response.
fn http_unix(sock: &Path, path: &str) -> Result<String> {
    let mut s = UnixStream::connect(sock)?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n")?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)?;
    match buf.split_once("\r\n\r\n") {
        Some((head, body)) if head.contains(" 200 ") => Ok(body.to_owned()),
        _ => bail!("unexpected reply from {}: {buf:?}", sock.display()),
    }
}

fn log_tail(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(15);
    format!(
        "last lines of {}:\n{}",
        file.display(),
        lines[start..].join("\n")
    )
}
