//! The opening handshake over a raw transport, both sides: ws-handshake decides, this
//! module only reads, writes and keeps the time.

use std::future::Future;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, ToSocketAddrs};
use ws_codec::Connection;
use ws_handshake::{Accepted, ClientRequest, Rejection, Reply, Request};

use crate::{Config, Error, WebSocket};

/// Room reserved per read of a head.
const HEAD_READ: usize = 4096;

/// Accepts a WebSocket on a raw transport: reads the request head (within
/// [`Config::limits`](crate::Config::limits) and
/// [`Config::handshake_timeout`](crate::Config::handshake_timeout)), answers it with the
/// 101 (negotiating permessage-deflate under [`Config::deflate`](crate::Config::deflate)),
/// and returns the connection. An invalid request is answered with ws-handshake's refusal
/// (400, 426, 431, ...) and returned as [`Error::Handshake`].
pub async fn accept<S>(io: S, config: &Config) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    accept_with(io, config, |_| Ok(None)).await
}

/// [`accept`] with a decision on the request: `decide` sees the validated request (path,
/// headers, offered subprotocols, origin) and returns the subprotocol to choose (one the
/// client offered, or `None`), or a [`Rejection`] to answer instead (returned as
/// [`Error::Refused`] with its status).
pub async fn accept_with<S, F>(mut io: S, config: &Config, decide: F) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request) -> Result<Option<String>, Rejection>,
{
    let (conn, leftover) = timed(config, server_handshake(&mut io, config, decide)).await?;
    Ok(WebSocket::from_parts(io, conn, config, &leftover))
}

/// Connects over TCP to `addr` (Nagle off) and runs the client handshake with `request`.
pub async fn connect(
    addr: impl ToSocketAddrs,
    request: ClientRequest,
    config: &Config,
) -> Result<(WebSocket<TcpStream>, Accepted), Error> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    client(stream, request, config).await
}

/// The client handshake over any transport (TCP, TLS, ...): writes `request` (offering
/// permessage-deflate when [`Config::deflate`](crate::Config::deflate) is set), reads and
/// checks the answer, and returns the connection with the server's [`Accepted`] answer.
pub async fn client<S>(
    mut io: S,
    request: ClientRequest,
    config: &Config,
) -> Result<(WebSocket<S>, Accepted), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let request = match config.deflate_offer() {
        Some(offer) => request.deflate(offer),
        None => request,
    };
    let (accepted, leftover) = timed(config, client_handshake(&mut io, &request, config)).await?;
    // RFC 6455 §5.3: a fresh, unpredictable masking key per frame (rand's CSPRNG).
    let conn = Connection::client(config.codec_for(accepted.deflate()), rand::random);
    Ok((WebSocket::from_parts(io, conn, config, &leftover), accepted))
}

async fn timed<T>(
    config: &Config,
    handshake: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    tokio::time::timeout(config.handshake_timeout(), handshake)
        .await
        .unwrap_or(Err(Error::HandshakeTimeout))
}

/// Reads more of a head into `buf`; the end of input is an error.
async fn read_more<S: AsyncRead + Unpin>(io: &mut S, buf: &mut BytesMut) -> Result<(), Error> {
    buf.reserve(HEAD_READ);
    match io.read_buf(buf).await? {
        0 => Err(Error::HandshakeEof),
        _ => Ok(()),
    }
}

/// Writes an answer that ends the connection; gives back `error` (or the write's).
async fn refuse<S: AsyncWrite + Unpin>(io: &mut S, answer: &[u8], error: Error) -> Error {
    if let Err(e) = io.write_all(answer).await {
        return Error::Io(e);
    }
    let _ = io.shutdown().await;
    error
}

async fn server_handshake<S, F>(
    io: &mut S,
    config: &Config,
    decide: F,
) -> Result<(Connection, BytesMut), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request) -> Result<Option<String>, Rejection>,
{
    let mut buf = BytesMut::new();
    let (request, used) = loop {
        read_more(io, &mut buf).await?;
        match ws_handshake::parse_request(&buf, config.limits()) {
            Ok(Some(done)) => break done,
            Ok(None) => {}
            Err(e) => return Err(refuse(io, &e.to_bytes(), Error::Handshake(e.clone())).await),
        }
    };
    let protocol = match decide(&request) {
        Ok(protocol) => protocol,
        Err(rejection) => {
            let bytes = rejection.to_bytes().unwrap_or_default();
            return Err(refuse(io, &bytes, Error::Refused(rejection.status())).await);
        }
    };
    let (reply, codec) = match answer(&request, protocol.as_deref(), config) {
        Ok(answer) => answer,
        Err(e) => {
            // The application chose what the request does not allow (a subprotocol that
            // was not offered): ws-handshake's refusal of it.
            return Err(refuse(io, &e.to_bytes(), Error::Handshake(e.clone())).await);
        }
    };
    io.write_all(&reply).await?;
    let _ = buf.split_to(used);
    Ok((Connection::server(codec), buf))
}

/// The 101 answering `request` with `protocol`, and the codec's configuration for what it
/// agreed (RFC 7692 §5: the first acceptable permessage-deflate offer, under the policy).
pub(crate) fn answer(
    request: &Request,
    protocol: Option<&str>,
    config: &Config,
) -> Result<(Vec<u8>, ws_codec::Config), ws_handshake::Error> {
    let mut accept = request.accept();
    if let Some(p) = protocol {
        accept = accept.protocol(p);
    }
    if let Some(policy) = config.deflate() {
        accept = accept.deflate(policy);
    }
    let codec = config.codec_for(accept.deflate_params());
    Ok((accept.to_bytes()?, codec))
}

async fn client_handshake<S>(
    io: &mut S,
    request: &ClientRequest,
    config: &Config,
) -> Result<(Accepted, BytesMut), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    io.write_all(&request.to_bytes()?).await?;
    io.flush().await?;
    let mut buf = BytesMut::new();
    loop {
        read_more(io, &mut buf).await?;
        match ws_handshake::parse_response(&buf, request, config.limits())? {
            None => {}
            Some((Reply::Accepted(accepted), used)) => {
                let _ = buf.split_to(used);
                return Ok((accepted, buf));
            }
            Some((Reply::Refused(refused), _)) => return Err(Error::Refused(refused.status())),
        }
    }
}
