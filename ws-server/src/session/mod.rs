//! One connection's whole life, sans-IO: in go bytes read, the end of the
//! input, the time and the actor's decision; out come bytes to write, messages
//! for the actor, the next deadline and, once, how the transport ends.
//!
//! Every lifecycle rule of the server lives here once: the request head and
//! its deadline, 503 during shutdown or over `max_connections`, the origin
//! policy, the hook's decision, the 101 with pipelined frames behind it, the
//! heartbeat, the idle timeout, the deferred protocol failure (RFC 6455
//! §7.1.7), backpressure, and the server closing TCP first (§7.1.1). Bridges
//! only read, write, wait and wake (`crate::bridge`); ws-codec and
//! ws-handshake decide every protocol rule. Tested with a fake clock below.

use std::collections::VecDeque;
use std::net::Shutdown;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ws_codec::{CloseCode, Event, Utf8Bytes};

use crate::config::Settings;
use crate::error::Error;
use crate::metrics::Kind;

mod flow;
mod head;
mod live;
mod output;
mod recv;
mod sends;
#[cfg(test)]
mod tests;

pub(crate) use flow::Flow;
use head::{codec_deflate, parse_head, upgrade_response, Head};
pub(crate) use head::{unavailable, ConnectMsg, Decision};
use live::Live;

/// Least time an HTTP answer gets to be written.
const MIN_ANSWER_TIME: Duration = Duration::from_millis(100);

/// A message for the connection's actor.
#[derive(Debug)]
pub(crate) enum ToActor {
    /// The request: `on_connect` or `on_http` decides (boxed: rare and large).
    Connect(Box<ConnectMsg>),
    /// A text message.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
}

/// How the transport ends, given once by [`Session::poll_end`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct End {
    /// `Write` after an HTTP answer (so the client reads it before the
    /// close), `Both` otherwise.
    pub(crate) how: Shutdown,
    /// The code and reason for `on_close`: `None` if never upgraded.
    pub(crate) close: Option<(CloseCode, String)>,
}

/// Where the connection is in its life; each stage carries its own data.
#[derive(Debug)]
enum Stage {
    /// Reading the request head until `deadline`. Not `admitted`: a client
    /// over `max_connections`, answered 503 without an actor.
    Head {
        buf: Vec<u8>,
        deadline: Instant,
        admitted: bool,
    },
    /// The actor is deciding (no deadline: `on_connect` is user code).
    /// `request` is `None` for plain HTTP; `pipelined` is what the client sent
    /// after the head; `shutdown`: close with 1001 right after the upgrade.
    Deciding {
        request: Option<Box<ws_handshake::Request>>,
        pipelined: Vec<u8>,
        deadline: Instant,
        shutdown: bool,
    },
    /// Writing an HTTP answer until `deadline`; then FIN, and `close` for `on_close`.
    Answering {
        deadline: Instant,
        close: Option<(CloseCode, String)>,
    },
    /// Upgraded: frames flow both ways.
    Open(Live),
    /// A protocol error waits until the actor has handled what came before
    /// it, or until `deadline` (RFC 6455 §7.1.7). Nothing more is read.
    Failing { live: Live, deadline: Instant },
    /// Reading is over: flush what is queued, then close TCP.
    Closing,
    /// Over: the bridge releases the transport (`close` for `on_close`).
    Done { close: Option<(CloseCode, String)> },
    /// [`Session::poll_end`] gave the end; nothing happens any more.
    Ended,
}

