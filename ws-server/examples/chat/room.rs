//! The chat example's logic, shared by the example and its test: a room actor
//! per room name, and the connection handler that joins it.
#![allow(dead_code)]

use std::collections::HashMap;

use actor_core::{Actor, Context, Handle, Message as ActorMessage, Pid};
use ws_server::{
    CloseCode, Conn, Connect, EncodedFrame, Error, Handler, HttpRequest, Message, Request, Response,
};

/// The page served at `GET /`.
pub(crate) const PAGE: &str = include_str!("index.html");

/// Room message tags (user tags, far below actor-core's reserved range).
pub(crate) const JOIN: u64 = 1;
/// A member left; the payload is its connection id.
pub(crate) const LEAVE: u64 = 2;
/// A member said something; the payload is the text.
pub(crate) const SAY: u64 = 3;

/// One chat room: its members, and a broadcast that encodes each message once.
#[derive(Default)]
pub(crate) struct Room {
    members: HashMap<u64, Conn>,
}

impl Actor for Room {
    fn handle(&mut self, _ctx: &mut Context<'_>, msg: ActorMessage) {
        match msg.tag() {
            JOIN => {
                if let Ok(conn) = msg.downcast::<Conn>() {
                    self.members.insert(conn.id(), conn);
                }
            }
            LEAVE => {
                if let Ok(id) = msg.downcast::<u64>() {
                    self.members.remove(&id);
                }
            }
            SAY => {
                if let Ok(text) = msg.downcast::<String>() {
                    // Encoded once; every member's queue shares the bytes.
                    let frame = EncodedFrame::text(&text);
                    self.members
                        .retain(|_, conn| match conn.send_encoded(&frame) {
                            Ok(()) => true,
                            // A member that stopped reading gets its backpressure
                            // policy (closed with 1008 by default); the others are
                            // not slowed down.
                            Err(Error::Backpressure { .. }) => true,
                            Err(_) => false,
                        });
                }
            }
            _ => {}
        }
    }
}

/// The room actor named `name`, spawned on first use (actor-core's registry).
pub(crate) fn room(handle: &Handle, name: &str) -> Pid {
    let key = format!("chat-room:{name}");
    if let Some(pid) = handle.whereis(&key) {
        return pid;
    }
    let pid = handle.spawn(Room::default());
    match handle.register(key.clone(), pid) {
        Ok(()) => pid,
        Err(_) => {
            // Another connection spawned the same room first: use that one.
            handle.kill(pid);
            handle.whereis(&key).unwrap_or(pid)
        }
    }
}

/// The room named by `?room=NAME`, `lobby` without one; `None` if the name
/// is not 1-64 letters, digits, `-` or `_`.
pub(crate) fn room_name(query: Option<&str>) -> Option<&str> {
    let name = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|kv| kv.strip_prefix("room="))
        .unwrap_or("lobby");
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then_some(name)
}

/// The chat server's hooks: the page at `/`, WebSocket at `/ws?room=NAME`.
pub(crate) struct Chat;

impl Handler for Chat {
    /// The room this connection joined.
    type State = Pid;

    fn on_http(&self, request: &HttpRequest) -> Option<Response> {
        Some(match (request.method(), request.path()) {
            ("GET", "/") => Response::new(200, PAGE)
                .header("Content-Type", "text/html; charset=utf-8")
                .header("Cache-Control", "no-store"),
            _ => Response::new(404, "not found"),
        })
    }

    fn on_connect(&self, conn: &Conn, request: &Request) -> Connect<Pid> {
        if request.path() != "/ws" {
            return Connect::Reject(Response::new(404, "not found"));
        }
        let Some(name) = room_name(request.query()) else {
            return Connect::Close(CloseCode::POLICY_VIOLATION, "bad room name".into());
        };
        let room = room(conn.handle(), name);
        if conn.handle().send(room, JOIN, conn.clone()).is_err() {
            return Connect::Reject(Response::new(503, "room unavailable"));
        }
        Connect::accept(room)
    }

    fn on_message(&self, conn: &Conn, room: &mut Pid, message: Message) {
        match message {
            Message::Text(text) => {
                let _ = conn.handle().send(*room, SAY, text.as_str().to_owned());
            }
            Message::Binary(_) => {
                let _ = conn.close(CloseCode::UNSUPPORTED_DATA, "text only");
            }
        }
    }

    fn on_close(&self, conn: &Conn, room: Option<Pid>, _code: CloseCode, _reason: &str) {
        if let Some(room) = room {
            let _ = conn.handle().send(room, LEAVE, conn.id());
        }
    }
}
