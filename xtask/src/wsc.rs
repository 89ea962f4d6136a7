//! A minimal blocking WebSocket client for the fault and soak runs. The
//! upgrade and the server's frames go through the project's own client sides
//! (ws-handshake, ws-codec's `Decoder` in client role); frames out are written
//! by hand, so that they can misbehave on purpose (reserved opcodes, bad
//! UTF-8, half a frame).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::BytesMut;
use ws_codec::{Decoder, Role};
use ws_handshake::{parse_response, ClientRequest, Limits, Reply};

/// The upgrade request every connection sends.
pub(crate) const UPGRADE: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

pub(crate) const TEXT: u8 = 0x1;
pub(crate) const BINARY: u8 = 0x2;
pub(crate) const CLOSE: u8 = 0x8;
pub(crate) const PING: u8 = 0x9;
pub(crate) const PONG: u8 = 0xA;

/// One upgraded connection.
pub(crate) struct Ws {
    pub(crate) tcp: TcpStream,
    buf: BytesMut,
    decoder: Decoder,
}

/// Largest server frame read (the echo example's 64 MiB limit).
const MAX_FRAME: usize = 64 << 20;

/// A masked, final frame from the client.
pub(crate) fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut out = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// The first whole server frame in `bytes`: (opcode, payload).
pub(crate) fn first_frame(bytes: &[u8]) -> Option<(u8, Vec<u8>)> {
    let mut buf = BytesMut::from(bytes);
    let frame = Decoder::new(Role::Client)
        .with_max_frame_size(MAX_FRAME)
        .decode(&mut buf)
        .ok()??;
    Some((frame.opcode() as u8, frame.payload().to_vec()))
}

impl Ws {
    /// Connects, upgrades (ws-handshake checks the 101), and keeps what came
    /// after it. `timeout` bounds every read and write.
    pub(crate) fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<Ws> {
        let mut tcp = TcpStream::connect_timeout(&addr, timeout)?;
        tcp.set_read_timeout(Some(timeout))?;
        tcp.set_write_timeout(Some(timeout))?;
        tcp.set_nodelay(true)?;
        let request = ClientRequest::new("localhost", "/");
        tcp.write_all(&request.to_bytes().map_err(io::Error::other)?)?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        let used = loop {
            match parse_response(&buf, &request, &Limits::DEFAULT) {
                Ok(Some((Reply::Accepted(_), used))) => break used,
                Ok(Some((Reply::Refused(_), _))) => return Err(io::Error::other("not upgraded")),
                Ok(None) => {}
                Err(e) => return Err(io::Error::other(e)),
            }
            let n = tcp.read(&mut chunk)?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        Ok(Ws {
            tcp,
            buf: BytesMut::from(&buf[used..]),
            decoder: Decoder::new(Role::Client).with_max_frame_size(MAX_FRAME),
        })
    }

    /// The next whole frame already read: (opcode, payload); a frame a client
    /// must not accept is an error.
    fn frame(&mut self) -> io::Result<Option<(u8, Vec<u8>)>> {
        let frame = self
            .decoder
            .decode(&mut self.buf)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        Ok(frame.map(|f| (f.opcode() as u8, f.payload().to_vec())))
    }

    pub(crate) fn send(&mut self, opcode: u8, payload: &[u8]) -> io::Result<()> {
        self.tcp.write_all(&frame(opcode, payload))
    }

    /// The next data or close frame; pings are answered on the way.
    /// `Ok(None)`: the server closed the TCP connection.
    pub(crate) fn next(&mut self) -> io::Result<Option<(u8, Vec<u8>)>> {
        self.next_reading(16 * 1024, Duration::ZERO)
    }

    /// Non-blocking: answers the pings that have arrived; false once the
    /// server has closed the connection (EOF, a close frame or an error).
    pub(crate) fn keep_alive(&mut self) -> bool {
        let mut chunk = [0u8; 1024];
        loop {
            match self.tcp.read(&mut chunk) {
                Ok(0) => return false,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        loop {
            match self.frame() {
                Ok(None) => return true,
                Ok(Some((PING, payload))) if self.send(PONG, &payload).is_err() => return false,
                Ok(Some((CLOSE, _))) | Err(_) => return false,
                Ok(Some(_)) => {}
            }
        }
    }

    /// The next data or close frame like [`next`](Self::next), read at most
    /// `chunk` bytes at a time with `pause` between reads: a slow reader.
    pub(crate) fn next_slowly(
        &mut self,
        chunk: usize,
        pause: Duration,
    ) -> io::Result<Option<(u8, Vec<u8>)>> {
        self.next_reading(chunk, pause)
    }

    fn next_reading(&mut self, chunk: usize, pause: Duration) -> io::Result<Option<(u8, Vec<u8>)>> {
        let mut bytes = vec![0u8; chunk];
        loop {
            while let Some((op, payload)) = self.frame()? {
                match op {
                    PING => self.send(PONG, &payload)?,
                    PONG => {}
                    _ => return Ok(Some((op, payload))),
                }
            }
            if !pause.is_zero() {
                std::thread::sleep(pause);
            }
            let n = self.tcp.read(&mut bytes)?;
            if n == 0 {
                return Ok(None);
            }
            self.buf.extend_from_slice(&bytes[..n]);
        }
    }

    /// The close handshake: our close frame, the server's, then its FIN.
    pub(crate) fn close(mut self) -> io::Result<()> {
        self.send(CLOSE, &1000u16.to_be_bytes())?;
        let mut chunk = [0u8; 1024];
        while self.tcp.read(&mut chunk)? > 0 {}
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_written_here_decode_at_a_server_at_every_length_form() {
        for len in [0, 5, 125, 126, 65535, 65536] {
            let payload = vec![7u8; len];
            let mut wire = BytesMut::from(&frame(BINARY, &payload)[..]);
            let got = Decoder::new(Role::Server)
                .with_max_frame_size(MAX_FRAME)
                .decode(&mut wire)
                .unwrap()
                .unwrap();
            assert_eq!(
                (got.opcode() as u8, &got.payload()[..]),
                (BINARY, &payload[..])
            );
            assert!(wire.is_empty());
        }
    }

    #[test]
    fn first_frame_reads_a_whole_server_frame_or_nothing() {
        let close = [0x88, 0x02, 0x03, 0xe8];
        assert_eq!(first_frame(&close), Some((CLOSE, vec![0x03, 0xe8])));
        assert_eq!(first_frame(&close[..3]), None);
    }
}
