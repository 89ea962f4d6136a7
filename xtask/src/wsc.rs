//! A minimal blocking WebSocket client for the fault and soak runs: the
//! upgrade written by hand, masked frames out, the server's (unmasked,
//! unfragmented) frames parsed in. Enough to drive a server and to misbehave
//! on purpose; the real client sides are ws-codec's and ws-handshake's.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

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
    buf: Vec<u8>,
}

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

/// A server frame at the start of `buf`: (opcode, payload, bytes used).
pub(crate) fn parse(buf: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
    if buf.len() < 2 {
        return None;
    }
    let opcode = buf[0] & 0x0f;
    let (len, at) = match buf[1] & 0x7f {
        126 if buf.len() >= 4 => (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4),
        127 if buf.len() >= 10 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[2..10]);
            (u64::from_be_bytes(b) as usize, 10)
        }
        126 | 127 => return None,
        n => (n as usize, 2),
    };
    if buf.len() < at + len {
        return None;
    }
    Some((opcode, buf[at..at + len].to_vec(), at + len))
}

/// Where the response head ends in `buf`, if it has arrived.
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

impl Ws {
    /// Connects, upgrades, and keeps what came after the 101. `timeout`
    /// bounds every read and write.
    pub(crate) fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<Ws> {
        let mut tcp = TcpStream::connect_timeout(&addr, timeout)?;
        tcp.set_read_timeout(Some(timeout))?;
        tcp.set_write_timeout(Some(timeout))?;
        tcp.set_nodelay(true)?;
        tcp.write_all(UPGRADE)?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        let end = loop {
            if let Some(end) = head_end(&buf) {
                break end;
            }
            let n = tcp.read(&mut chunk)?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        if !buf.starts_with(b"HTTP/1.1 101") {
            return Err(io::Error::other("not upgraded"));
        }
        buf.drain(..end);
        Ok(Ws { tcp, buf })
    }

    pub(crate) fn send(&mut self, opcode: u8, payload: &[u8]) -> io::Result<()> {
        self.tcp.write_all(&frame(opcode, payload))
    }

    /// The next data or close frame; pings are answered on the way.
    /// `Ok(None)`: the server closed the TCP connection.
    pub(crate) fn next(&mut self) -> io::Result<Option<(u8, Vec<u8>)>> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            while let Some((op, payload, used)) = parse(&self.buf) {
                self.buf.drain(..used);
                match op {
                    PING => self.send(PONG, &payload)?,
                    PONG => {}
                    _ => return Ok(Some((op, payload))),
                }
            }
            let n = self.tcp.read(&mut chunk)?;
            if n == 0 {
                return Ok(None);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
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
        while let Some((op, payload, used)) = parse(&self.buf) {
            self.buf.drain(..used);
            match op {
                PING if self.send(PONG, &payload).is_err() => return false,
                CLOSE => return false,
                _ => {}
            }
        }
        true
    }

    /// The next data or close frame like [`next`](Self::next), read at most
    /// `chunk` bytes at a time with `pause` between reads: a slow reader.
    pub(crate) fn next_slowly(
        &mut self,
        chunk: usize,
        pause: Duration,
    ) -> io::Result<Option<(u8, Vec<u8>)>> {
        let mut bytes = vec![0u8; chunk];
        loop {
            while let Some((op, payload, used)) = parse(&self.buf) {
                self.buf.drain(..used);
                match op {
                    PING => self.send(PONG, &payload)?,
                    PONG => {}
                    _ => return Ok(Some((op, payload))),
                }
            }
            std::thread::sleep(pause);
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
    fn frames_parse_back_at_every_length_form() {
        for len in [0, 5, 125, 126, 65535, 65536] {
            let payload = vec![7u8; len];
            let mut f = frame(BINARY, &payload);
            // Unmask in place to make it a server frame.
            let at = f.len() - len - 4;
            let mask: [u8; 4] = f[at..at + 4].try_into().unwrap();
            let mut server = vec![f[0], f[1] & 0x7f];
            server.extend_from_slice(&f[2..at]);
            server.extend(f[at + 4..].iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
            assert_eq!(parse(&server), Some((BINARY, payload, server.len())));
            assert_eq!(parse(&server[..server.len() - 1]), None);
            f.clear();
        }
    }
}
