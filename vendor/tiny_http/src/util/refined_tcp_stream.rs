use std::io::Result as IoResult;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::limits::{timed_out, ConnGuard, ReadClock};

use crate::connection::Connection;
#[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
use crate::ssl::SslStream;

pub(crate) enum Stream {
    Http(Connection),
    #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
    Https(SslStream),
}

impl From<Connection> for Stream {
    fn from(tcp_stream: Connection) -> Self {
        Stream::Http(tcp_stream)
    }
}

impl Stream {
    fn secure(&self) -> bool {
        match self {
            Stream::Http(_) => false,
            #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
            Stream::Https(_) => true,
        }
    }

    fn peer_addr(&self) -> IoResult<Option<SocketAddr>> {
        match self {
            Stream::Http(tcp_stream) => tcp_stream.peer_addr(),
            #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
            Stream::Https(ssl_stream) => ssl_stream.peer_addr(),
        }
    }

    fn shutdown(&self, how: Shutdown) -> IoResult<()> {
        match self {
            Stream::Http(tcp_stream) => tcp_stream.shutdown(how),
            #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
            Stream::Https(ssl_stream) => ssl_stream.shutdown(how),
        }
    }
}

impl Stream {
    fn read(&self, buf: &mut [u8]) -> IoResult<usize> {
        match self {
            Stream::Http(tcp_stream) => tcp_stream.read_shared(buf),
            #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
            Stream::Https(ssl_stream) => ssl_stream.clone().read(buf),
        }
    }

    fn write(&self, buf: &[u8]) -> IoResult<usize> {
        match self {
            Stream::Http(tcp_stream) => tcp_stream.write_shared(buf),
            #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
            Stream::Https(ssl_stream) => ssl_stream.clone().write(buf),
        }
    }

    fn flush(&self) -> IoResult<()> {
        match self {
            Stream::Http(_) => Ok(()),
            #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
            Stream::Https(ssl_stream) => ssl_stream.clone().flush(),
        }
    }

    fn set_read_timeout(&self, t: Option<Duration>) -> IoResult<()> {
        match self {
            Stream::Http(tcp_stream) => tcp_stream.set_read_timeout(t),
            #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
            Stream::Https(_) => Ok(()),
        }
    }
}

/// parachute-agent patch: both halves share one socket through an `Arc` (upstream
/// `dup`ed it, which doubled the descriptors per connection and panicked on EMFILE), carry
/// the connection's slot in the open-connections count, and the read half applies the
/// connection's [`ReadClock`] before every socket read.
pub struct RefinedTcpStream {
    stream: Arc<Stream>,
    close_read: bool,
    close_write: bool,
    clock: Option<Arc<ReadClock>>,
    last_timeout: Option<Option<Duration>>,
    _slot: Option<Arc<ConnGuard>>,
}

impl RefinedTcpStream {
    pub(crate) fn new<S>(
        stream: S,
        clock: Option<Arc<ReadClock>>,
        slot: Option<ConnGuard>,
    ) -> (RefinedTcpStream, RefinedTcpStream)
    where
        S: Into<Stream>,
    {
        let stream = Arc::new(stream.into());
        let slot = slot.map(Arc::new);

        let read = RefinedTcpStream {
            stream: stream.clone(),
            close_read: true,
            close_write: false,
            clock,
            last_timeout: None,
            _slot: slot.clone(),
        };

        let write = RefinedTcpStream {
            stream,
            close_read: false,
            close_write: true,
            clock: None,
            last_timeout: None,
            _slot: slot,
        };

        (read, write)
    }

    #[inline]
    pub(crate) fn secure(&self) -> bool {
        self.stream.secure()
    }

    pub(crate) fn peer_addr(&mut self) -> IoResult<Option<SocketAddr>> {
        self.stream.peer_addr()
    }

    /// Sends FIN now (the write half's drop would do it later).
    pub(crate) fn shutdown_write(&self) {
        self.stream.shutdown(Shutdown::Write).ok();
    }

    fn apply_clock(&mut self) -> IoResult<()> {
        let Some(clock) = &self.clock else {
            return Ok(());
        };
        let timeout = clock.next_timeout()?;
        if self.last_timeout != Some(timeout) {
            self.stream.set_read_timeout(timeout)?;
            self.last_timeout = Some(timeout);
        }
        Ok(())
    }
}

impl Drop for RefinedTcpStream {
    fn drop(&mut self) {
        if self.close_read {
            self.stream.shutdown(Shutdown::Read).ok();
        }

        if self.close_write {
            self.stream.shutdown(Shutdown::Write).ok();
        }
    }
}

impl Read for RefinedTcpStream {
    fn read(&mut self, buf: &mut [u8]) -> IoResult<usize> {
        self.apply_clock()?;
        match self.stream.read(buf) {
            // A socket read timeout surfaces as EAGAIN.
            Err(e) if e.kind() == ErrorKind::WouldBlock => Err(timed_out()),
            r => r,
        }
    }
}

impl Write for RefinedTcpStream {
    fn write(&mut self, buf: &[u8]) -> IoResult<usize> {
        self.stream.write(buf)
    }

    fn flush(&mut self) -> IoResult<()> {
        self.stream.flush()
    }
}