/// One connection, from the first byte of its request head to its end.
///
/// `repr(C)`: the fields every message reads or writes first (and next to
/// the lock in front of it, see `Link`), the codec's large state last.
#[repr(C)]
pub(crate) struct Session {
    settings: Arc<Settings>,
    stage: Stage,
    /// Bytes taken from the codec and not yet written (in `out`, or handed
    /// to a blocking writer by [`take_transmit`](Self::take_transmit)).
    unsent: usize,
    /// Frames among `unsent` (each an allocation: `output::FRAME_OVERHEAD`).
    unsent_frames: usize,
    /// The transport took no more (a write would block) since the last progress.
    stalled: bool,
    /// The room a large frame's read took (0 after a small read): the next
    /// read goes straight into a recycled buffer with as much (`recv.rs`).
    large_room: u32,
    /// Bytes to write, in order: an HTTP answer or the 101, then frames the
    /// codec gave that a write did not take.
    out: VecDeque<Bytes>,
    /// The first close frame sent or received: the code that ended the
    /// connection (boxed: set once, checked per send).
    first_close: Option<Box<(CloseCode, String)>>,
    codec: ws_codec::Connection,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("stage", &self.stage)
            .field("unsent", &self.unsent)
            .finish_non_exhaustive()
    }
}

fn map_send(e: ws_codec::SendError) -> Error {
    match e {
        ws_codec::SendError::Closed => Error::Closed,
        other => Error::Send(other),
    }
}

impl Session {
    /// A connection whose head starts arriving `now`. Not `admitted`: over
    /// `max_connections`, it will be answered 503 (or refused) and end.
    pub(crate) fn new(settings: Arc<Settings>, now: Instant, admitted: bool) -> Session {
        let codec = ws_codec::Connection::server(
            ws_codec::Config::default()
                .with_max_frame_size(settings.max_frame_size)
                .with_max_message_size(settings.max_message_size)
                .with_max_fragments(settings.max_fragments)
                .with_close_timeout(settings.close_timeout)
                // RFC 6455 §7.1.7 leaves room to answer what came before a
                // protocol error: the session delivers those messages, waits
                // for the actor to handle them, then fails the connection.
                .with_deferred_failure(true),
        );
        let deadline = now + settings.handshake_timeout;
        Session {
            settings,
            codec,
            stage: Stage::Head {
                buf: Vec::new(),
                deadline,
                admitted,
            },
            out: VecDeque::new(),
            unsent: 0,
            unsent_frames: 0,
            first_close: None,
            stalled: false,
            large_room: 0,
        }
    }

    // ---- what the bridge asks ----

    /// Whether the bridge should read now: the head, or frames while the
    /// actor has room (flow control: while it is `mailbox_limit` messages or
    /// `mailbox_bytes` of memory behind, reading stops and TCP pushes back on the client) and the
    /// outbound queue has room (`high_water`, and the pongs' cap while the
    /// transport takes nothing: a peer that does not read is not read).
    pub(crate) fn wants_read(&self, flow: &Flow) -> bool {
        match self.stage {
            Stage::Head { .. } => true,
            Stage::Open(_) => {
                flow.has_room(self.settings.mailbox_limit, self.settings.mailbox_bytes)
                    && self.output_has_room()
            }
            _ => false,
        }
    }

    /// The actor is deciding on the request: nothing to write or read yet.
    pub(crate) fn is_deciding(&self) -> bool {
        matches!(self.stage, Stage::Deciding { .. })
    }

    /// Upgraded (frames may flow): the 101 is queued or written.
    pub(crate) fn is_upgraded(&self) -> bool {
        matches!(
            self.stage,
            Stage::Open(_) | Stage::Failing { .. } | Stage::Closing
        )
    }

    /// Reading frames (not yet failing, closing or over): a reader blocked
    /// by flow control waits; otherwise it is done.
    pub(crate) fn reads_frames(&self) -> bool {
        matches!(self.stage, Stage::Open(_))
    }

