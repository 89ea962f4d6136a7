//! The connection over its transport: ws-codec's `Connection` driven by `poll_*` calls. The
//! whole `WebSocket` and its two halves are thin shells around this one type.

use std::collections::VecDeque;
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Sleep;
use ws_codec::{CloseCode, Connection, Event, State};

use crate::{Config, Error, Message};

/// Most chunks handed to one vectored write.
const MAX_SLICES: usize = 64;

/// One connection: the transport, the codec, and what waits to be written.
#[derive(Debug)]
pub(crate) struct Core<S> {
    io: S,
    conn: Connection,
    /// Chunks taken from the connection and not yet written; `head` bytes of the first one
    /// are. Each chunk is one or more whole frames, so a write never interleaves frames.
    out: VecDeque<Bytes>,
    head: usize,
    /// Unwritten bytes in `out`.
    out_len: usize,
    high_water: usize,
    read_size: usize,
    /// The close handshake's timer, while the codec runs one.
    timer: Option<Pin<Box<Sleep>>>,
    /// The reader owes output (pongs): written on its next poll without waiting for a flush.
    owe: bool,
    /// An item that is handed out once the output before it is written: the peer's close
    /// (after our answer), a protocol error (after our close).
    held: Option<Result<Message, Error>>,
    /// A protocol error, reported once the messages before it are handed out.
    error: Option<ws_codec::Error>,
    /// The peer ended its side of the transport.
    eof: bool,
    /// We ended our side of the transport.
    shut: bool,
    /// The stream has ended: `poll_next` returns `None`.
    end: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Core<S> {
    /// A connection whose handshake is done; `leftover` is what arrived after the head.
    pub(crate) fn new(io: S, mut conn: Connection, config: &Config, leftover: &[u8]) -> Self {
        let error = if leftover.is_empty() {
            None
        } else {
            conn.handle_bytes(leftover).err()
        };
        Core {
            io,
            conn,
            out: VecDeque::new(),
            head: 0,
            out_len: 0,
            high_water: config.high_water(),
            read_size: config.read_buffer_size(),
            timer: None,
            owe: false,
            held: None,
            error,
            eof: false,
            shut: false,
            end: false,
        }
    }

    pub(crate) fn get_ref(&self) -> &S {
        &self.io
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }

    // ---- the Stream ----

    pub(crate) fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Message, Error>>> {
        loop {
            if let Some(item) = self.held.take() {
                match self.poll_finish(cx) {
                    Poll::Pending => {
                        self.held = Some(item);
                        return Poll::Pending;
                    }
                    // Failing to write our close ends the connection; the item still stands.
                    Poll::Ready(Err(_)) => self.end = true,
                    Poll::Ready(Ok(())) => self.end |= self.shut,
                }
                return Poll::Ready(Some(item));
            }
            if self.end {
                return Poll::Ready(None);
            }
            if self.owe {
                match self.poll_write_out(cx) {
                    Poll::Ready(Ok(())) => self.owe = false,
                    Poll::Ready(Err(e)) => return self.fail_io(e),
                    Poll::Pending => {}
                }
            }
            if let Some(event) = self.conn.poll_event() {
                match event {
                    // The codec queued its answer; it goes out before the close is handed on.
                    Event::Close(_) => {
                        self.held = Some(Ok(event.into()));
                        continue;
                    }
                    // RFC 6455 §5.5.2: the pong is queued; it goes out on the next poll (or
                    // with the next flush), so a reader alone keeps answering.
                    Event::Ping(_) => self.owe = true,
                    _ => {}
                }
                return Poll::Ready(Some(Ok(event.into())));
            }
            if let Some(e) = self.error.take() {
                // RFC 6455 §7.1.7: the answers to the messages before the error were sent
                // (deferred failure); now the close with the error's code, then the end.
                let _ = self.conn.fail();
                self.held = Some(Err(Error::Protocol(e)));
                continue;
            }
            if self.conn.state() != State::Open {
                self.poll_timer(cx);
                if self.conn.should_close_transport() {
                    // The close handshake is over (or timed out): write, end our side.
                    ready!(self.poll_finish(cx)).ok();
                    self.end = true;
                    continue;
                }
            }
            if self.eof {
                self.end = true;
                if self.conn.state() == State::Closed {
                    continue;
                }
                // RFC 6455 §7.1.5: TCP closed with no close frame: 1006.
                return Poll::Ready(Some(Err(Error::AbnormalClosure)));
            }
            match self.poll_read(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return self.fail_io(e),
                Poll::Ready(Ok(0)) => self.eof = true,
                Poll::Ready(Ok(_)) => {
                    if let Err(e) = self.conn.handle_buffered() {
                        self.error = Some(e);
                    }
                }
            }
        }
    }

    fn fail_io(&mut self, e: io::Error) -> Poll<Option<Result<Message, Error>>> {
        self.end = true;
        Poll::Ready(Some(Err(Error::Io(e))))
    }

    /// Reads into the codec's receive buffer, with room for at least a quarter of
    /// `read_size` (the decoder also reserves room for a frame's payload as it arrives).
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let size = self.read_size;
        let buf = self.conn.recv_buffer();
        if buf.capacity() - buf.len() < size / 4 {
            buf.reserve(size);
        }
        tokio_util::io::poll_read_buf(Pin::new(&mut self.io), cx, buf)
    }

