//! A TCP proxy between the server and PostgreSQL that a test can break: it
//! forwards bytes while [`Link::Up`], closes every connection and every new
//! one while [`Link::Cut`] (the database went away), and holds every
//! connection open without passing a byte while [`Link::Stalled`] (the
//! database stopped answering). Setting [`Link::Up`] again repairs it.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The state of the link to the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Bytes pass.
    Up,
    /// Every connection is closed at once.
    Cut,
    /// Connections stay open and no byte passes.
    Stalled,
}

/// A running proxy; it stops when dropped.
pub struct Proxy {
    link: watch::Sender<Link>,
    accepting: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// A proxy in front of the PostgreSQL server of `url`, and `url` with
    /// its host and port replaced by the proxy's.
    pub async fn in_front_of(url: &str) -> (Proxy, String) {
        let (scheme, rest) = url.split_once("://").unwrap();
        let (credentials, rest) = match rest.rsplit_once('@') {
            Some((credentials, rest)) => (format!("{credentials}@"), rest),
            None => (String::new(), rest),
        };
        let (host_port, path) = rest.split_once('/').unwrap_or((rest, ""));
        let upstream = if host_port.contains(':') {
            host_port.to_owned()
        } else {
            format!("{host_port}:5432")
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let (link, watching) = watch::channel(Link::Up);
        let accepting = tokio::spawn(accept(listener, upstream, watching));
        (
            Proxy { link, accepting },
            format!("{scheme}://{credentials}{addr}/{path}"),
        )
    }

    /// Changes the link; connections already open follow at once.
    pub fn set(&self, link: Link) {
        self.link.send_replace(link);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accepting.abort();
        self.link.send_replace(Link::Cut);
    }
}

async fn accept(listener: TcpListener, upstream: String, link: watch::Receiver<Link>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        if *link.borrow() == Link::Cut {
            drop(client);
            continue;
        }
        let upstream = upstream.clone();
        let link = link.clone();
        tokio::spawn(async move {
            if let Ok(server) = TcpStream::connect(&upstream).await {
                pipe(client, server, link).await;
            }
        });
    }
}

/// Forwards bytes both ways while the link is up; returns (closing both
/// sockets) when it is cut or either side closes.
async fn pipe(mut client: TcpStream, mut server: TcpStream, mut link: watch::Receiver<Link>) {
    let (mut from_client, mut to_client) = client.split();
    let (mut from_server, mut to_server) = server.split();
    let mut client_bytes = vec![0_u8; 16 * 1024];
    let mut server_bytes = vec![0_u8; 16 * 1024];
    loop {
        let state = *link.borrow_and_update();
        match state {
            Link::Cut => return,
            Link::Stalled => {
                if link.changed().await.is_err() {
                    return;
                }
            }
            Link::Up => {
                tokio::select! {
                    read = from_client.read(&mut client_bytes) => match read {
                        Ok(0) | Err(_) => return,
                        Ok(n) => if to_server.write_all(&client_bytes[..n]).await.is_err() {
                            return;
                        },
                    },
                    read = from_server.read(&mut server_bytes) => match read {
                        Ok(0) | Err(_) => return,
                        Ok(n) => if to_client.write_all(&server_bytes[..n]).await.is_err() {
                            return;
                        },
                    },
                    changed = link.changed() => if changed.is_err() {
                        return;
                    },
                }
            }
        }
    }
}
