//! The chat example's logic, shared by the example and its test: a room actor
//! per room name, and the connection handler that joins it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actor_core::{Actor, Context, Down, ExitReason, Handle, Message as ActorMessage, Pid};
use ws_server::{
    CloseCode, Conn, Connect, Ctx, Error, Handler, HttpRequest, Message, Request, Response,
};

/// The page served at `GET /`.
pub(crate) const PAGE: &str = include_str!("index.html");

/// What a room hears, sent with `tell`: dispatched on its type, no tag numbers.
pub(crate) enum RoomMsg {
    /// A member joined.
    Join(Conn),
    /// A member left; its connection id.
    Leave(u64),
    /// A member said something.
    Say(String),
}

/// Members per room name, as the rooms last counted them: what the page's
/// `GET /stats?room=NAME` reads without asking the room actor.
pub(crate) type Counts = Arc<Mutex<HashMap<String, usize>>>;

/// One chat room: its members, and a broadcast that encodes each message once.
/// It stops when its last member leaves, so room names do not pile up.
pub(crate) struct Room {
    name: String,
    members: HashMap<u64, Conn>,
    counts: Counts,
}

impl Room {
    /// Publishes the member count for the page.
    fn count(&self) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if self.members.is_empty() {
            counts.remove(&self.name);
        } else {
            counts.insert(self.name.clone(), self.members.len());
        }
    }
}

impl Actor for Room {
    fn handle(&mut self, ctx: &mut Context<'_>, msg: ActorMessage) {
        let Ok(msg) = msg.downcast::<RoomMsg>() else {
            return;
        };
        match msg {
            RoomMsg::Join(conn) => {
                self.members.insert(conn.id(), conn);
                self.count();
            }
            RoomMsg::Leave(id) => {
                self.members.remove(&id);
                self.count();
                if self.members.is_empty() {
                    // Its name goes with it. A member joining right now
                    // sees the room end (Down, Normal) and joins afresh.
                    ctx.stop(ExitReason::Normal);
                }
            }
            RoomMsg::Say(text) => {
                // Encoded (and compressed) once; every member's queue shares the bytes.
                let frame = ws_server::encode_text(&text, Some(&ws_server::DEFAULT_DEFLATE));
                self.members
                    .retain(|_, conn| match conn.send_encoded(&frame) {
                        Ok(()) => true,
                        // A member that stopped reading gets its backpressure
                        // policy (closed with 1008 by default); the others are
                        // not slowed down.
                        Err(Error::Backpressure { .. }) => true,
                        Err(_) => false,
                    });
                self.count();
            }
        }
    }
}

/// The room actor named `name`: looked up, or spawned and registered in one
/// step, so two members joining at once always share one room.
pub(crate) fn room(handle: &Handle, name: &str, counts: &Counts) -> Pid {
    handle.whereis_or_spawn(&format!("chat-room:{name}"), || Room {
        name: name.to_owned(),
        members: HashMap::new(),
        counts: Arc::clone(counts),
    })
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

/// The plain HTTP both chats answer: the page at `/`, and at `/stats?room=NAME` the
/// room's member count on this server (JSON) as `members` gives it.
pub(crate) fn http(request: &HttpRequest, members: impl Fn(&str) -> usize) -> Response {
    match (request.method(), request.path()) {
        ("GET", "/") => Response::new(200, PAGE)
            .header("Content-Type", "text/html; charset=utf-8")
            .header("Cache-Control", "no-store"),
        ("GET", "/stats") => {
            let Some(name) = room_name(request.query()) else {
                return Response::new(400, "bad room name");
            };
            // The name is letters, digits, '-' and '_': nothing to escape.
            let body = format!("{{\"room\":\"{name}\",\"members\":{}}}", members(name));
            Response::new(200, body)
                .header("Content-Type", "application/json")
                .header("Cache-Control", "no-store")
        }
        _ => Response::new(404, "not found"),
    }
}

/// The chat server's hooks: the page at `/`, its room's member count at
/// `/stats?room=NAME` (JSON), WebSocket at `/ws?room=NAME`. (`/metrics` is
/// the server's own, with `ServerBuilder::metrics_path`: the page reads the
/// message rate there.)
#[derive(Default)]
pub(crate) struct Chat {
    counts: Counts,
}

/// A connection's place: the room's name and the room actor it joined.
pub(crate) struct Member {
    name: String,
    room: Pid,
}

/// Joins the room `name` (spawned if need be) and watches it.
fn join(cx: &mut Ctx<'_>, name: &str, counts: &Counts) -> Option<Pid> {
    // The room found may stop (its last member just left) before the Join
    // reaches it: then it no longer counts as alive, and the next lookup
    // spawns a fresh one. A fresh room stops only when a member leaves, so
    // a second try suffices; the third is margin.
    for _ in 0..3 {
        let room = room(cx.handle(), name, counts);
        if cx
            .handle()
            .tell(room, RoomMsg::Join(cx.conn().clone()))
            .is_ok()
        {
            // If the room ends, its members hear of it (on_info) rather
            // than talk to nobody.
            cx.monitor(room);
            return Some(room);
        }
    }
    None
}

impl Handler for Chat {
    /// The room this connection joined.
    type State = Member;

    fn on_http(&self, request: &HttpRequest) -> Option<Response> {
        Some(http(request, |name| {
            let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
            counts.get(name).copied().unwrap_or(0)
        }))
    }

    fn on_connect(&self, cx: &mut Ctx<'_>, request: &Request) -> Connect<Member> {
        if request.path() != "/ws" {
            return Connect::Reject(Response::new(404, "not found"));
        }
        let Some(name) = room_name(request.query()) else {
            return Connect::Close(CloseCode::POLICY_VIOLATION, "bad room name".into());
        };
        let Some(room) = join(cx, name, &self.counts) else {
            return Connect::Reject(Response::new(503, "room unavailable"));
        };
        Connect::accept(Member {
            name: name.to_owned(),
            room,
        })
    }

    fn on_message(&self, conn: &mut Ctx<'_>, member: &mut Member, message: Message) {
        match message {
            Message::Text(text) => {
                let _ = conn
                    .handle()
                    .tell(member.room, RoomMsg::Say(text.as_str().to_owned()));
            }
            Message::Binary(_) => {
                let _ = conn.close(CloseCode::UNSUPPORTED_DATA, "text only");
            }
        }
    }

    fn on_info(&self, conn: &mut Ctx<'_>, member: &mut Member, message: ActorMessage) {
        let Some(down) = message.downcast_ref::<Down>() else {
            return;
        };
        if down.pid != member.room {
            return;
        }
        let emptied = matches!(down.reason, ExitReason::Normal | ExitReason::NoProc);
        // The room stopped as its last member left while this one was
        // joining: join the room of that name afresh.
        match emptied
            .then(|| join(conn, &member.name, &self.counts))
            .flatten()
        {
            Some(room) => member.room = room,
            None => {
                let _ = conn.close(CloseCode::INTERNAL_ERROR, "the room ended");
            }
        }
    }

    fn on_close(&self, conn: &Conn, member: Option<Member>, _code: CloseCode, _reason: &str) {
        if let Some(member) = member {
            let _ = conn.handle().tell(member.room, RoomMsg::Leave(conn.id()));
        }
    }
}
