//! Pure, sans-IO RFC 6455 WebSocket frame codec and connection state machine.
