//! Dev helper: print a namespace's legacy ruleset as iptables-legacy-save would.
//! `cargo run --example xt_save -- NETNS [4|6] [-c]`
fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ns = args
        .first()
        .map(|s| nfprobe::kernel::netns::NetnsSpec::parse(s));
    let family = if args.iter().any(|a| a == "6") {
        nfprobe::ruleset::Family::Ipv6
    } else {
        nfprobe::ruleset::Family::Ipv4
    };
    let counters = args.iter().any(|a| a == "-c");
    let rs = nfprobe::ruleset::read::read_ruleset(ns.as_ref(), family)?;
    print!("{}", nfprobe::ruleset::render::save(&rs, counters));
    Ok(())
}