    /// Runs the close handshake's timer: the codec decides what its expiry means.
    fn poll_timer(&mut self, cx: &mut Context<'_>) {
        self.conn.handle_timeout(Instant::now());
        let Some(deadline) = self.conn.poll_timeout() else {
            self.timer = None;
            return;
        };
        let deadline = tokio::time::Instant::from_std(deadline);
        let timer = match &mut self.timer {
            Some(t) if t.deadline() == deadline => t,
            slot => slot.insert(Box::pin(tokio::time::sleep_until(deadline))),
        };
        if timer.as_mut().poll(cx).is_ready() {
            self.timer = None;
            self.conn.handle_timeout(Instant::now());
        }
    }

    // ---- the Sink ----

    /// Bytes queued and not yet written.
    pub(crate) fn queued(&self) -> usize {
        self.out_len + self.conn.pending_transmit_bytes()
    }

    /// Ready while fewer than `high_water` bytes wait; else writes until they do.
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.queued() < self.high_water {
            return Poll::Ready(Ok(()));
        }
        match self.poll_write_out(cx) {
            Poll::Ready(r) => Poll::Ready(r.map_err(Error::Io)),
            Poll::Pending if self.queued() < self.high_water => Poll::Ready(Ok(())),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Encodes a message into the queue; nothing is written until a flush (or until
    /// `poll_ready` finds the queue over the high-water mark).
    pub(crate) fn start_send(&mut self, message: Message) -> Result<(), Error> {
        let sent = match message {
            // A long payload a server sends as it is goes out without a copy.
            Message::Text(text) => self.conn.send_text_bytes(text),
            Message::Binary(data) => self.conn.send_binary_bytes(data),
            Message::Ping(data) => self.conn.ping(&data),
            Message::Pong(data) => self.conn.pong(&data),
            Message::Close(close) => {
                let (code, reason) = close
                    .as_ref()
                    .map_or((CloseCode::NORMAL, ""), |c| (c.code, c.reason.as_str()));
                let sent = self.conn.close(code, reason);
                // The codec's close timer starts at its next look at the clock.
                self.conn.handle_timeout(Instant::now());
                sent
            }
        };
        sent.map_err(Error::Send)
    }

    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        ready!(self.poll_write_out(cx))?;
        Pin::new(&mut self.io).poll_flush(cx).map_err(Error::Io)
    }

    /// Sends a close (1000) unless one was sent, writes everything, and ends our side of
    /// the transport when the codec says so (a server once both closes were exchanged).
    /// The peer's answer is read by the stream, which ends after it.
    pub(crate) fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if matches!(self.conn.state(), State::Open | State::Failing) {
            let _ = self.conn.close(CloseCode::NORMAL, "");
            self.conn.handle_timeout(Instant::now());
        }
        self.poll_finish(cx).map_err(Error::Io)
    }

    // ---- writing ----

    /// Writes everything queued, flushes the transport and, when the codec says the
    /// connection is over, shuts down our side of it.
    fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_write_out(cx))?;
        ready!(Pin::new(&mut self.io).poll_flush(cx))?;
        if self.conn.should_close_transport() && !self.shut {
            // RFC 6455 §7.1.1: the server closes the TCP connection first.
            ready!(Pin::new(&mut self.io).poll_shutdown(cx))?;
            self.shut = true;
        }
        Poll::Ready(Ok(()))
    }

    /// Writes until nothing is queued (`Ready(Ok)`) or the transport would block.
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            while let Some(chunk) = self.conn.poll_transmit() {
                self.out_len += chunk.len();
                self.out.push_back(chunk);
            }
            if self.out.is_empty() {
                return Poll::Ready(Ok(()));
            }
            let n = ready!(self.poll_write_some(cx))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.advance(n);
        }
    }

    /// One write: every queued chunk at once when the transport takes vectors.
    fn poll_write_some(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let io = Pin::new(&mut self.io);
        if self.out.len() == 1 || !io.is_write_vectored() {
            return io.poll_write(cx, &self.out[0][self.head..]);
        }
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let mut n = 0;
        for (slot, chunk) in slices.iter_mut().zip(&self.out) {
            let skip = if n == 0 { self.head } else { 0 };
            *slot = IoSlice::new(&chunk[skip..]);
            n += 1;
        }
        io.poll_write_vectored(cx, &slices[..n])
    }

    fn advance(&mut self, mut n: usize) {
        self.out_len -= n;
        while n > 0 {
            let left = self.out[0].len() - self.head;
            if n < left {
                self.head += n;
                return;
            }
            n -= left;
            self.head = 0;
            self.out.pop_front();
        }
    }
}
