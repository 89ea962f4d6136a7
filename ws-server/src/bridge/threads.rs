//! The thread bridge: per connection a reader thread and, once upgraded, a
//! writer thread, with blocking I/O between the socket and the session.
//!
//! The reader reads the head, waits for the decision and writes any HTTP
//! answer; once upgraded it only reads and feeds the session. The writer
//! sleeps on a condition variable until the session has bytes or a deadline,
//! then writes them in one vectored write. Both hold the session's lock only
//! around session calls, never across I/O. Nothing here runs user code or
//! decides a rule, so the threads get small stacks.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::net::{Shutdown, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::Io;
use crate::link::Link;
use crate::session::{End, Session, ToActor};
use crate::stats::ThreadCount;
use crate::write::write_queue;

/// Longest a write may block before the writer lets the session look at its
/// timers again (only reached when the peer stops reading).
const WRITE_TICK: Duration = Duration::from_millis(500);

/// Memory mappings one connection costs this bridge: two threads, each with a
/// stack, its guard page, a signal stack and its guard page.
const MAPS_PER_CONNECTION: usize = 8;

/// The socket (one file descriptor, shared by the reader, the writer and this
/// seam) and the condition variable both threads sleep on.
struct ThreadIo {
    stream: Arc<TcpStream>,
    cv: Condvar,
    /// Threads waiting on `cv`; changed only under the session's lock.
    parked: AtomicUsize,
}

impl Io for ThreadIo {
    fn notify(&self) {
        self.cv.notify_all();
    }

    fn interrupt(&self, how: Shutdown) {
        let _ = self.stream.shutdown(how);
    }

    // The writer thread writes; a send wakes it only if it sleeps (a busy
    // writer finds the bytes itself before it parks, under this same lock).
    fn queued(&self, _session: &mut Session) -> bool {
        self.parked.load(Ordering::Relaxed) > 0
    }
}

impl ThreadIo {
    /// Waits on the condition variable, at most until `until`.
    fn park<'a>(
        &self,
        s: MutexGuard<'a, Session>,
        until: Option<Instant>,
    ) -> MutexGuard<'a, Session> {
        self.parked.fetch_add(1, Ordering::Relaxed);
        let s = match until {
            Some(t) => {
                let d = t.saturating_duration_since(Instant::now());
                self.cv
                    .wait_timeout(s, d)
                    .unwrap_or_else(|e| e.into_inner())
                    .0
            }
            None => self.cv.wait(s).unwrap_or_else(|e| e.into_inner()),
        };
        self.parked.fetch_sub(1, Ordering::Relaxed);
        s
    }
}

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

/// Starts the reader thread of a connection (or of a 503 answer).
pub(crate) fn spawn(stream: TcpStream, link: Arc<Link>) -> io::Result<JoinHandle<()>> {
    let io = Arc::new(ThreadIo {
        stream: Arc::new(stream),
        cv: Condvar::new(),
        parked: AtomicUsize::new(0),
    });
    link.set_io(Arc::clone(&io) as Arc<dyn Io>);
    let name = if link.pid().is_some() {
        format!("ws-read-{}", link.id())
    } else {
        "ws-reject".into()
    };
    thread::Builder::new()
        .name(name)
        .stack_size(link.settings().stack_size)
        .spawn(move || {
            let _count = ThreadCount::new(&link);
            run(&io, &link);
        })
}

/// The reader thread: the handshake, then reads until the session stops
/// reading; the end of the transport.
fn run(io: &Arc<ThreadIo>, link: &Arc<Link>) {
    let end = match catch_unwind(AssertUnwindSafe(|| handshake(io, link))) {
        Ok(Some(end)) => end,
        Ok(None) => upgraded(io, link),
        Err(payload) => failed(link, "the reader thread", &*payload),
    };
    let _ = io.stream.shutdown(end.how);
    link.finish(end.close);
}

/// Bridge code panicked (a bug): reported, the connection aborted (1011),
/// and how its transport ends.
fn failed(link: &Link, place: &str, payload: &(dyn std::any::Any + Send)) -> End {
    super::panicked(link, place, payload);
    link.lock().poll_end(Instant::now()).unwrap_or(End {
        how: Shutdown::Both,
        close: None,
    })
}

/// Until the session is upgraded or over: reads the head with the session's
/// deadline, waits for the decision, writes an HTTP answer. `None`: upgraded.
fn handshake(io: &ThreadIo, link: &Link) -> Option<End> {
    let stream = &*io.stream;
    let mut chunk = vec![0u8; link.settings().read_buffer_size.min(8 * 1024)];
    let mut msgs = Vec::new();
    let mut batch = VecDeque::new();
    loop {
        let now = Instant::now();
        let mut s = link.lock();
        s.advance(now, link.flow(), &mut msgs);
        if let Some(end) = s.poll_end(now) {
            drop(s);
            link.deliver(&mut msgs);
            return Some(end);
        }
        if s.is_upgraded() {
            drop(s);
            link.deliver(&mut msgs);
            return None;
        }
        s.take_transmit(&mut batch);
        let wants_read = s.wants_read(link.flow());
        let deadline = s.poll_timeout();
        if batch.is_empty() && !wants_read && msgs.is_empty() {
            // The actor is deciding.
            drop(io.park(s, deadline));
            continue;
        }
        drop(s);
        link.deliver(&mut msgs);
        let left = deadline.map(|d| d.saturating_duration_since(now));
        // Never zero: that means "no timeout" to the socket.
        let timeout = left.map(|d| d.max(Duration::from_millis(1)));
        if !batch.is_empty() {
            let _ = stream.set_write_timeout(timeout);
            write_all(stream, &mut batch, link);
        } else if wants_read {
            let _ = stream.set_read_timeout(timeout);
            match (&*stream).read(&mut chunk) {
                Ok(0) => link.lock().handle_eof("peer closed the TCP connection"),
                Ok(n) => link
                    .lock()
                    .handle_read(&chunk[..n], now, link.flow(), &mut msgs),
                Err(e) if retry(&e) => {}
                Err(_) => link.lock().handle_eof("connection reset"),
            }
        }
    }
}

