//! Actor-per-connection WebSocket server built on ws-codec, ws-handshake and actor-core.
