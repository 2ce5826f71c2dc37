//! A real Docker Engine (Debian's dockerd 20.10 + containerd) confined to a lab netns
//! (shared/reference/real-docker-here.md): private data/exec roots, sockets and pidfiles under the
//! lab folder, `--bridge=none`, userland-proxy off, an offline busybox image, N user networks with
//! busybox httpd containers on published ports, and an external client netns.
//!
//! With `faulty_iptables`, dockerd's PATH starts with a folder whose `iptables`/`ip6tables` are
//! the [`crate::bugmodel`] wrapper, so dockerd itself loses the rules the 1.8.11 bug loses.
//!
//! With `ipv6`, dockerd runs with `"experimental": true, "ip6tables": true` (20.10 programs
//! ip6tables only then), every network is dual-stack (`--ipv6`, subnet `fd00:0:0:NN::/64` for
//! 172.NN.0.0/16), and the client link carries [`CLIENT6_HOST_ADDR`] / [`CLIENT6_ADDR`].

mod daemon;
mod image;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::cmd;
use crate::core::{LabCore, Vantage};
use crate::docker28::DockerState;
use crate::netns;
use crate::state::LabState;
use crate::topology::{Container, Flavour, Ipv4Net, Network, Proto, PublishedPort, Topology};

/// The host's IPv6 address on the client link (`ipv6` labs).
pub const CLIENT6_HOST_ADDR: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0xffff, 0, 0, 0, 1);
/// The external client's IPv6 address (`ipv6` labs).
pub const CLIENT6_ADDR: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0xffff, 0, 0, 0, 2);

/// Name of the offline image every container runs.
pub const IMAGE: &str = "nfprobe-lab-busybox:latest";

/// What to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// User networks, created in order (`--bridge=none`: no docker0). Default 2.
    pub networks: usize,
    /// Containers per network, each publishing one TCP port to its port 80. Default 1.
    pub containers_per_network: usize,
    /// Run dockerd with the iptables-1.8.11 bug model as its `iptables`. Default false.
    pub faulty_iptables: bool,
    /// Host port of network i, container j = first_host_port + 10*i + j. Default 8000.
    pub first_host_port: u16,
    /// dockerd `--userland-proxy`. Default false (the incident's setting).
    pub userland_proxy: bool,
    /// None: `--bridge=none` (no docker0). Some(icc): the default bridge docker0 with
    /// `--icc=ICC` (legacy `--link` needs it). Default None.
    pub default_bridge_icc: Option<bool>,
    /// Extra environment for dockerd (e.g. DOCKER_IPTABLES_SCTP_CHECKSUM=1). Default none.
    pub dockerd_env: Vec<(String, String)>,
    /// Dual-stack: ip6tables on (20.10: experimental), every network `--ipv6` with subnet
    /// `fd00:0:0:NN::/64`, IPv6 on the client link. Default false.
    pub ipv6: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            networks: 2,
            containers_per_network: 1,
            faulty_iptables: false,
            first_host_port: 8000,
            userland_proxy: false,
            default_bridge_icc: None,
            dockerd_env: Vec::new(),
            ipv6: false,
        }
    }
}

/// A running real-Docker lab. Derefs to [`LabCore`] for the common accessors and probes.
#[derive(Debug)]
pub struct Lab {
    core: LabCore,
    options: Options,
    docker_state: DockerState,
    timings: Vec<(String, Duration)>,
    /// (container, IPv6 address) of `ipv6` labs.
    ipv6: Vec<(String, Ipv6Addr)>,
    /// (network, IPv6 subnet) of `ipv6` labs.
    subnets6: Vec<(String, String)>,
}

crate::core::deref_to_core!(Lab);

impl Lab {
    /// Start containerd and dockerd in a fresh netns, then networks and containers.
    /// On error everything started so far is removed.
    pub fn up(options: Options) -> Result<Lab> {
        crate::fakehost::up_or_removed(|name| Self::build(options, name))
    }

