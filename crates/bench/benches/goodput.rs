//! `cargo bench -p synack-bench --bench goodput [-- --quick]`: issue 11's goodput table
//! (the same as `synack bench --goodput`).
fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    match synack_bench::netpath::run_goodput(quick, |s| eprintln!("… {s}")) {
        Ok(r) => print!("{}", r.table()),
        Err(e) => {
            eprintln!("goodput: {e}");
            std::process::exit(1);
        }
    }
}
