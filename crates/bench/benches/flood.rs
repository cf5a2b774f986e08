//! `cargo bench -p synack-bench --bench flood [-- N]`: the SYN flood alone.
fn main() {
    // The first numeric argument (cargo bench adds `--bench`).
    let n: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let f = synack_bench::ours::syn_flood(n, 1000).expect("flood");
    println!(
        "{:.0} cookie SYN-ACKs/s ({} in {:.3} s); real handshakes {}/{}",
        f.synacks_per_sec(),
        f.synacks,
        f.secs,
        f.real_ok,
        f.real_attempts
    );
}
