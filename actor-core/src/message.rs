//! Tagged messages: a `u64` tag and a type-erased payload with checked access.

use std::any::{Any, TypeId};
use std::fmt;

use bytes::Bytes;
use bytestring::ByteString;

/// A mailbox message: a `u64` tag plus a payload of any `Send` type.
///
/// The payload is read back with [`downcast`](Message::downcast), which hands
/// the whole message back on a type mismatch so nothing is lost. A [`Bytes`]
/// or [`ByteString`] payload (a network message, the common case) travels
/// inline; any other type is boxed.
pub struct Message {
    tag: u64,
    payload: Payload,
}

/// Where the payload lives: byte payloads inline, saving an allocation and a
/// free per message (a WebSocket echo's mailbox did both for every frame).
enum Payload {
    Bytes(Bytes),
    Text(ByteString),
    Boxed(Box<dyn Any + Send>),
}

/// `value` as a `U`, if `T` is `U`; otherwise `value` back. No allocation:
/// the check runs on a borrowed `Option` that the value is taken out of.
fn cast<T: Any, U: Any>(value: T) -> Result<U, T> {
    let mut slot = Some(value);
    let any: &mut dyn Any = &mut slot;
    if let Some(taken) = any.downcast_mut::<Option<U>>().and_then(Option::take) {
        return Ok(taken);
    }
    match slot {
        Some(value) => Err(value),
        // Taken only when the cast succeeded, which returned above.
        None => unreachable!("a failed cast leaves the value in place"),
    }
}

impl Message {
    /// A message with `tag` and `payload`.
    pub fn new<T: Any + Send>(tag: u64, payload: T) -> Message {
        let payload = match cast::<T, Bytes>(payload) {
            Ok(bytes) => Payload::Bytes(bytes),
            Err(payload) => match cast::<T, ByteString>(payload) {
                Ok(text) => Payload::Text(text),
                Err(payload) => Payload::Boxed(Box::new(payload)),
            },
        };
        Message { tag, payload }
    }

    /// The tag.
    #[must_use]
    pub fn tag(&self) -> u64 {
        self.tag
    }

    /// Is the payload a `T`?
    #[must_use]
    pub fn is<T: Any>(&self) -> bool {
        match &self.payload {
            Payload::Bytes(_) => TypeId::of::<T>() == TypeId::of::<Bytes>(),
            Payload::Text(_) => TypeId::of::<T>() == TypeId::of::<ByteString>(),
            Payload::Boxed(b) => b.is::<T>(),
        }
    }

    /// Takes the payload as a `T`, or returns the message unchanged if it holds another type.
    pub fn downcast<T: Any>(self) -> Result<T, Message> {
        let tag = self.tag;
        let back = |payload| Message { tag, payload };
        match self.payload {
            Payload::Bytes(b) => cast(b).map_err(|b| back(Payload::Bytes(b))),
            Payload::Text(t) => cast(t).map_err(|t| back(Payload::Text(t))),
            Payload::Boxed(b) => match b.downcast::<T>() {
                Ok(b) => Ok(*b),
                Err(b) => Err(back(Payload::Boxed(b))),
            },
        }
    }

    /// Borrows the payload as a `T`, if it is one.
    #[must_use]
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        match &self.payload {
            Payload::Bytes(b) => (b as &dyn Any).downcast_ref::<T>(),
            Payload::Text(t) => (t as &dyn Any).downcast_ref::<T>(),
            Payload::Boxed(b) => b.downcast_ref::<T>(),
        }
    }

    /// Splits the message into its tag and boxed payload (an inline payload
    /// is boxed here).
    #[must_use]
    pub fn into_parts(self) -> (u64, Box<dyn Any + Send>) {
        let payload: Box<dyn Any + Send> = match self.payload {
            Payload::Bytes(b) => Box::new(b),
            Payload::Text(t) => Box::new(t),
            Payload::Boxed(b) => b,
        };
        (self.tag, payload)
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("tag", &self.tag)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downcast_mismatch_returns_the_message() {
        let m = Message::new(7, String::from("hi"));
        assert!(m.is::<String>());
        assert!(!m.is::<u32>());
        let m = m.downcast::<u32>().unwrap_err();
        assert_eq!(m.tag(), 7);
        assert_eq!(m.downcast_ref::<String>().map(String::as_str), Some("hi"));
        assert_eq!(m.downcast::<String>().unwrap(), "hi");
    }

    #[test]
    fn byte_payloads_travel_inline_and_come_back_whole() {
        let m = Message::new(1, Bytes::from_static(b"abc"));
        assert!(matches!(m.payload, Payload::Bytes(_)));
        assert!(m.is::<Bytes>() && !m.is::<ByteString>() && !m.is::<Vec<u8>>());
        assert_eq!(m.downcast_ref::<Bytes>().map(|b| &b[..]), Some(&b"abc"[..]));
        let m = m.downcast::<ByteString>().unwrap_err();
        assert_eq!(m.tag(), 1);
        assert_eq!(m.downcast::<Bytes>().unwrap(), Bytes::from_static(b"abc"));

        let m = Message::new(2, ByteString::from_static("hé"));
        assert!(matches!(m.payload, Payload::Text(_)));
        assert!(m.is::<ByteString>() && !m.is::<Bytes>());
        let m = m.downcast::<String>().unwrap_err();
        let (tag, payload) = m.into_parts();
        assert_eq!(tag, 2);
        assert_eq!(&**payload.downcast::<ByteString>().unwrap(), "hé");

        let m = Message::new(3, vec![1u8]);
        assert!(matches!(m.payload, Payload::Boxed(_)));
        assert_eq!(m.downcast::<Vec<u8>>().unwrap(), [1]);
    }
}
