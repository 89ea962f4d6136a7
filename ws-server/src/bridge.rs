//! The thread bridge: per connection a reader thread and a writer thread
//! between the socket, the ws-codec state machine and the connection's actor.
//!
//! The reader does the handshake, then blocks in `read` and feeds the codec;
//! each decoded message goes into the actor's mailbox under a reserved tag.
//! The writer sleeps on a condition variable until bytes are queued or a timer
//! is due, then writes everything queued in one vectored write. Both take the
//! connection's lock only around codec calls, never across I/O. Nothing here
//! runs user code, so the threads get small stacks.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use actor_core::ReservedTag;
use bytes::{Bytes, BytesMut};
use ws_codec::CloseCode;

use crate::config::Settings;
use crate::conn::{Decision, Inner, Io, Phase, Shared};
use crate::feed::{feed, Fed};
use crate::server::ServerShared;
use crate::session::{finish, parse_head, unavailable, upgrade_response, ConnectMsg, Head};
use crate::timers::{self, next_deadline, timers};
use crate::write::write_queue;

/// Longest a write may block before the writer looks at its timers again
/// (only reached when the peer stops reading).
const WRITE_TICK: Duration = Duration::from_millis(500);

/// The socket is shared by the reader, the writer and this seam: one file
/// descriptor per connection (`&TcpStream` reads and writes).
struct ThreadIo {
    stream: Arc<TcpStream>,
}

impl Io for ThreadIo {
    fn notify(&self, shared: &Shared) {
        shared.cv.notify_all();
    }
    fn abort(&self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
    fn interrupt_read(&self) {
        let _ = self.stream.shutdown(Shutdown::Read);
    }
    // The writer thread writes; a send wakes it only if it sleeps (a busy
    // writer finds the bytes itself before it parks, under this same lock).
    fn queued(&self, g: &mut Inner, _was_idle: bool) -> bool {
        g.parked > 0
    }
}

/// Memory mappings one connection costs this bridge: two threads, each with a
/// stack, its guard page, a signal stack and its guard page.
const MAPS_PER_CONNECTION: usize = 8;

/// Most connections this bridge can hold on this machine. Linux caps a
/// process's memory mappings (`vm.max_map_count`, 65 530 by default); a thread
/// that cannot map its stacks aborts the whole process, so the server must
/// answer 503 well before that. An eighth of the maps stays for the rest of
/// the process (heap, libraries, the runtime). `None` where the limit is unknown.
pub(crate) fn connection_cap() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/sys/vm/max_map_count").ok()?;
    text.trim().parse().ok().map(cap_for_map_count)
}

fn cap_for_map_count(max_map_count: usize) -> usize {
    max_map_count / 8 * 7 / MAPS_PER_CONNECTION
}

/// Starts the bridge of an admitted connection.
pub(crate) fn spawn(
    stream: TcpStream,
    conn: Arc<Shared>,
    server: Arc<ServerShared>,
) -> io::Result<JoinHandle<()>> {
    let stream = Arc::new(stream);
    let io = ThreadIo {
        stream: Arc::clone(&stream),
    };
    let _ = conn.io.set(Box::new(io));
    thread::Builder::new()
        .name(format!("ws-read-{}", conn.id))
        .stack_size(conn.settings.stack_size)
        .spawn(move || run(stream, &conn, &server))
}

/// Starts a thread that reads a request head and answers 503 (over `max_connections`).
pub(crate) fn spawn_rejection(
    stream: TcpStream,
    server: Arc<ServerShared>,
) -> io::Result<JoinHandle<()>> {
    let stack = server.settings.stack_size;
    thread::Builder::new()
        .name("ws-reject".into())
        .stack_size(stack)
        .spawn(move || {
            let settings = &server.settings;
            let deadline = Instant::now() + settings.handshake_timeout;
            let mut head = Vec::new();
            let answer = match read_head(&stream, &mut head, settings, deadline, || false) {
                Head::Request(..) | Head::Http(..) => Some(unavailable()),
                Head::Invalid(bytes) => Some(bytes),
                Head::Gone => None,
            };
            if let Some(bytes) = answer {
                respond_and_close(&stream, &bytes, deadline);
            }
            server.rejection_done();
        })
}

/// Marks a connection for shutdown: 1001 if open, 503 if still reading its head.
pub(crate) fn begin_shutdown(conn: &Shared) {
    let mut g = conn.lock();
    g.shutting_down = true;
    let interrupt = match g.phase {
        Phase::Open => {
            if g.first_close.is_none() {
                let _ = g.start_close(CloseCode::GOING_AWAY, "server shutting down");
            }
            false
        }
        Phase::Handshake => g.decision.is_none(),
        Phase::Done => false,
    };
    drop(g);
    if interrupt {
        if let Some(io) = conn.io.get() {
            io.interrupt_read();
        }
    }
    conn.notify();
}

