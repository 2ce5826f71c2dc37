//! The `nfprobe` binary: parse the command line, call the library, print, exit.

fn main() {
    println!("nfprobe {}", env!("CARGO_PKG_VERSION"));
}
