//! One connection on the poller: its state, and how the poller drives it
//! (handshake, reads into the codec, writes, deferred failure, closing).

#[allow(clippy::wildcard_imports)] // the poller's own types and imports
use super::*;

/// Where a connection is in its life, as the poller sees it.
pub(super) enum St {
    /// Reading the request head (until `Slot::deadline`).
    Head,
    /// The actor is deciding; `head[used..]` is what the client sent after
    /// the head (pipelined frames). `request` is `None` for plain HTTP.
    Deciding {
        request: Option<Box<Request>>,
        used: usize,
    },
    /// Writing an HTTP answer; then FIN, and the bridge ends with `close`.
    Answering { close: Option<(CloseCode, String)> },
    /// Frames flow both ways.
    Open,
    /// A protocol error is deferred until the actor handled what came before
    /// it, or until `Slot::deadline`.
    Failing,
    /// Reading is over: flush what is queued, then close.
    Closing,
}

/// One connection on the poller.
pub(super) struct Slot {
    /// Shared with `Inner::socket` while open, for direct writes from sends.
    pub(super) stream: Arc<TcpStream>,
    /// `None`: a client over `max_connections`, answered 503.
    pub(super) conn: Option<Arc<Shared>>,
    pub(super) state: St,
    /// The request head while it arrives; empty once open.
    pub(super) head: Vec<u8>,
    /// Bytes taken from the codec (or an HTTP answer) not yet written (the
    /// first advanced past what was).
    pub(super) out: VecDeque<Bytes>,
    /// Readiness seen and not yet used up (mio is edge-triggered).
    pub(super) readable: bool,
    pub(super) writable: bool,
    /// The handshake, answer or deferred-failure deadline.
    pub(super) deadline: Option<Instant>,
    /// The earliest entry this slot has in the timer heap.
    pub(super) timer: Option<Instant>,
    /// The poller round that last drove this slot.
    pub(super) round: u64,
}

/// How driving a slot left it.
pub(super) enum Outcome {
    /// Wait for readiness, a notify or a timer.
    Wait,
    /// Still readable after its turn's reads: drive it again soon.
    Again,
    /// The bridge is done with this connection.
    Finish(Option<(CloseCode, String)>),
    /// The 503 to a client over `max_connections` is done.
    Rejected,
}

impl Slot {
    pub(super) fn drive(&mut self, cx: &mut Cx<'_>) -> Outcome {
        loop {
            let step = match self.state {
                St::Head => self.read_head(cx),
                St::Deciding { .. } => self.decided(cx),
                St::Answering { .. } => return self.answer(cx),
                St::Open | St::Failing | St::Closing => return self.open(cx),
            };
            match step {
                // The state changed: go on in the new one.
                None => {}
                Some(outcome) => return outcome,
            }
        }
    }

    /// Starts writing an HTTP answer, after which the bridge ends with `close`.
    fn respond(&mut self, cx: &Cx<'_>, bytes: Vec<u8>, close: Option<(CloseCode, String)>) {
        let end = self
            .deadline
            .unwrap_or(cx.now)
            .max(cx.now + MIN_ANSWER_TIME);
        self.deadline = Some(end);
        self.head = Vec::new();
        self.out.push_back(Bytes::from(bytes));
        self.state = St::Answering { close };
    }

    /// `begin_shutdown` reached this connection (as the thread bridge's
    /// `interrupt_read`): a head still arriving gets 503.
    fn interrupted(&self) -> bool {
        self.conn.as_ref().is_some_and(|c| c.lock().shutting_down)
    }