fn read_head(
    mut stream: &TcpStream,
    head: &mut Vec<u8>,
    settings: &Settings,
    deadline: Instant,
    interrupted: impl Fn() -> bool,
) -> Head {
    let mut chunk = vec![0u8; settings.read_buffer_size.min(8 * 1024)];
    loop {
        if let Some(parsed) = parse_head(head, settings) {
            return parsed;
        }
        let now = Instant::now();
        if now >= deadline || interrupted() {
            return Head::Gone;
        }
        if stream.set_read_timeout(Some(deadline - now)).is_err() {
            return Head::Gone;
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Head::Gone,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
            Err(e) if retry(&e) => {}
            Err(_) => return Head::Gone,
        }
    }
}

fn retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Writes an HTTP answer and closes, bounded by `deadline`.
fn respond_and_close(mut stream: &TcpStream, bytes: &[u8], deadline: Instant) {
    let left = deadline.saturating_duration_since(Instant::now());
    let _ = stream.set_write_timeout(Some(left.max(Duration::from_millis(100))));
    let _ = stream.write_all(bytes);
    // FIN after the answer, so the client reads it before the close.
    let _ = stream.shutdown(Shutdown::Write);
}

/// The reader thread: handshake, then reads until the connection ends.
fn run(stream: Arc<TcpStream>, conn: &Arc<Shared>, server: &ServerShared) {
    let settings = &*conn.settings;
    let deadline = Instant::now() + settings.handshake_timeout;
    let mut head = Vec::new();
    let interrupted = || conn.lock().shutting_down;
    let head_result = read_head(&stream, &mut head, settings, deadline, interrupted);
    if server.is_shutting_down() && !matches!(head_result, Head::Gone) {
        respond_and_close(&stream, &unavailable(), deadline);
        return finish(conn, server, None);
    }
    let (request, used) = match head_result {
        Head::Request(r, n) => (r, n),
        Head::Http(r, refusal) => {
            if let Some(Decision::Respond(bytes)) = decide(conn, ConnectMsg::Http(r, refusal)) {
                respond_and_close(&stream, &bytes, deadline);
            }
            return finish(conn, server, None);
        }
        Head::Invalid(bytes) => {
            respond_and_close(&stream, &bytes, deadline);
            return finish(conn, server, None);
        }
        Head::Gone => {
            if conn.lock().shutting_down {
                respond_and_close(&stream, &unavailable(), deadline);
            }
            return finish(conn, server, None);
        }
    };
    // RFC 6455 §10.2: the origin policy is ws-handshake's to apply.
    if let Err(e) = server.origin_policy.check(&request) {
        respond_and_close(&stream, &e.to_bytes(), deadline);
        return finish(conn, server, None);
    }
    let (protocol, headers) = match decide(conn, ConnectMsg::Upgrade(request.clone())) {
        None => return finish(conn, server, None),
        Some(Decision::Respond(bytes)) => {
            respond_and_close(&stream, &bytes, deadline);
            return finish(conn, server, None);
        }
        Some(Decision::Upgrade { protocol, headers }) => (protocol, headers),
    };
    let response = match upgrade_response(&request, protocol.as_deref(), &headers) {
        Ok(bytes) => bytes,
        Err(e) => {
            // The hook chose a subprotocol the client did not offer, or a bad
            // header: ws-handshake says which, and the client gets its status.
            respond_and_close(&stream, &e.to_bytes(), deadline);
            return finish(
                conn,
                server,
                Some((CloseCode::INTERNAL_ERROR, e.to_string())),
            );
        }
    };
    let _ = stream.set_write_timeout(Some(settings.handshake_timeout));
    if (&*stream).write_all(&response).is_err() {
        conn.abort("upgrade not sent");
        return finish(
            conn,
            server,
            Some((CloseCode::ABNORMAL, "upgrade not sent".into())),
        );
    }
    // Open: heartbeat starts, shutdown (if it began meanwhile) closes with 1001.
    timers::open(&mut conn.lock(), Instant::now(), settings);
    let (w, c) = (Arc::clone(&stream), Arc::clone(conn));
    let writer = match thread::Builder::new()
        .name(format!("ws-write-{}", conn.id))
        .stack_size(settings.stack_size)
        .spawn(move || write_loop(&w, &c))
    {
        Ok(w) => w,
        Err(_) => {
            conn.abort("no writer thread");
            return finish(conn, server, None);
        }
    };
    let _ = stream.set_read_timeout(None);
    read_loop(&stream, conn, &head[used..]);
    drop(head);
    {
        let mut g = conn.lock();
        g.reader_done = true;
    }
    conn.notify();
    let _ = writer.join();
    let _ = stream.shutdown(Shutdown::Both);
    let close = conn.lock().final_close();
    finish(conn, server, Some(close));
}

/// Hands the request to the actor and waits for its decision.
fn decide(conn: &Shared, msg: ConnectMsg) -> Option<Decision> {
    let pid = *conn.pid.get()?;
    conn.handle
        .send_reserved(pid, ReservedTag::WsConnect, msg)
        .ok()?;
    let mut g = conn.lock();
    loop {
        if let Some(d) = g.decision.take() {
            return Some(d);
        }
        if g.actor_gone || g.aborted {
            return None;
        }
        g = park(conn, g, None);
    }
}

