//! A tc program's own run time, without the packet path around it: `bpftool prog run` (the
//! kernel's BPF_PROG_TEST_RUN) runs it N times on one prepared skb and reports the average.
//! The interface the skb claims to arrive on is set through the context (`__sk_buff.ifindex`)
//! and must exist in the namespace bpftool runs in.

use anyhow::{Context, Result, bail};

/// Offset of `ifindex` in `struct __sk_buff` (UAPI, stable) and the size we pass.
const SKB_IFINDEX: usize = 40;
const SKB_CTX_LEN: usize = 192;

/// Average ns per run of program `id` over `repeat` runs on a 60-byte IPv4/UDP frame that
/// arrived on `ifindex` (0: the loopback device) in namespace `netns`.
pub fn ns_per_run(netns: &str, id: u64, ifindex: u32, repeat: u32) -> Result<f64> {
    let dir = std::env::temp_dir().join(format!("nfb-testrun-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let res = (|| {
        let data = dir.join("frame");
        let ctx = dir.join("ctx");
        let mut frame = vec![0u8; 60];
        frame[12..14].copy_from_slice(&[0x08, 0x00]);
        frame[14] = 0x45;
        std::fs::write(&data, &frame)?;
        let mut skb = vec![0u8; SKB_CTX_LEN];
        skb[SKB_IFINDEX..SKB_IFINDEX + 4].copy_from_slice(&ifindex.to_ne_bytes());
        std::fs::write(&ctx, &skb)?;
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", netns, "bpftool", "prog", "run", "id"])
            .arg(id.to_string())
            .arg("data_in")
            .arg(&data)
            .arg("ctx_in")
            .arg(&ctx)
            .args(["repeat", &repeat.to_string()])
            .output()
            .context("running bpftool prog run")?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        // "Return value: 4294967295, duration (average): 36ns"
        let ns = text
            .split("duration (average):")
            .nth(1)
            .and_then(|r| r.trim().strip_suffix("ns").or(r.split("ns").next()))
            .and_then(|v| v.trim().parse::<f64>().ok());
        match ns {
            Some(ns) if out.status.success() => Ok(ns),
            _ => bail!("bpftool prog run id {id}: {}", text.trim()),
        }
    })();
    let _ = std::fs::remove_dir_all(&dir);
    res
}

/// An empty tc program (`return TC_ACT_UNSPEC`), loaded for the bench's own process only:
/// [`ns_per_run`] on it is the harness's floor (the call into a program and the loop around
/// it), so a program's own work is its time minus this one's. Closed (and unloaded) on drop.
pub struct EmptyClassifier {
    fd: std::os::fd::OwnedFd,
}

impl EmptyClassifier {
    pub fn load() -> Result<Self> {
        Self::returning(-1)
    }

    /// An empty tc program returning `verdict` (-1: TCX_NEXT / TC_ACT_UNSPEC, 0: TCX_PASS).
    pub fn returning(verdict: i32) -> Result<Self> {
        use std::os::fd::FromRawFd;
        // r0 = verdict (BPF_ALU64 | BPF_MOV | BPF_K); exit.
        let mut insns = [0u8; 16];
        insns[0] = 0xb7;
        insns[4..8].copy_from_slice(&verdict.to_ne_bytes());
        insns[8] = 0x95;
        let license = b"GPL\0";
        // union bpf_attr for BPF_PROG_LOAD, up to prog_name (UAPI offsets).
        let mut attr = [0u8; 64];
        attr[0..4].copy_from_slice(&3u32.to_ne_bytes()); // BPF_PROG_TYPE_SCHED_CLS
        attr[4..8].copy_from_slice(&2u32.to_ne_bytes());
        attr[8..16].copy_from_slice(&(insns.as_ptr() as u64).to_ne_bytes());
        attr[16..24].copy_from_slice(&(license.as_ptr() as u64).to_ne_bytes());
        attr[48..55].copy_from_slice(b"nfb_nop");
        // SAFETY: BPF_PROG_LOAD (5) reads `attr` (its size passed) and the instruction and
        // license buffers it points to, all alive for the call.
        let fd =
            unsafe { libc::syscall(libc::SYS_bpf, 5, attr.as_ptr(), attr.len() as libc::c_uint) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error()).context("loading an empty tc program");
        }
        // SAFETY: the kernel just returned this fd to us; nobody else owns it.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) };
        Ok(Self { fd })
    }

    /// The program's fd (to attach it).
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(&self.fd)
    }

    /// The program's id (from our fd's fdinfo).
    pub fn id(&self) -> Result<u64> {
        use std::os::fd::AsRawFd;
        let path = format!("/proc/self/fdinfo/{}", self.fd.as_raw_fd());
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        text.lines()
            .find_map(|l| l.strip_prefix("prog_id:"))
            .and_then(|v| v.trim().parse().ok())
            .with_context(|| format!("{path}: no prog_id"))
    }
}
