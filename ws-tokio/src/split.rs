//! The two halves of a `WebSocket`, for a reading task and a writing task.
//!
//! Both share the connection under a mutex held only inside a `poll` call. A transport
//! keeps one waker per direction, and either half may have to write (the reader owes
//! pongs and close answers) or wait on the timer, so the halves poll the connection with
//! one shared waker that wakes both tasks: a spurious wake-up costs one poll, a lost one
//! would hang a task.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use futures_core::Stream;
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::core::Core;
use crate::{Error, Message, WebSocket};

/// The reading half of a [`WebSocket`]: a `Stream` of messages.
#[derive(Debug)]
pub struct ReadHalf<S> {
    shared: Arc<Shared<S>>,
}

/// The writing half of a [`WebSocket`]: a `Sink` of messages.
#[derive(Debug)]
pub struct WriteHalf<S> {
    shared: Arc<Shared<S>>,
}

#[derive(Debug)]
struct Shared<S> {
    core: Mutex<Core<S>>,
    wakers: Arc<Wakers>,
}

/// The wakers of the two tasks; waking it wakes both.
#[derive(Debug, Default)]
struct Wakers {
    read: Mutex<Option<Waker>>,
    write: Mutex<Option<Waker>>,
}

impl Wake for Wakers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        for slot in [&self.read, &self.write] {
            if let Some(waker) = lock(slot).take() {
                waker.wake();
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic inside a poll leaves the connection as consistent as any cancelled poll.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn split<S>(core: Core<S>) -> (ReadHalf<S>, WriteHalf<S>) {
    let shared = Arc::new(Shared {
        core: Mutex::new(core),
        wakers: Arc::default(),
    });
    (
        ReadHalf {
            shared: shared.clone(),
        },
        WriteHalf { shared },
    )
}

impl<S> Shared<S> {
    /// Runs `f` on the connection with the shared waker, `cx`'s task registered in `slot`.
    fn poll<T>(
        &self,
        slot: fn(&Wakers) -> &Mutex<Option<Waker>>,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut Core<S>, &mut Context<'_>) -> T,
    ) -> T {
        {
            let mut registered = lock(slot(&self.wakers));
            match &*registered {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => *registered = Some(cx.waker().clone()),
            }
        }
        let waker = Waker::from(self.wakers.clone());
        let mut shared_cx = Context::from_waker(&waker);
        f(&mut lock(&self.core), &mut shared_cx)
    }
}

impl<S> ReadHalf<S> {
    /// Whether `write` is the other half of the same `WebSocket`.
    pub fn is_pair_of(&self, write: &WriteHalf<S>) -> bool {
        Arc::ptr_eq(&self.shared, &write.shared)
    }

    /// Joins the two halves again; gives them back if they are not a pair.
    pub fn reunite(self, write: WriteHalf<S>) -> Result<WebSocket<S>, (ReadHalf<S>, WriteHalf<S>)>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        if !self.is_pair_of(&write) {
            return Err((self, write));
        }
        drop(write);
        match Arc::try_unwrap(self.shared) {
            Ok(shared) => Ok(WebSocket::from_core(
                shared
                    .core
                    .into_inner()
                    .unwrap_or_else(PoisonError::into_inner),
            )),
            Err(_) => unreachable!("both halves of the pair were given"),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for ReadHalf<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.shared
            .poll(|w| &w.read, cx, |core, cx| core.poll_next(cx))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WriteHalf<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared
            .poll(|w| &w.write, cx, |core, cx| core.poll_ready(cx))
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        lock(&self.shared.core).start_send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared
            .poll(|w| &w.write, cx, |core, cx| core.poll_flush(cx))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared
            .poll(|w| &w.write, cx, |core, cx| core.poll_close(cx))
    }
}