/// Upgraded: a writer thread writes and runs the timers, this one reads.
fn upgraded(io: &Arc<ThreadIo>, link: &Arc<Link>) -> End {
    let (w, l) = (Arc::clone(io), Arc::clone(link));
    let writer = thread::Builder::new()
        .name(format!("ws-write-{}", link.id()))
        .stack_size(link.settings().stack_size)
        .spawn(move || {
            let _count = ThreadCount::new(&l);
            catch_unwind(AssertUnwindSafe(|| write_loop(&w, &l))).unwrap_or_else(|payload| {
                let end = failed(&l, "the writer thread", &*payload);
                // The reader may be blocked in a read or parked: wake it.
                w.interrupt(Shutdown::Both);
                w.notify();
                end
            })
        });
    let Ok(writer) = writer else {
        link.abort("no writer thread");
        return write_loop(io, link);
    };
    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| read_loop(io, link))) {
        // The writer sees the end and returns it.
        super::panicked(link, "the reader thread", &*payload);
        io.interrupt(Shutdown::Both);
    }
    io.notify();
    writer.join().unwrap_or(End {
        how: Shutdown::Both,
        close: None,
    })
}

/// Reads frames while the session wants them; parks while the actor is
/// `mailbox_limit` behind (TCP pushes back on the client).
fn read_loop(io: &ThreadIo, link: &Link) {
    let stream = &*io.stream;
    let _ = stream.set_read_timeout(None);
    let size = link.settings().read_buffer_size;
    let mut msgs = Vec::new();
    let mut buf = BytesMut::new();
    loop {
        {
            let mut s = link.lock();
            while !s.wants_read(link.flow()) {
                if !s.reads_frames() {
                    return;
                }
                s = io.park(s, None);
            }
        }
        buf.clear();
        buf.resize(size, 0);
        let now = Instant::now();
        let wake = match (&*stream).read(&mut buf[..]) {
            Ok(0) => {
                link.lock().handle_eof("peer closed the TCP connection");
                return;
            }
            Ok(n) => {
                buf.truncate(n);
                // Handed over whole: the codec adopts it as its receive buffer
                // when it holds nothing, so payloads are slices of it, not copies.
                let mut s = link.lock();
                link.settings().inject(&buf);
                s.handle_read_buf(buf.split(), now, link.flow(), &mut msgs);
                // The writer sleeps while the session queued an answer (a
                // pong, a close) or stopped reading (its deadlines changed).
                io.parked.load(Ordering::Relaxed) > 0 && (s.has_output() || !s.reads_frames())
            }
            Err(e) if retry(&e) => false,
            Err(_) => {
                link.lock().handle_eof("connection reset");
                return;
            }
        };
        link.deliver(&mut msgs);
        if wake {
            io.notify();
        }
    }
}

/// The writer thread: writes what the session queues and lets it run its
/// timers; returns how the transport ends.
fn write_loop(io: &ThreadIo, link: &Link) -> End {
    let stream = &*io.stream;
    let _ = stream.set_write_timeout(Some(WRITE_TICK));
    let mut batch: VecDeque<Bytes> = VecDeque::new();
    let mut msgs = Vec::new();
    loop {
        let mut resume = false;
        {
            let mut s = link.lock();
            loop {
                let now = Instant::now();
                s.advance(now, link.flow(), &mut msgs);
                if let Some(end) = s.poll_end(now) {
                    drop(s);
                    link.deliver(&mut msgs);
                    // The reader may be blocked in a read, or parked while
                    // the outbound queue is full: the end wakes it either way.
                    io.interrupt(end.how);
                    io.notify();
                    return end;
                }
                // The reader stops while the pongs' cap is reached: taking
                // them lets it go on.
                resume |= s.take_transmit(&mut batch);
                if !batch.is_empty() || !msgs.is_empty() {
                    break;
                }
                let next = s.poll_timeout();
                s = io.park(s, next);
            }
        }
        if resume {
            io.notify();
        }
        link.deliver(&mut msgs);
        write_all(stream, &mut batch, link);
    }
}

/// Writes every buffer of `batch`, vectored, telling the session of progress;
/// while the peer does not read, the session runs its timers (close timeout,
/// pong deadline) and may give up.
fn write_all(stream: &TcpStream, batch: &mut VecDeque<Bytes>, link: &Link) {
    let mut msgs: Vec<ToActor> = Vec::new();
    while !batch.is_empty() {
        let frames = batch.len();
        // Counted as stalled until the write makes progress: a peer that floods
        // pings and reads nothing would otherwise be read at full speed for a whole
        // write timeout (its pongs capped in the codec), never pushed back by TCP.
        link.lock().write_stalled();
        match write_queue(stream, batch) {
            Ok(0) => return link.abort("write failed"),
            Ok(n) => {
                if link.lock().written(n, frames - batch.len()) {
                    // The reader stopped while the queue was full: resume it.
                    link.notify();
                }
            }
            Err(e) if retry(&e) => {
                let now = Instant::now();
                let mut s = link.lock();
                s.write_stalled();
                s.advance(now, link.flow(), &mut msgs);
                if s.gives_up_writing(now) {
                    batch.clear();
                }
            }
            Err(_) => return link.abort("write failed"),
        }
        link.deliver(&mut msgs);
    }
}

fn retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
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