    /// Reads the request head; `None` once it is complete (the state changed).
    fn read_head(&mut self, cx: &mut Cx<'_>) -> Option<Outcome> {
        let server = cx.server;
        let settings = &*server.settings;
        let parsed = loop {
            if let Some(parsed) = parse_head(&self.head, settings) {
                break parsed;
            }
            if self.interrupted() || self.deadline.is_some_and(|d| cx.now >= d) {
                break Head::Gone;
            }
            if !self.readable {
                cx.consider(self.deadline);
                return Some(Outcome::Wait);
            }
            match (&*self.stream).read(cx.scratch) {
                Ok(0) => break Head::Gone,
                Ok(n) => self.head.extend_from_slice(&cx.scratch[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.readable = false,
                Err(e) if retry(&e) => {}
                Err(_) => break Head::Gone,
            }
        };
        let Some(conn) = self.conn.clone() else {
            // Over max_connections: 503 to a request, the refusal to garbage.
            match parsed {
                Head::Request(..) | Head::Http(..) => self.respond(cx, unavailable(), None),
                Head::Invalid(bytes) => self.respond(cx, bytes, None),
                Head::Gone => return Some(Outcome::Rejected),
            }
            return None;
        };
        let answer_503 = match parsed {
            Head::Gone => self.interrupted(),
            _ => server.is_shutting_down(),
        };
        if answer_503 {
            self.respond(cx, unavailable(), None);
            return None;
        }
        let (msg, request, used) = match parsed {
            Head::Request(request, used) => {
                // RFC 6455 §10.2: the origin policy is ws-handshake's to apply.
                if let Err(e) = cx.server.origin_policy.check(&request) {
                    self.respond(cx, e.to_bytes(), None);
                    return None;
                }
                let msg = ConnectMsg::Upgrade(request.clone());
                (msg, Some(Box::new(request)), used)
            }
            Head::Http(request, refusal) => (ConnectMsg::Http(request, refusal), None, 0),
            Head::Invalid(bytes) => {
                self.respond(cx, bytes, None);
                return None;
            }
            Head::Gone => return Some(Outcome::Finish(None)),
        };
        let sent = conn.pid.get().is_some_and(|pid| {
            conn.handle
                .send_reserved(*pid, ReservedTag::WsConnect, msg)
                .is_ok()
        });
        if !sent {
            return Some(Outcome::Finish(None));
        }
        // The actor's decision is waited for without a deadline, as on the
        // thread bridge: `on_connect` runs user code.
        self.deadline = None;
        self.state = St::Deciding { request, used };
        None
    }

    /// Acts on the actor's decision once it is there.
    fn decided(&mut self, cx: &mut Cx<'_>) -> Option<Outcome> {
        let Some(conn) = self.conn.clone() else {
            return Some(Outcome::Rejected);
        };
        let decision = {
            let mut g = conn.lock();
            match g.decision.take() {
                Some(d) => d,
                None if g.actor_gone || g.aborted => return Some(Outcome::Finish(None)),
                None => return Some(Outcome::Wait),
            }
        };
        let St::Deciding { request, used } = std::mem::replace(&mut self.state, St::Closing) else {
            return Some(Outcome::Finish(None));
        };
        let (protocol, headers) = match decision {
            Decision::Respond(bytes) => {
                self.respond(cx, bytes, None);
                return None;
            }
            Decision::Upgrade { protocol, headers } => (protocol, headers),
        };
        let Some(request) = request else {
            // An upgrade decided for plain HTTP cannot happen; end quietly.
            return Some(Outcome::Finish(None));
        };
        let response = match upgrade_response(&request, protocol.as_deref(), &headers) {
            Ok(bytes) => bytes,
            Err(e) => {
                // The hook chose a subprotocol the client did not offer, or a bad
                // header: ws-handshake says which, and the client gets its status.
                let close = Some((CloseCode::INTERNAL_ERROR, e.to_string()));
                self.respond(cx, e.to_bytes(), close);
                return None;
            }
        };
        // The 101 goes before anything the codec queued (a close from on_connect).
        let response = Bytes::from(response);
        self.out.push_back(response.clone());
        {
            let mut g = conn.lock();
            g.writing += response.len();
            g.socket = Some(Arc::clone(&self.stream));
            timers::open(&mut g, cx.now, &conn.settings);
        }
        self.state = St::Open;
        let head = std::mem::take(&mut self.head);
        if head.len() > used {
            let fed = feed(&conn, |c| c.handle_bytes(&head[used..]), cx.payloads);
            self.fed(fed, &conn, cx);
        }
        None
    }

    /// Follows what feeding the codec gave.
    fn fed(&mut self, fed: Fed, conn: &Shared, cx: &Cx<'_>) {
        match fed {
            Fed::Open => {}
            Fed::Failing => {
                self.state = St::Failing;
                self.deadline = Some(cx.now + conn.settings.close_timeout);
            }
            Fed::Over => {
                conn.lock().reader_done = true;
                self.state = St::Closing;
            }
        }
    }

    /// Writes the HTTP answer, then FIN.
    fn answer(&mut self, cx: &mut Cx<'_>) -> Outcome {
        let done = match write_out(&self.stream, &mut self.out, &mut self.writable) {
            Ok(_) => self.out.is_empty(),
            Err(_) => true,
        };
        if !done && self.deadline.is_some_and(|d| cx.now < d) {
            cx.consider(self.deadline);
            return Outcome::Wait;
        }
        // FIN after the answer, so the client reads it before the close.
        let _ = self.stream.shutdown(Shutdown::Write);
        match &mut self.state {
            St::Answering { close } if self.conn.is_some() => Outcome::Finish(close.take()),
            _ if self.conn.is_some() => Outcome::Finish(None),
            _ => Outcome::Rejected,
        }
    }

    /// An upgraded connection: timers, writes, reads.
    fn open(&mut self, cx: &mut Cx<'_>) -> Outcome {
        let Some(conn) = self.conn.clone() else {
            return Outcome::Rejected;
        };
        let settings = &*conn.settings;
        let limit = settings.mailbox_limit;
        let mut reads = 0;
        let mut written = 0;
        loop {
            // Under the lock: the end, the deferred failure, timers, and what to write.
            let closing = {
                let mut g = conn.lock();
                g.writing -= written;
                if g.aborted {
                    return Outcome::Finish(Some(g.final_close()));
                }
                if matches!(self.state, St::Failing)
                    && (conn.drained(&g) || self.deadline.is_some_and(|d| cx.now >= d))
                {
                    g.fail();
                    g.reader_done = true;
                    self.state = St::Closing;
                    self.deadline = None;
                }
                if !timers(&mut g, cx.now, settings) {
                    drop(g);
                    conn.abort("pong timeout");
                    return Outcome::Finish(Some(conn.lock().final_close()));
                }
                if !self.writable && !self.out.is_empty() && g.codec.is_closed() {
                    // The peer stopped reading and the close is over (or its
                    // timer ran out): nothing queued can reach it.
                    drop(g);
                    conn.abort("write failed");
                    return Outcome::Finish(Some(conn.lock().final_close()));
                }
                // What a direct write left goes first (already counted).
                self.out.extend(std::mem::take(&mut g.unsent));
                while let Some(b) = g.codec.poll_transmit() {
                    g.writing += b.len();
                    self.out.push_back(b);
                }
                cx.due = next_deadline(&g, settings);
                g.codec.should_close_transport() || g.reader_done
            };
            if matches!(self.state, St::Failing) {
                cx.consider(self.deadline);
            }
            match write_out(&self.stream, &mut self.out, &mut self.writable) {
                Ok(n) => written = n,
                Err(_) => {
                    conn.abort("write failed");
                    return Outcome::Finish(Some(conn.lock().final_close()));
                }
            }
            if self.out.is_empty() && self.out.capacity() > 8 {
                self.out = VecDeque::new();
            }
            if closing && self.out.is_empty() {
                // RFC 6455 §7.1.1: the server closes the TCP connection first.
                let _ = self.stream.shutdown(Shutdown::Both);
                let mut g = conn.lock();
                g.writing -= written;
                return Outcome::Finish(Some(g.final_close()));
            }
            // Flow control: while the actor is behind, stop reading; TCP
            // pushes back. `message_handled` notifies when there is room.
            let may_read = matches!(self.state, St::Open)
                && self.readable
                && conn.in_flight.load(Ordering::Acquire) < limit;
            if !may_read {
                break;
            }
            if reads == READS_PER_TURN {
                if written > 0 {
                    conn.lock().writing -= written;
                }
                return Outcome::Again;
            }
            reads += 1;
            match (&*self.stream).read(cx.scratch) {
                Ok(0) => {
                    conn.abort("peer closed the TCP connection");
                    return Outcome::Finish(Some(conn.lock().final_close()));
                }
                Ok(n) => {
                    // A short read emptied the socket: epoll reports new data.
                    if n < cx.scratch.len() {
                        self.readable = false;
                    }
                    let fed = feed(&conn, |c| c.handle_bytes(&cx.scratch[..n]), cx.payloads);
                    self.fed(fed, &conn, cx);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                }
                Err(e) if retry(&e) => {}
                Err(_) => {
                    conn.abort("connection reset");
                    return Outcome::Finish(Some(conn.lock().final_close()));
                }
            }
            // Loop: flush what the codec queued (pongs, a close) and go on.
        }
        if written > 0 {
            conn.lock().writing -= written;
        }
        Outcome::Wait
    }
}

/// Writes as much of `out` as the socket takes, vectored; the bytes written.
fn write_out(
    stream: &TcpStream,
    out: &mut VecDeque<Bytes>,
    writable: &mut bool,
) -> io::Result<usize> {
    let mut total = 0;
    while !out.is_empty() && *writable {
        match write_queue(stream, out) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => *writable = false,
            Err(e) if retry(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(total)
}