/// Waits on the connection's condition variable, at most until `until`.
fn park<'a>(
    conn: &'a Shared,
    mut g: MutexGuard<'a, Inner>,
    until: Option<Instant>,
) -> MutexGuard<'a, Inner> {
    g.parked += 1;
    let mut g = match until {
        Some(t) => {
            let d = t.saturating_duration_since(Instant::now());
            conn.cv
                .wait_timeout(g, d)
                .unwrap_or_else(|e| e.into_inner())
                .0
        }
        None => conn.cv.wait(g).unwrap_or_else(|e| e.into_inner()),
    };
    g.parked -= 1;
    g
}

/// Reads frames until the close handshake completes, the peer leaves, or the
/// socket is torn down.
fn read_loop(mut stream: &TcpStream, conn: &Shared, pipelined: &[u8]) {
    let limit = conn.settings.mailbox_limit;
    let size = conn.settings.read_buffer_size;
    let mut out = Vec::new();
    let mut fed = Fed::Open;
    if !pipelined.is_empty() {
        fed = feed(conn, |c| c.handle_bytes(pipelined), &mut out);
    }
    let mut buf = BytesMut::new();
    loop {
        match fed {
            Fed::Open => {}
            Fed::Failing => return fail_after_drain(conn),
            Fed::Over => return,
        }
        // Flow control: while the actor is behind, stop reading; TCP pushes back.
        {
            let mut g = conn.lock();
            while conn.in_flight.load(Ordering::Acquire) >= limit && !g.actor_gone && !g.aborted {
                g = park(conn, g, None);
            }
            if g.aborted {
                return;
            }
        }
        buf.clear();
        buf.resize(size, 0);
        match stream.read(&mut buf[..]) {
            Ok(0) => {
                conn.abort("peer closed the TCP connection");
                return;
            }
            Ok(n) => {
                buf.truncate(n);
                // Handed over whole: the codec adopts it as its receive buffer
                // when it holds nothing, so payloads are slices of it, not copies.
                let chunk = buf.split();
                fed = feed(conn, |c| c.handle_buf(chunk), &mut out);
            }
            Err(e) if retry(&e) => {}
            Err(_) => {
                conn.abort("connection reset");
                return;
            }
        }
    }
}

/// Fails the connection once the actor has handled the messages decoded
/// before the protocol error, or after the close timeout if it does not.
fn fail_after_drain(conn: &Shared) {
    let deadline = Instant::now() + conn.settings.close_timeout;
    let mut g = conn.lock();
    while !conn.drained(&g) && Instant::now() < deadline {
        g = park(conn, g, Some(deadline));
    }
    g.fail();
    drop(g);
    conn.notify();
}

/// The writer thread: writes what is queued and runs the connection's timers.
fn write_loop(stream: &TcpStream, conn: &Shared) {
    let _ = stream.set_write_timeout(Some(WRITE_TICK));
    let settings = &*conn.settings;
    let mut batch: VecDeque<Bytes> = VecDeque::new();
    loop {
        {
            let mut g = conn.lock();
            loop {
                if g.aborted {
                    return;
                }
                let now = Instant::now();
                if !timers(&mut g, now, settings) {
                    drop(g);
                    conn.abort("pong timeout");
                    return;
                }
                while let Some(b) = g.codec.poll_transmit() {
                    g.writing += b.len();
                    batch.push_back(b);
                }
                if !batch.is_empty() {
                    break;
                }
                if g.codec.should_close_transport() || g.reader_done {
                    // RFC 6455 §7.1.1: the server closes the TCP connection first.
                    drop(g);
                    let _ = stream.shutdown(Shutdown::Both);
                    return;
                }
                let next = next_deadline(&g, settings);
                g = park(conn, g, next);
            }
        }
        if write_batch(stream, &mut batch, conn).is_err() {
            conn.abort("write failed");
            return;
        }
    }
}

/// Writes every buffer of `batch`, vectored; empties it.
fn write_batch(stream: &TcpStream, batch: &mut VecDeque<Bytes>, conn: &Shared) -> io::Result<()> {
    while !batch.is_empty() {
        match write_queue(stream, batch) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => conn.lock().writing -= n,
            Err(e) if retry(&e) => {
                // The peer is not reading: run the timers (close timeout,
                // pong deadline) so a stuck peer is still dropped in time.
                let mut g = conn.lock();
                if g.aborted
                    || !timers(&mut g, Instant::now(), &conn.settings)
                    || g.codec.is_closed()
                {
                    return Err(io::ErrorKind::TimedOut.into());
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::cap_for_map_count;

    #[test]
    fn linux_default_map_count_caps_near_seven_thousand_connections() {
        // 65 530 maps: 57 337 for connections, 8 each.
        assert_eq!(cap_for_map_count(65_530), 7_167);
        assert_eq!(cap_for_map_count(0), 0);
    }
}
