//! A listener for the public side (webhook deliveries come from the internet through the
//! operator's proxy): at most `max` connections at once, each closed `lifetime` after it was
//! accepted. axum's `serve` has no header or idle timeout of its own, so without this a
//! sender that opens connections and trickles (or never finishes) its headers holds them
//! until the process runs out of file descriptors, and `/metrics` with it.
//!
//! A connection past its lifetime fails its next read or write (`TimedOut`), and hyper
//! closes it; Jira opens a new one for its next delivery. While `max` connections are
//! open, the next waits in the kernel's backlog until one closes.

use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{self, AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// `TcpListener` with a bound on connections and their lifetime.
#[derive(Debug)]
pub struct Bounded {
    inner: TcpListener,
    permits: Arc<Semaphore>,
    lifetime: Duration,
}

impl Bounded {
    pub fn new(inner: TcpListener, max: usize, lifetime: Duration) -> Self {
        Bounded {
            inner,
            permits: Arc::new(Semaphore::new(max)),
            lifetime,
        }
    }
}

impl axum::serve::Listener for Bounded {
    type Io = Held<TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // The semaphore is never closed: acquiring only waits.
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let (io, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        (Held::new(io, permit, self.lifetime), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection holding its place among the `max`, until `lifetime` after it was accepted.
#[derive(Debug)]
pub struct Held<T> {
    io: T,
    deadline: Pin<Box<tokio::time::Sleep>>,
    _permit: OwnedSemaphorePermit,
}

impl<T> Held<T> {
    fn new(io: T, permit: OwnedSemaphorePermit, lifetime: Duration) -> Self {
        Held {
            io,
            deadline: Box::pin(tokio::time::sleep(lifetime)),
            _permit: permit,
        }
    }

    /// `Err(TimedOut)` once the lifetime is over (and wakes the task when it will be).
    fn expired(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the connection outlived its lifetime",
            )),
            Poll::Pending => Ok(()),
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Held<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.expired(cx)?;
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Held<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.expired(cx)?;
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_never_finishes_is_closed_after_its_lifetime() {
        let permits = Arc::new(Semaphore::new(1));
        let (ours, mut theirs) = io::duplex(64);
        let permit = permits.clone().acquire_owned().await.unwrap();
        let mut held = Held::new(ours, permit, Duration::from_secs(60));
        // The sender's first bytes arrive, then nothing more.
        theirs
            .write_all(b"POST /hooks/acme HTTP/1.1\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        assert!(held.read(&mut buf).await.unwrap() > 0);
        assert_eq!(permits.available_permits(), 0, "the place is held");
        let read = tokio::time::timeout(Duration::from_secs(120), held.read(&mut buf)).await;
        let err = read.expect("the read ends at the lifetime").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        drop(held);
        assert_eq!(permits.available_permits(), 1, "and given back when closed");
    }

    #[tokio::test]
    async fn connections_beyond_the_bound_wait_for_a_place() {
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let mut listener = Bounded::new(tcp, 2, Duration::from_secs(60));
        let _a = TcpStream::connect(addr).await.unwrap();
        let _b = TcpStream::connect(addr).await.unwrap();
        let _c = TcpStream::connect(addr).await.unwrap();
        use axum::serve::Listener as _;
        let first = listener.accept().await.0;
        let _second = listener.accept().await.0;
        let third = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
        assert!(
            third.is_err(),
            "a third connection is accepted only when one closes"
        );
        drop(first);
        let third = tokio::time::timeout(Duration::from_secs(5), listener.accept()).await;
        assert!(third.is_ok());
    }
}
