//! Tagged messages: a `u64` tag and a type-erased payload with checked access.

use std::any::Any;
use std::fmt;

/// A mailbox message: a `u64` tag plus a payload of any `Send` type.
///
/// The payload is read back with [`downcast`](Message::downcast), which hands
/// the whole message back on a type mismatch so nothing is lost.
pub struct Message {
    tag: u64,
    payload: Box<dyn Any + Send>,
}

impl Message {
    /// A message with `tag` and `payload`.
    pub fn new<T: Any + Send>(tag: u64, payload: T) -> Message {
        Message {
            tag,
            payload: Box::new(payload),
        }
    }

    /// The tag.
    #[must_use]
    pub fn tag(&self) -> u64 {
        self.tag
    }

    /// Is the payload a `T`?
    #[must_use]
    pub fn is<T: Any>(&self) -> bool {
        self.payload.is::<T>()
    }

    /// Takes the payload as a `T`, or returns the message unchanged if it holds another type.
    pub fn downcast<T: Any>(self) -> Result<T, Message> {
        match self.payload.downcast::<T>() {
            Ok(b) => Ok(*b),
            Err(payload) => Err(Message {
                tag: self.tag,
                payload,
            }),
        }
    }

    /// Borrows the payload as a `T`, if it is one.
    #[must_use]
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        self.payload.downcast_ref::<T>()
    }

    /// Splits the message into its tag and boxed payload.
    #[must_use]
    pub fn into_parts(self) -> (u64, Box<dyn Any + Send>) {
        (self.tag, self.payload)
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
}