    fn build(options: Options, name: &mut Option<String>) -> Result<Lab> {
        crate::prereq::real_docker()?;
        let t0 = Instant::now();
        let mut timings = Vec::new();
        let mut core = LabCore::begin(Flavour::Real)?;
        *name = Some(core.name().to_owned());
        let host = core.add_netns("host")?;
        netns::ensure_named(&host)?;
        let cgroup_parent = format!("nfprobe-lab-{}", core.name());
        core.state_mut().cgroup_parent = Some(cgroup_parent.clone());
        // containerd's shims put their sockets in this fixed folder.
        for p in ["/run/containerd", "/run/containerd/s"] {
            if !std::path::Path::new(p).exists() {
                core.state_mut().created_outside.push(PathBuf::from(p));
            }
        }
        core.save()?;

        let daemon = daemon::start(&mut core, &host, &options, &cgroup_parent)?;
        timings.push(("containerd+dockerd ready".to_owned(), t0.elapsed()));
        let docker = Docker {
            socket: daemon.socket.clone(),
            config_dir: core.dir().join("docker-cli"),
        };
        image::import(&docker, &core.dir().join("image"))?;
        timings.push(("image imported".to_owned(), t0.elapsed()));

        let lab_name = core.name().to_owned();
        let mut networks = Vec::new();
        let mut subnets6 = Vec::new();
        for i in 0..options.networks {
            let name = format!("labnet{i}");
            let third = u8::try_from(18 + i).map_err(|_| anyhow!("too many networks"))?;
            let subnet = Ipv4Net::new(Ipv4Addr::new(172, third, 0, 0), 16);
            let subnet_s = subnet.to_string();
            let subnet6 = format!("fd00:0:0:{third}::/64");
            let mut args = vec![
                "network",
                "create",
                "--driver",
                "bridge",
                "--subnet",
                subnet_s.as_str(),
            ];
            if options.ipv6 {
                args.extend(["--ipv6", "--subnet", subnet6.as_str()]);
                subnets6.push((name.clone(), subnet6.clone()));
            }
            args.push(&name);
            let id = docker.run(&args)?.trim().to_owned();
            let short: String = id.chars().take(12).collect();
            networks.push(Network {
                name,
                id,
                bridge: format!("br-{short}"),
                subnet,
                gateway: subnet.nth(1),
                containers: Vec::new(),
            });
        }
        timings.push(("networks created".to_owned(), t0.elapsed()));
        // Containers start in parallel (each `docker run` takes about a second here).
        struct Job {
            network: usize,
            name: String,
            host_port: u16,
            body: String,
        }
        let mut jobs = Vec::new();
        for i in 0..networks.len() {
            for j in 0..options.containers_per_network {
                let host_port = u16::try_from(10 * i + j)
                    .ok()
                    .and_then(|d| options.first_host_port.checked_add(d))
                    .ok_or_else(|| anyhow!("host port out of range"))?;
                let name = format!("n{i}c{j}");
                let body = format!("nfprobe-lab {lab_name} {name}\n");
                jobs.push(Job {
                    network: i,
                    name,
                    host_port,
                    body,
                });
            }
        }
        let ids: Vec<Result<String>> = std::thread::scope(|s| {
            let handles: Vec<_> = jobs
                .iter()
                .map(|job| {
                    let docker = &docker;
                    let net = networks[job.network].name.clone();
                    s.spawn(move || {
                        let script = format!(
                            "mkdir -p /tmp/www && echo '{}' > /tmp/www/index.html && exec httpd -f -p 80 -h /tmp/www",
                            job.body.trim()
                        );
                        docker
                            .run(&[
                                "run",
                                "-d",
                                "--name",
                                &job.name,
                                "--network",
                                &net,
                                "-p",
                                &format!("{}:80", job.host_port),
                                IMAGE,
                                "sh",
                                "-c",
                                &script,
                            ])
                            .map(|out| out.trim().to_owned())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow!("docker run thread panicked")))
                })
                .collect()
        });
        let mut ipv6 = Vec::new();
        for (job, id) in jobs.into_iter().zip(ids) {
            let id = id?;
            let info = docker.run(&[
                "inspect",
                "-f",
                "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}} {{.NetworkSettings.SandboxKey}} {{range .NetworkSettings.Networks}}{{.GlobalIPv6Address}}{{end}}",
                &job.name,
            ])?;
            let mut words = info.split_whitespace();
            let (Some(ip), Some(sandbox)) = (words.next(), words.next()) else {
                bail!("docker inspect {}: {info:?}", job.name);
            };
            if options.ipv6 {
                let v6: Ipv6Addr = words
                    .next()
                    .ok_or_else(|| anyhow!("container {} has no IPv6 address", job.name))?
                    .parse()
                    .with_context(|| format!("IPv6 address of container {}", job.name))?;
                ipv6.push((job.name.clone(), v6));
            }
            let ip: Ipv4Addr = ip
                .parse()
                .with_context(|| format!("IP address of container {}", job.name))?;
            let netns_path = PathBuf::from(sandbox);
            networks[job.network].containers.push(Container {
                name: job.name,
                id,
                netns: None,
                netns_path,
                ip,
                ports: vec![PublishedPort {
                    host_port: job.host_port,
                    container_port: 80,
                    proto: Proto::Tcp,
                }],
                http_body: job.body,
            });
        }
        timings.push(("containers started".to_owned(), t0.elapsed()));

        let client = core.add_client(&host)?;
        if options.ipv6 {
            let cli = crate::netns::Netns::named(&client.netns);
            let (h6, c6) = (
                format!("{CLIENT6_HOST_ADDR}/64"),
                format!("{CLIENT6_ADDR}/64"),
            );
            host.ip(&["-6", "addr", "add", &h6, "dev", &client.host_if, "nodad"])?;
            cli.ip(&["-6", "addr", "add", &c6, "dev", "eth0", "nodad"])?;
            cli.ip(&[
                "-6",
                "route",
                "add",
                "default",
                "via",
                &CLIENT6_HOST_ADDR.to_string(),
            ])?;
        }
        let mut docker_state = crate::docker28::docker_state_of(&networks, false);
        docker_state.engine_version = daemon.version.clone();
        docker_state.daemon.userland_proxy = options.userland_proxy;
        let topology = Topology {
            flavour: Flavour::Real,
            host_netns: host.name().to_owned(),
            client,
            networks,
            docker_socket: Some(daemon.socket.clone()),
            backend: "nft".to_owned(),
            userland_proxy: options.userland_proxy,
        };
        core.state_mut().docker_state = Some(docker_state.clone());
        core.set_topology(topology)?;
        let mut lab = Lab {
            core,
            options,
            docker_state,
            timings,
            ipv6,
            subnets6,
        };
        lab.wait_for_servers(Duration::from_secs(10))?;
        lab.timings
            .push(("servers answering".to_owned(), t0.elapsed()));
        log::info!("real docker lab {} up in {:?}", lab.name(), t0.elapsed());
        Ok(lab)
    }

