//! Benchmark baseline: the least an HTTP server can do for an N5g-eir request.
//!
//! Same runtime and connection settings as `ceir serve` (tokio multi-thread runtime, hyper-util's
//! auto builder speaking HTTP/1.1 and h2c with prior knowledge, HTTP/2 max concurrent streams
//! 1024, TCP_NODELAY), but no router, no middleware, no query parsing and no index: every request
//! gets 200 `application/json` `{"status":"WHITELISTED"}`.
//!
//! ```text
//! cargo run --release -p ceir-http --example constant_server -- 8081
//! ```
//!
//! Used by `bench/eir_h2load.sh` to show what share of the achievable throughput ceir reaches.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;
use tokio::net::TcpListener;

const BODY: &[u8] = br#"{"status":"WHITELISTED"}"#;

async fn answer(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut res = Response::new(Full::new(Bytes::from_static(BODY)));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(res)
}

async fn run(addr: SocketAddr) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!(
        "constant server listening on http://{} (HTTP/1.1 and HTTP/2 prior knowledge)",
        listener.local_addr()?
    );
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http2().max_concurrent_streams(1024);
    loop {
        let (stream, _peer) = match listener.accept().await {
            Ok(a) => a,
            Err(e) => {
                eprintln!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let builder = builder.clone();
        tokio::spawn(async move {
            let _ = builder
                .serve_connection(TokioIo::new(stream), service_fn(answer))
                .await;
        });
    }
}

fn main() -> ExitCode {
    let port: u16 = match std::env::args().nth(1).map(|p| p.parse()) {
        Some(Ok(p)) => p,
        _ => {
            eprintln!("usage: constant_server PORT");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(SocketAddr::from(([127, 0, 0, 1], port)))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
