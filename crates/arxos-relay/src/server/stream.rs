//! A TCP stream, optionally wrapped in TLS, or an in-process stream, as one type.

use tokio::io::DuplexStream;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_util::either::Either;

/// Plain TCP, TLS over TCP, or an in-process pipe (a hosting app's own replica, tests).
pub(crate) type MaybeTls = Either<Either<TcpStream, Box<TlsStream<TcpStream>>>, DuplexStream>;
