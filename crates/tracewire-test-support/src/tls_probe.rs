//! A TCP listener on 127.0.0.1 that keeps the first bytes a client sends and then closes:
//! enough to tell that a client spoke TLS (a handshake record starts `16 03 0x`) without
//! certificates.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The probe; [`TlsProbe::first_bytes`] gives what the first client sent.
#[derive(Debug)]
pub struct TlsProbe {
    addr: SocketAddr,
    first: oneshot::Receiver<Vec<u8>>,
}

impl TlsProbe {
    /// Listens on an ephemeral port of 127.0.0.1.
    pub async fn start() -> TlsProbe {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let (tx, first) = oneshot::channel();
        tokio::spawn(async move {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let mut buf = [0u8; 5];
            let mut got = 0;
            // A TLS record header is 5 bytes; read at most that, for at most 5 s.
            let _ = tokio::time::timeout(Duration::from_secs(5), async {
                while got < buf.len() {
                    match stream.read(&mut buf[got..]).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got += n,
                    }
                }
            })
            .await;
            let _ = tx.send(buf[..got].to_vec());
        });
        TlsProbe { addr, first }
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The first bytes the first client sent (empty if it sent none within 5 s).
    pub async fn first_bytes(self) -> Vec<u8> {
        tokio::time::timeout(Duration::from_secs(10), self.first)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default()
    }
}

/// Whether `bytes` begin a TLS handshake record (content type 22, major version 3).
pub fn is_tls_handshake(bytes: &[u8]) -> bool {
    bytes.len() >= 3 && bytes[0] == 0x16 && bytes[1] == 0x03
}
