//! HTTP version choice on a plain port: a client that opens with the HTTP/2 preface speaks
//! HTTP/2 (h2c with prior knowledge). The bytes read to tell are replayed to the protocol.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// The HTTP/2 connection preface: a client speaking HTTP/2 first (h2c with prior knowledge)
/// opens with it.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Reads the opening bytes until they either match the whole HTTP/2 preface or differ from it;
/// returns whether they did, and the bytes read (to be replayed to the protocol).
pub(super) async fn sniff<I: AsyncRead + Unpin>(io: &mut I) -> std::io::Result<(bool, Vec<u8>)> {
    let mut opening = vec![0u8; H2_PREFACE.len()];
    let mut len = 0;
    loop {
        let n = io.read(&mut opening[len..]).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        len += n;
        if opening[..len] != H2_PREFACE[..len] || len == H2_PREFACE.len() {
            let h2 = opening[..len] == *H2_PREFACE;
            opening.truncate(len);
            return Ok((h2, opening));
        }
    }
}

/// A connection whose opening bytes were read by [`sniff`]: they are read again first.
pub(super) struct Rewind<I> {
    opening: Vec<u8>,
    read: usize,
    inner: I,
}

impl<I> Rewind<I> {
    /// `inner`, read from after `opening` (empty when nothing was sniffed).
    pub(super) fn new(opening: Vec<u8>, inner: I) -> Rewind<I> {
        Rewind { opening, read: 0, inner }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Rewind<I> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.read < this.opening.len() {
            let n = (this.opening.len() - this.read).min(buf.remaining());
            buf.put_slice(&this.opening[this.read..this.read + n]);
            this.read += n;
            if this.read == this.opening.len() {
                this.opening = Vec::new();
                this.read = 0;
                // And what already arrived behind them: hyper grows its read buffer (to 16 KiB,
                // kept while a stream holds the request's headers) after a short first read.
                if buf.remaining() > 0 {
                    // An error or the end shows again on the next read.
                    let _ = Pin::new(&mut this.inner).poll_read(cx, buf);
                }
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Rewind<I> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[std::io::IoSlice<'_>]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
