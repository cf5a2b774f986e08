//! An HTTP server — hyper 1.x, unchanged — whose TCP is synack's, on a TUN device.
//!
//! ```sh
//! sudo ip netns add demo
//! sudo ip netns exec demo cargo run -p synack-tokio --example http -- \
//!     st0 192.0.2.1/24,2001:db8::1/64 192.0.2.2,2001:db8::2 8080 [--control /tmp/st0.sock]
//! sudo ip netns exec demo curl http://192.0.2.2:8080/hello
//! sudo ip netns exec demo curl 'http://[2001:db8::2]:8080/hello'
//! synack ss --control /tmp/st0.sock -tanoi
//! ```
//!
//! Arguments: the TUN device to create, the kernel's address(es) on it with their
//! prefixes, synack's address(es) (comma-separated, IPv4 and/or IPv6), the port, and
//! optionally `--control PATH` for `synack ss|nstat --control PATH`. The device is made in
//! the current network namespace, given the kernel's addresses, and brought up with `ip`,
//! as `synack serve` does. Each page shows the request and the connection's TCP_INFO as
//! synack sees it.
#![forbid(unsafe_code)]

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use synack_tokio::{Config, Net, Profile, TcpListener, TcpStream, Tun};

#[tokio::main]
async fn main() {
    if let Err(e) = run(std::env::args().skip(1).collect()).await {
        eprintln!("http: {e}");
        std::process::exit(1);
    }
}

const USAGE: &str =
    "usage: http TUN HOST_ADDR/PREFIX[,...] SYNACK_ADDR[,...] PORT [--control PATH]";

/// Set up the device and serve until killed.
pub async fn run(args: Vec<String>) -> Result<(), String> {
    let mut pos = Vec::new();
    let mut control = None;
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        if a == "--control" {
            control = Some(it.next().ok_or(USAGE)?);
        } else {
            pos.push(a);
        }
    }
    let [tun_name, host, ours, port] = <[String; 4]>::try_from(pos).map_err(|_| USAGE)?;
    let port: u16 = port.parse().map_err(|e| format!("port {port}: {e}"))?;
    let addrs: Vec<IpAddr> = ours
        .split(',')
        .map(|a| a.parse().map_err(|e| format!("address {a}: {e}")))
        .collect::<Result<_, _>>()?;

    let tun = Tun::open(&tun_name).map_err(|e| format!("open TUN {tun_name}: {e}"))?;
    tun.configure(&host.split(',').collect::<Vec<_>>())?;

    let net = Net::tun(tun, Config::for_profile(Profile::Linux), &addrs)
        .map_err(|e| format!("synack on {tun_name}: {e}"))?;
    if let Some(path) = &control {
        net.serve_control(path)
            .map_err(|e| format!("--control {path}: {e}"))?;
    }
    let mut tasks = Vec::new();
    for a in addrs {
        let addr = SocketAddr::new(a, port);
        let listener = TcpListener::bind(&net, addr).map_err(|e| format!("bind {addr}: {e}"))?;
        println!("synack-tokio http serving on {}", url(addr));
        tasks.push(tokio::spawn(accept_loop(listener)));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}

fn url(a: SocketAddr) -> String {
    match a {
        SocketAddr::V4(a) => format!("http://{a}/"),
        SocketAddr::V6(a) => format!("http://[{}]:{}/", a.ip(), a.port()),
    }
}

async fn accept_loop(listener: TcpListener) -> Result<(), String> {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            // EMFILE and the like pass: wait a moment, as servers do, and go on; a
            // driver that stopped (its device failed) does not.
            Err(e) => {
                if let Some(why) = listener.net().stopped() {
                    return Err(format!("synack stopped: {why}"));
                }
                eprintln!("http: accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        tokio::spawn(async move {
            if let Err(e) = serve(stream, peer).await {
                eprintln!("http: {peer}: {e}");
            }
        });
    }
}

/// One connection, handed to hyper as any tokio `AsyncRead + AsyncWrite`.
async fn serve(stream: TcpStream, peer: SocketAddr) -> Result<(), hyper::Error> {
    let net = stream.net().clone();
    let fd = stream.fd();
    let service = service_fn(move |req: Request<Incoming>| {
        // TCP_INFO from the stack while hyper owns the stream (the descriptor stays
        // ours until the connection is done).
        let info = net.with_stack(|s| s.tcp_info(net.now(), fd).ok());
        let mut body = format!(
            "hello from synack-tokio\n{} {} {:?} from {peer}\n",
            req.method(),
            req.uri().path(),
            req.version()
        );
        if let Some(i) = info {
            body += &format!(
                "rtt {} us, cwnd {}, mss {}, segs in {}, segs out {}\n",
                i.rtt, i.snd_cwnd, i.snd_mss, i.segs_in, i.segs_out
            );
        }
        async move { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body)))) }
    });
    http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await
}
