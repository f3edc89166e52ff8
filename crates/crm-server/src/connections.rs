//! The connections the server accepted, tracked so a shutdown can end them.
//!
//! A graceful shutdown stops accepting, asks every connection to finish
//! (HTTP/2 GOAWAY) and waits for them to close. A client that keeps a
//! stream open (a health watch, an idle server stream) would keep the
//! server alive for as long as it likes; past the shutdown's deadline the
//! server closes what is still open itself. tonic serves each connection
//! on a task of its own and hands none of them back, so each accepted
//! socket is registered here with a duplicate of its handle, removed again
//! when the connection ends, and [`Connections::close_all`] shuts the
//! sockets down, which ends their tasks.

use std::collections::HashMap;
use std::io;
use std::net::Shutdown;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_stream::{Stream, StreamExt};
use tonic::transport::server::{Connected, TcpConnectInfo};

/// The open connections, by a number of their own.
#[derive(Debug, Clone, Default)]
pub(crate) struct Connections {
    open: Arc<Mutex<HashMap<u64, std::net::TcpStream>>>,
    next: Arc<AtomicU64>,
}

impl Connections {
    /// `accepted` with Nagle's algorithm off and every connection tracked.
    ///
    /// The builder's `tcp_nodelay` only reaches sockets tonic accepts
    /// itself; without it a response written in two parts (data, then
    /// trailers) waits out the client's delayed ACK, about 40 ms, whenever
    /// the body is large.
    pub(crate) fn track(
        &self,
        accepted: impl Stream<Item = io::Result<TcpStream>>,
    ) -> impl Stream<Item = io::Result<Tracked>> {
        let connections = self.clone();
        accepted.map(move |accepted| {
            let stream = accepted?;
            if let Err(error) = stream.set_nodelay(true) {
                tracing::warn!(%error, "cannot set TCP_NODELAY");
            }
            connections.register(stream)
        })
    }

    fn register(&self, stream: TcpStream) -> io::Result<Tracked> {
        let stream = stream.into_std()?;
        let handle = stream.try_clone()?;
        let stream = TcpStream::from_std(stream)?;
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, handle);
        Ok(Tracked {
            stream,
            id,
            connections: self.clone(),
        })
    }

    /// Shuts down every connection still open, and says how many there were.
    pub(crate) fn close_all(&self) -> usize {
        let open = std::mem::take(&mut *self.lock());
        for handle in open.values() {
            // A socket the peer closed meanwhile is no failure here.
            let _ = handle.shutdown(Shutdown::Both);
        }
        open.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, std::net::TcpStream>> {
        // The map stays consistent whatever panicked while it was held.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An accepted connection, removed from [`Connections`] when it ends.
#[derive(Debug)]
pub(crate) struct Tracked {
    stream: TcpStream,
    id: u64,
    connections: Connections,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.connections.lock().remove(&self.id);
    }
}

impl Connected for Tracked {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.stream.connect_info()
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
