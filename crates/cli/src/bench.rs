//! `synack bench [--quick] [--json]`: issue 9's benchmarks, synack side by side with
//! smoltcp and the Linux kernel (loopback) in one run. See BENCHMARKS.md.
use clap::Args;

/// Memory figures need a counting allocator: the binary's global allocator counts bytes
/// (stats_alloc: two relaxed-cost atomic adds per allocation, no unsafe code here). It
/// serves every subcommand; the stack allocates nothing per segment in steady state.
#[global_allocator]
static ALLOC: &synack_bench::Counting = &synack_bench::COUNTING;

#[derive(Args)]
pub struct BenchOpts {
    /// Smaller sizes (128 MiB flows, 100,000 connections): under 2 minutes.
    #[arg(long)]
    quick: bool,
    /// One JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// The goodput table instead (issue 11): one flow over lossy bottlenecks, synack and
    /// smoltcp on the same simulated path; fairness of two flows; a burst loss.
    #[arg(long)]
    goodput: bool,
}

pub fn bench(o: &BenchOpts) -> Result<bool, String> {
    let sizes = if o.quick {
        synack_bench::Sizes::quick()
    } else {
        synack_bench::Sizes::full()
    };
    if cfg!(debug_assertions) {
        eprintln!("synack bench: a debug build; measure with --release");
    }
    if o.goodput {
        let r = synack_bench::netpath::run_goodput(o.quick, |s| eprintln!("… {s}"))?;
        if o.json {
            println!("{}", r.json());
        } else {
            print!("{}", r.table());
        }
        return Ok(true);
    }
    let r = synack_bench::run(sizes, |s| eprintln!("… {s}"))?;
    if o.json {
        println!("{}", r.json());
    } else {
        print!("{}", r.table());
    }
    Ok(true)
}
