//! `cargo bench -p synack-bench --bench all [-- --quick] [-- --json]`: the whole table.
#[global_allocator]
static ALLOC: &synack_bench::Counting = &synack_bench::COUNTING;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let sizes = if quick {
        synack_bench::Sizes::quick()
    } else {
        synack_bench::Sizes::full()
    };
    let r = synack_bench::run(sizes, |s| eprintln!("… {s}")).expect("benchmarks run");
    if args.iter().any(|a| a == "--json") {
        println!("{}", r.json());
    } else {
        print!("{}", r.table());
    }
}
