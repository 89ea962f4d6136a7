//! The chat on topics: a room is a topic of the server's [`Topics`](ws_server::Topics), so
//! chat servers built on one Redis ([`RedisBroker`](ws_server::RedisBroker)) share every room.
#![allow(dead_code)]

use ws_server::{
    CloseCode, Connect, Ctx, Handler, HttpRequest, Message, Request, Response, Topics,
};

use crate::room::{http, room_name};

/// The topic of room `name`.
pub(crate) fn topic(name: &str) -> String {
    format!("chat-room:{name}")
}

/// The chat server's hooks: the page at `/`, a room's member count on this server at
/// `/stats?room=NAME`, WebSocket at `/ws?room=NAME`.
pub(crate) struct Chat {
    /// The server's topics (the same as `ServerBuilder::topics`): counted for `/stats`.
    topics: Topics,
}

impl Chat {
    /// The hooks over the topics the server is built with.
    pub(crate) fn new(topics: Topics) -> Chat {
        Chat { topics }
    }
}

impl Handler for Chat {
    /// The room's topic.
    type State = String;

    fn on_http(&self, request: &HttpRequest) -> Option<Response> {
        Some(http(request, |name| self.topics.subscribers(&topic(name))))
    }

    fn on_connect(&self, cx: &mut Ctx<'_>, request: &Request) -> Connect<String> {
        if request.path() != "/ws" {
            return Connect::Reject(Response::new(404, "not found"));
        }
        let Some(name) = room_name(request.query()) else {
            return Connect::Close(CloseCode::POLICY_VIOLATION, "bad room name".into());
        };
        let topic = topic(name);
        // Subscribed before the 101 goes out: the member hears everything said after it
        // joined. It leaves the room by itself when the connection ends.
        if cx.subscribe(&topic).is_err() {
            return Connect::Reject(Response::new(503, "room unavailable"));
        }
        Connect::accept(topic)
    }

    fn on_message(&self, cx: &mut Ctx<'_>, topic: &mut String, message: Message) {
        match message {
            // Encoded (and compressed) once, queued on every member here and sent once to
            // the other servers through the broker.
            Message::Text(text) => {
                cx.publish(topic, text.as_str());
            }
            Message::Binary(_) => {
                let _ = cx.close(CloseCode::UNSUPPORTED_DATA, "text only");
            }
        }
    }
}