    fn wait_for_servers(&self, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        for n in self.networks() {
            for c in &n.containers {
                // IPv6 addresses go through duplicate address detection first: wait for both.
                let mut addrs = vec![SocketAddr::V4(SocketAddrV4::new(c.ip, 80))];
                if let Some(v6) = self.container_ipv6(&c.name) {
                    addrs.push(SocketAddr::V6(SocketAddrV6::new(v6, 80, 0, 0)));
                }
                for addr in addrs {
                    loop {
                        let o = self.tcp(&Vantage::Host, addr, Duration::from_millis(300));
                        if o.is_ok() {
                            break;
                        }
                        if Instant::now() > deadline {
                            bail!(
                                "httpd of container {} ({addr}) not answering: {o:?}; logs: {}",
                                c.name,
                                self.docker(&["logs", &c.name]).unwrap_or_default()
                            );
                        }
                        std::thread::sleep(Duration::from_millis(30));
                    }
                }
            }
        }
        Ok(())
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// A container's IPv6 address (`ipv6` labs).
    pub fn container_ipv6(&self, container: &str) -> Option<Ipv6Addr> {
        self.ipv6
            .iter()
            .find(|(c, _)| c == container)
            .map(|(_, a)| *a)
    }

    /// A network's IPv6 subnet (`ipv6` labs), e.g. `fd00:0:0:18::/64`.
    pub fn network_ipv6_subnet(&self, network: &str) -> Option<&str> {
        self.subnets6
            .iter()
            .find(|(n, _)| n == network)
            .map(|(_, s)| s.as_str())
    }

    /// HTTP GET `[CLIENT6_HOST_ADDR]:port` from the external client (`ipv6` labs).
    pub fn http6_from_client(&self, port: u16, timeout: Duration) -> crate::net::Outcome {
        let addr = SocketAddr::V6(SocketAddrV6::new(CLIENT6_HOST_ADDR, port, 0, 0));
        self.http(&crate::core::Vantage::Client, addr, timeout)
    }

    /// Run the docker CLI against this lab's dockerd; returns stdout.
    pub fn docker(&self, args: &[&str]) -> Result<String> {
        self.docker_client().run(args)
    }

    /// A docker CLI handle (socket + private CLI config folder).
    pub fn docker_client(&self) -> Docker {
        Docker {
            socket: self.docker_socket().map(PathBuf::from).unwrap_or_default(),
            config_dir: self.dir().join("docker-cli"),
        }
    }

    /// The Docker state (networks, containers, ports, daemon settings), same shape as the
    /// docker28 flavour's.
    pub fn docker_state(&self) -> &DockerState {
        &self.docker_state
    }

    /// How long each stage of `up` took (cumulative from the start).
    pub fn timings(&self) -> &[(String, Duration)] {
        &self.timings
    }

    /// dockerd's log (debug level: it shows every iptables call).
    pub fn dockerd_log(&self) -> String {
        std::fs::read_to_string(self.dir().join("dockerd.log")).unwrap_or_default()
    }

    /// Tear down now.
    pub fn down(self) -> Result<()> {
        self.core.down()
    }

    /// Keep running after this process (see [`LabCore::persist`]).
    pub fn persist(self) -> Result<LabState> {
        self.core.persist()
    }
}

/// The docker CLI pointed at a lab's dockerd.
#[derive(Debug, Clone)]
pub struct Docker {
    pub socket: PathBuf,
    /// DOCKER_CONFIG: keeps the CLI away from ~/.docker.
    pub config_dir: PathBuf,
}

impl Docker {
    pub fn command(&self) -> Command {
        let mut c = Command::new("docker");
        c.env("DOCKER_CONFIG", &self.config_dir)
            .arg("-H")
            .arg(format!("unix://{}", self.socket.display()));
        c
    }
    pub fn run(&self, args: &[&str]) -> Result<String> {
        cmd::run(self.command().args(args))
    }
}
