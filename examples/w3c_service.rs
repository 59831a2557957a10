//! W3C trace-context test service (`docs/conformance.md#w3c-test-service`).
//!
//! ```text
//! cargo run --example w3c_service -- [--addr HOST:PORT]   # default 127.0.0.1:5055
//! ```
//!
//! Then point the official W3C trace-context test suite at
//! `http://127.0.0.1:5055/test`. The protocol is implemented in
//! `tracewire_examples::w3c`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use tracewire_examples::w3c;

fn parse_addr(mut args: impl Iterator<Item = String>) -> Result<SocketAddr, String> {
    let mut addr = w3c::DEFAULT_ADDR.to_owned();
    while let Some(arg) = args.next() {
        if arg == "--addr" {
            addr = args.next().ok_or("--addr needs HOST:PORT")?;
        } else if let Some(value) = arg.strip_prefix("--addr=") {
            value.clone_into(&mut addr);
        } else if arg == "--help" || arg == "-h" {
            return Err(format!(
                "usage: w3c_service [--addr HOST:PORT]   (default {})",
                w3c::DEFAULT_ADDR
            ));
        } else {
            return Err(format!("unknown argument {arg:?} (try --help)"));
        }
    }
    addr.parse()
        .map_err(|e| format!("--addr {addr:?} is not HOST:PORT: {e}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let addr = match parse_addr(std::env::args().skip(1)) {
        Ok(addr) => addr,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let (listener, local) = match w3c::bind(addr).await {
        Ok(bound) => bound,
        Err(error) => {
            eprintln!("w3c_service: cannot listen on {addr}: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("w3c_service listening on http://{local}/test");
    let stats = Arc::new(w3c::Stats::default());
    match w3c::serve(listener, std::future::pending(), stats).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("w3c_service: {error}");
            ExitCode::FAILURE
        }
    }
}
