//! `cargo bench -p synack-bench --bench lifecycles`: lifecycles only, the three stacks.
fn main() {
    // The first numeric argument (cargo bench adds `--bench`).
    let n: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200_000);
    let ours = synack_bench::ours::lifecycles(n).expect("synack");
    let smol = synack_bench::smol::lifecycles(n / 4).expect("smoltcp");
    let linux =
        synack_bench::kernel::lifecycles(n / 10, std::time::Duration::from_secs(2)).expect("linux");
    for (name, l) in [("synack", ours), ("smoltcp", smol), ("linux", linux)] {
        println!(
            "{name:<8} {:>12.0} lifecycles/s ({} in {:.3} s, {} segments)",
            l.per_sec(),
            l.count,
            l.secs,
            l.segments
        );
    }
}