    /// The next instant [`advance`](Self::advance) has something to do.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let mut next = None;
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n: Instant| n.min(t)));
            }
        };
        match &self.stage {
            Stage::Head { deadline, .. } | Stage::Answering { deadline, .. } => {
                consider(Some(*deadline));
            }
            Stage::Open(live) => self.live_deadlines(live, &mut consider),
            Stage::Failing { live, deadline } => {
                consider(Some(*deadline));
                self.live_deadlines(live, &mut consider);
            }
            _ => {}
        }
        if self.is_upgraded() {
            consider(self.codec.poll_timeout());
        }
        next
    }

    /// How the transport ends, once: after an HTTP answer is written (or its
    /// time is up), once the close handshake is over and everything queued is
    /// written (the server closes TCP first, RFC 6455 §7.1.1), or at once
    /// after an abort.
    pub(crate) fn poll_end(&mut self, now: Instant) -> Option<End> {
        let flushed = self.out.is_empty()
            && self.unsent == 0
            && (!self.is_upgraded() || self.codec.pending_transmit_bytes() == 0);
        let end = match &mut self.stage {
            Stage::Answering { deadline, close } if flushed || now >= *deadline => End {
                how: Shutdown::Write,
                close: close.take(),
            },
            Stage::Closing if flushed => End {
                how: Shutdown::Both,
                close: Some(self.final_close(None)),
            },
            Stage::Open(_) | Stage::Failing { .. }
                if flushed && self.codec.should_close_transport() =>
            {
                End {
                    how: Shutdown::Both,
                    close: Some(self.final_close(None)),
                }
            }
            Stage::Done { close } => End {
                how: Shutdown::Both,
                close: close.take(),
            },
            _ => return None,
        };
        self.stage = Stage::Ended;
        self.out = VecDeque::new();
        Some(end)
    }

    // ---- inputs from the bridge ----

    /// Bytes read from the transport. Messages for the actor go to `out`,
    /// counted in `flow` from now on (so a deferred failure waits for them
    /// even before the bridge has delivered them).
    pub(crate) fn handle_read(
        &mut self,
        data: &[u8],
        now: Instant,
        flow: &Flow,
        out: &mut Vec<ToActor>,
    ) {
        self.settings.counters.bytes_received(data.len());
        match &mut self.stage {
            Stage::Head { buf, .. } => {
                buf.extend_from_slice(data);
                self.parse_head(now, out);
            }
            Stage::Open(_) => {
                let result = self.codec.handle_bytes(data);
                self.after_input(result, now);
                self.pull(now, flow, out);
            }
            // Over TLS one read can hold the head and, in records of their own,
            // frames behind it (handed over one record at a time): they join
            // what was pipelined behind the head. Bounded by that one read.
            Stage::Deciding { pipelined, .. } => pipelined.extend_from_slice(data),
            // Nothing is read in the other stages.
            _ => {}
        }
    }

    /// [`handle_read`](Self::handle_read) with an owned buffer: the codec
    /// adopts it as its receive buffer when it holds nothing (no copy).
    pub(crate) fn handle_read_buf(
        &mut self,
        buf: BytesMut,
        now: Instant,
        flow: &Flow,
        out: &mut Vec<ToActor>,
    ) {
        if matches!(self.stage, Stage::Open(_)) {
            self.settings.counters.bytes_received(buf.len());
            let result = self.codec.handle_buf(buf);
            self.after_input(result, now);
            self.pull(now, flow, out);
        } else {
            self.handle_read(&buf, now, flow, out);
        }
    }

    /// The input ended (`why`: the peer closed TCP, a read failed). An
    /// upgraded connection ends without a close handshake (1006 unless a
    /// close frame was already exchanged); a head that stops arriving ends
    /// without an answer; an answer being written is still written.
    pub(crate) fn handle_eof(&mut self, why: &'static str) {
        match self.stage {
            Stage::Head { .. } | Stage::Open(_) | Stage::Failing { .. } => self.abort(why),
            _ => {}
        }
    }

    /// Runs what is due at `now`: the head deadline, the heartbeat, the idle
    /// timeout, the codec's close timer, the deferred failure once `flow`
    /// has drained; messages the codec holds go to `out`.
    pub(crate) fn advance(&mut self, now: Instant, flow: &Flow, out: &mut Vec<ToActor>) {
        if self.is_upgraded() {
            self.codec.handle_timeout(now);
        }
        self.pull(now, flow, out);
        match &mut self.stage {
            Stage::Head { deadline, .. } if now >= *deadline => {
                self.stage = Stage::Done { close: None };
            }
            Stage::Failing { deadline, .. } => {
                // The actor says when it has handled every message (those
                // in `out` are counted though not yet in its mailbox).
                let drained = flow.drain_wanted();
                if drained || now >= *deadline {
                    self.fail(now);
                } else {
                    self.heartbeat(now);
                }
            }
            Stage::Open(_) => self.heartbeat(now),
            _ => {}
        }
        if self.stalled && self.has_output() && self.codec.is_closed() {
            // The peer stopped reading and the close is over (or its timer
            // ran out): nothing queued can reach it.
            self.abort("write failed");
        }
    }

    /// The server failed this connection (bridge code panicked): torn down
    /// without a close handshake, reported to `on_close` as 1011 if upgraded.
    pub(crate) fn internal_error(&mut self) {
        if self.is_upgraded() {
            self.note_close(CloseCode::INTERNAL_ERROR, "internal error");
        }
        self.abort("internal error");
    }

    /// Tears the connection down without a close handshake.
    pub(crate) fn abort(&mut self, why: &'static str) {
        let close = match &mut self.stage {
            Stage::Open(_) | Stage::Failing { .. } | Stage::Closing => {
                Some(self.final_close(Some(why)))
            }
            Stage::Answering { close, .. } => close.take(),
            Stage::Done { .. } | Stage::Ended => return,
            Stage::Head { .. } | Stage::Deciding { .. } => None,
        };
        self.stage = Stage::Done { close };
    }

    // ---- inputs from the server and the actor ----

    /// The server is shutting down: a head still arriving gets 503, an open
    /// connection closes with 1001, one being decided closes with 1001 right
    /// after its upgrade. True if a read blocked on the head should be
    /// interrupted (the 503 is ready to write).
    pub(crate) fn begin_shutdown(&mut self, now: Instant) -> bool {
        match &mut self.stage {
            Stage::Head { deadline, .. } => {
                let deadline = *deadline;
                self.reject(unavailable(), None, deadline, now);
                true
            }
            Stage::Deciding { shutdown, .. } => {
                *shutdown = true;
                false
            }
            Stage::Open(_) | Stage::Failing { .. } => {
                if self.first_close.is_none() {
                    let _ = self.start_close(CloseCode::GOING_AWAY, "server shutting down", now);
                }
                false
            }
            _ => false,
        }
    }

    /// The actor decided about the request: an answer, or the upgrade (the
    /// 101 goes before any frame the hook queued, then the frames the client
    /// pipelined behind its head are read).
    pub(crate) fn decide(&mut self, decision: Decision, now: Instant) {
        let (request, pipelined, deadline, shutdown) =
            match std::mem::replace(&mut self.stage, Stage::Ended) {
                Stage::Deciding {
                    request,
                    pipelined,
                    deadline,
                    shutdown,
                } => (request, pipelined, deadline, shutdown),
                // Not deciding (aborted meanwhile): nothing to act on.
                other => {
                    self.stage = other;
                    return;
                }
            };
        let (protocol, headers) = match decision {
            // A hook's refusal of an upgrade (not its answer to plain HTTP).
            Decision::Respond(bytes) if request.is_some() => {
                return self.reject(bytes, None, deadline, now)
            }
            Decision::Respond(bytes) => return self.answer(bytes, None, deadline, now),
            Decision::Upgrade { protocol, headers } => (protocol, headers),
        };
        let Some(request) = request else {
            // An upgrade decided for plain HTTP: not possible; end quietly.
            self.stage = Stage::Done { close: None };
            return;
        };
        let deflate = self.settings.deflate.as_ref();
        let response = match upgrade_response(&request, protocol.as_deref(), &headers, deflate) {
            Ok((bytes, agreed)) => {
                // Nothing was received yet: the codec takes the extension.
                self.codec.set_deflate(agreed.map(codec_deflate));
                bytes
            }
            Err(e) => {
                // The hook chose a subprotocol the client did not offer, or a
                // bad header: ws-handshake says which, and the client gets its status.
                let close = Some((CloseCode::INTERNAL_ERROR, e.to_string()));
                return self.reject(e.to_bytes(), close, deadline, now);
            }
        };
        self.out.push_back(Bytes::from(response));
        self.stage = Stage::Open(Live::new(now, self.settings.ping_interval));
        if !pipelined.is_empty() {
            // Its messages wait in the codec for the bridge's next `advance`.
            let result = self.codec.handle_bytes(&pipelined);
            self.after_input(result, now);
        }
        if shutdown && self.first_close.is_none() {
            let _ = self.start_close(CloseCode::GOING_AWAY, "server shutting down", now);
        }
    }

    /// The actor is gone (or a message could not reach it): a decision will
    /// never come.
    pub(crate) fn actor_gone(&mut self) {
        if let Stage::Deciding { .. } = self.stage {
            self.stage = Stage::Done { close: None };
        }
    }

    // ---- the rules ----

    fn start_close(&mut self, code: CloseCode, reason: &str, now: Instant) -> Result<(), Error> {
        if self.codec.state() == ws_codec::State::Failing {
            self.fail(now);
            return Ok(());
        }
        self.codec.close(code, reason).map_err(map_send)?;
        // The close timer starts now, not at the bridge's next look.
        self.codec.handle_timeout(now);
        self.note_close(code, reason);
        Ok(())
    }

    /// Ends a deferred protocol failure: the close frame with the error's
    /// code goes out after everything queued so far; nothing more is read.
    fn fail(&mut self, now: Instant) {
        if self.codec.fail().is_ok() {
            self.codec.handle_timeout(now);
            if let Some(e) = self.codec.error() {
                let (code, reason) = (e.close_code(), e.to_string());
                self.note_close(code, &reason);
            }
        }
        if let Stage::Failing { .. } = self.stage {
            self.stage = Stage::Closing;
        }
    }

    fn note_close(&mut self, code: CloseCode, reason: &str) {
        if self.first_close.is_none() {
            self.first_close = Some(Box::new((code, reason.to_owned())));
        }
    }

    /// The code `on_close` reports: the first close frame sent or received,
    /// else 1006 with why the transport ended.
    fn final_close(&self, why: Option<&'static str>) -> (CloseCode, String) {
        match self.first_close.as_deref() {
            Some((code, reason)) => (*code, reason.clone()),
            None => (CloseCode::ABNORMAL, why.unwrap_or_default().to_owned()),
        }
    }

    /// Starts writing an HTTP answer; the deadline is the handshake's, but
    /// never less than [`MIN_ANSWER_TIME`] from now.
    fn answer(
        &mut self,
        bytes: Vec<u8>,
        close: Option<(CloseCode, String)>,
        deadline: Instant,
        now: Instant,
    ) {
        self.out.clear();
        self.out.push_back(Bytes::from(bytes));
        self.stage = Stage::Answering {
            deadline: deadline.max(now + MIN_ANSWER_TIME),
            close,
        };
    }

    /// [`answer`](Self::answer) refusing a handshake: counted by its status.
    fn reject(
        &mut self,
        bytes: Vec<u8>,
        close: Option<(CloseCode, String)>,
        deadline: Instant,
        now: Instant,
    ) {
        self.settings.counters.rejected(&bytes);
        self.answer(bytes, close, deadline, now);
    }

    fn parse_head(&mut self, now: Instant, out: &mut Vec<ToActor>) {
        let Stage::Head {
            buf,
            deadline,
            admitted,
        } = &mut self.stage
        else {
            return;
        };
        let Some(parsed) = parse_head(buf, &self.settings) else {
            return;
        };
        let (deadline, admitted) = (*deadline, *admitted);
        let mut buf = std::mem::take(buf);
        if !admitted {
            // Over max_connections: 503 to a request, the refusal to garbage.
            return match parsed {
                Head::Request(..) => self.reject(unavailable(), None, deadline, now),
                Head::Http(..) => self.answer(unavailable(), None, deadline, now),
                Head::Invalid(bytes) => self.reject(bytes, None, deadline, now),
            };
        }
        let (msg, request, pipelined) = match parsed {
            Head::Request(request, used) => {
                // RFC 6455 §10.2: the origin policy is ws-handshake's to apply.
                if let Err(e) = self.settings.origin_policy.check(&request) {
                    tracing::debug!(error = %e, "origin refused");
                    return self.reject(e.to_bytes(), None, deadline, now);
                }
                let pipelined = buf.split_off(used);
                let msg = ConnectMsg::Upgrade(request.clone());
                (msg, Some(Box::new(request)), pipelined)
            }
            Head::Http(request, refusal) => (ConnectMsg::Http(request, refusal), None, Vec::new()),
            Head::Invalid(bytes) => return self.reject(bytes, None, deadline, now),
        };
        out.push(ToActor::Connect(Box::new(msg)));
        self.stage = Stage::Deciding {
            request,
            pipelined,
            deadline,
            shutdown: false,
        };
    }

    /// Follows what feeding the codec gave: keep reading, defer a failure
    /// (RFC 6455 §7.1.7), or stop reading (an error's close is queued, or the
    /// close handshake is over).
    fn after_input(&mut self, result: Result<(), ws_codec::Error>, now: Instant) {
        // An idle connection keeps no receive buffer: only partial frames stay.
        let recv = self.codec.recv_buffer();
        if recv.is_empty() && recv.capacity() > 0 {
            *recv = BytesMut::new();
        }
        match result {
            Err(e) if self.codec.state() == ws_codec::State::Failing => {
                tracing::debug!(error = %e, code = e.close_code().0, "protocol violation");
                if let Stage::Open(live) = std::mem::replace(&mut self.stage, Stage::Closing) {
                    self.stage = Stage::Failing {
                        live,
                        deadline: now + self.settings.close_timeout,
                    };
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, code = e.close_code().0, "protocol violation");
                // ws-codec queued the close frame with this error's code.
                self.note_close(e.close_code(), &e.to_string());
                self.stage = Stage::Closing;
            }
            Ok(()) if self.codec.is_closed() => self.stage = Stage::Closing,
            Ok(()) => {}
        }
    }

    /// Takes the codec's events: messages for the actor, pongs for the
    /// heartbeat, the peer's close frame (pings are answered by ws-codec).
    fn pull(&mut self, now: Instant, flow: &Flow, out: &mut Vec<ToActor>) {
        while let Some(event) = self.codec.poll_event() {
            let live = match &mut self.stage {
                Stage::Open(live) | Stage::Failing { live, .. } => Some(live),
                _ => None,
            };
            match event {
                Event::Text(t) => {
                    if let Some(live) = live {
                        live.last_data = now;
                    }
                    flow.sent(t.len());
                    self.settings.counters.message_received(Kind::Text);
                    out.push(ToActor::Text(t));
                }
                Event::Binary(b) => {
                    if let Some(live) = live {
                        live.last_data = now;
                    }
                    flow.sent(b.len());
                    self.settings.counters.message_received(Kind::Binary);
                    out.push(ToActor::Binary(b));
                }
                Event::Pong(payload) => {
                    if let Some(live) = live {
                        live.answered(&payload);
                    }
                }
                Event::Ping(_) => {}
                // ws-codec reports a close without a code as 1005 (RFC 6455 §7.1.5).
                Event::Close(frame) => self.note_close(frame.code, frame.reason.as_str()),
            }
        }
    }
}
