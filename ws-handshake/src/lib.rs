//! Pure HTTP/1.1 WebSocket upgrade handshake, server and client side.
