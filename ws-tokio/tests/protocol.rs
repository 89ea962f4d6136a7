//! ws-tokio's protocol behaviour over real loopback TCP: both ends are ours, or one end is a
//! raw socket writing frames encoded by ws-codec, so each rule is seen on the wire.

use std::net::SocketAddr;
use std::task::Poll;
use std::time::Duration;

use bytes::BytesMut;
use futures_util::{future, SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use ws_codec::{encode_frame, CloseCode, Decoder, FrameHeader, OpCode, Role};
use ws_handshake::{parse_response, ClientRequest, Limits, Reply};
use ws_tokio::{Config, Error, Message, WebSocket};

async fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    (l, addr)
}

fn request(addr: SocketAddr) -> ClientRequest {
    ClientRequest::new("127.0.0.1", "/").port(addr.port())
}

/// Accepts one connection and echoes its data messages until the stream ends; returns the
/// last item the stream yielded before it ended (the close, or an error).
async fn echo_once(l: TcpListener, config: Config) -> Option<Result<Message, Error>> {
    let (stream, _) = l.accept().await.unwrap();
    let mut ws = ws_tokio::accept(stream, &config).await.unwrap();
    let mut last = None;
    while let Some(item) = ws.next().await {
        match &item {
            Ok(m) if m.is_data() => ws.send(m.clone()).await.unwrap(),
            _ => last = Some(item),
        }
    }
    last
}

/// A raw client socket, upgraded by hand: frames are written and read as bytes.
struct Raw {
    stream: TcpStream,
    buf: BytesMut,
    decoder: Decoder,
}

impl Raw {
    async fn connect(addr: SocketAddr, request: ClientRequest) -> (Raw, ws_handshake::Accepted) {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(&request.to_bytes().unwrap())
            .await
            .unwrap();
        let mut buf = BytesMut::new();
        loop {
            assert!(stream.read_buf(&mut buf).await.unwrap() > 0, "101 expected");
            if let Some((reply, used)) = parse_response(&buf, &request, &Limits::default()).unwrap()
            {
                let Reply::Accepted(accepted) = reply else {
                    panic!("refused: {reply:?}")
                };
                let _ = buf.split_to(used);
                let raw = Raw {
                    stream,
                    buf,
                    decoder: Decoder::new(Role::Client),
                };
                return (raw, accepted);
            }
        }
    }

    async fn send(&mut self, opcode: OpCode, fin: bool, payload: &[u8]) {
        let header = FrameHeader {
            fin,
            mask: Some([1, 2, 3, 4]),
            ..FrameHeader::new(opcode, payload.len() as u64)
        };
        let mut dst = BytesMut::new();
        encode_frame(&header, payload, &mut dst);
        self.stream.write_all(&dst).await.unwrap();
    }

    /// The next frame from the server (`None` once it closed TCP).
    async fn frame(&mut self) -> Option<ws_codec::Frame> {
        loop {
            if let Some(frame) = self.decoder.decode(&mut self.buf).unwrap() {
                return Some(frame);
            }
            if self.stream.read_buf(&mut self.buf).await.unwrap() == 0 {
                return None;
            }
        }
    }

    /// The first byte and payload length of the next frame's header, read as bytes (the
    /// decoder of a client without the extension would refuse RSV1).
    async fn raw_header(&mut self) -> (u8, u64) {
        while self.buf.len() < 4 {
            assert!(self.stream.read_buf(&mut self.buf).await.unwrap() > 0);
        }
        let len = match self.buf[1] & 0x7f {
            126 => u64::from(u16::from_be_bytes([self.buf[2], self.buf[3]])),
            127 => u64::MAX,
            n => u64::from(n),
        };
        (self.buf[0], len)
    }

    fn close_code(frame: &ws_codec::Frame) -> u16 {
        assert_eq!(frame.opcode(), OpCode::Close);
        u16::from_be_bytes([frame.payload()[0], frame.payload()[1]])
    }
}

#[tokio::test]
async fn echo_round_trip_of_text_and_binary() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(echo_once(l, Config::default()));
    let (mut ws, accepted) = ws_tokio::connect(addr, request(addr), &Config::default())
        .await
        .unwrap();
    assert_eq!(accepted.deflate(), None, "not offered");
    let big = vec![7u8; 200_000];
    for m in [
        Message::text("hello"),
        Message::binary(vec![0u8, 1, 2]),
        Message::text(""),
        Message::binary(big),
    ] {
        ws.send(m.clone()).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), m);
    }
    ws.close().await.unwrap();
    let Some(Ok(Message::Close(Some(close)))) = ws.next().await else {
        panic!("the server's close answer expected")
    };
    assert_eq!(close.code, CloseCode::NORMAL);
    assert!(ws.next().await.is_none(), "the stream ends after the close");
    let last = server.await.unwrap();
    assert!(matches!(last, Some(Ok(Message::Close(Some(c)))) if c.code == CloseCode::NORMAL));
}

#[tokio::test]
async fn fragments_are_joined_and_control_frames_pass_between_them() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (stream, _) = l.accept().await.unwrap();
        let mut ws = ws_tokio::accept(stream, &Config::default()).await.unwrap();
        let mut seen = Vec::new();
        while let Some(Ok(m)) = ws.next().await {
            seen.push(m);
        }
        seen
    });
    let (mut raw, _) = Raw::connect(addr, request(addr)).await;
    raw.send(OpCode::Text, false, "κό".as_bytes()).await;
    raw.send(OpCode::Ping, true, b"mid").await;
    raw.send(OpCode::Continuation, false, "σμ".as_bytes()).await;
    raw.send(OpCode::Continuation, true, "ε".as_bytes()).await;
    raw.send(OpCode::Close, true, &1000u16.to_be_bytes()).await;
    let pong = raw.frame().await.unwrap();
    assert_eq!(
        (pong.opcode(), &pong.payload()[..]),
        (OpCode::Pong, &b"mid"[..])
    );
    assert_eq!(Raw::close_code(&raw.frame().await.unwrap()), 1000);
    assert!(
        raw.frame().await.is_none(),
        "RFC 6455 §7.1.1: the server closes TCP"
    );
    let seen = server.await.unwrap();
    assert_eq!(seen[0], Message::Ping("mid".into()));
    assert_eq!(seen[1], Message::text("κόσμε"));
    assert!(matches!(&seen[2], Message::Close(Some(c)) if c.code == CloseCode::NORMAL));
}

#[tokio::test]
async fn a_ping_is_answered_while_the_application_only_reads() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(echo_once(l, Config::default()));
    let (mut raw, _) = Raw::connect(addr, request(addr)).await;
    for i in 0..3u8 {
        raw.send(OpCode::Ping, true, &[i; 5]).await;
        let pong = raw.frame().await.unwrap();
        assert_eq!(
            (pong.opcode(), &pong.payload()[..]),
            (OpCode::Pong, &[i; 5][..])
        );
    }
    raw.send(OpCode::Close, true, &[]).await;
    // RFC 6455 §5.5.1: a close without a code is answered with 1000.
    assert_eq!(Raw::close_code(&raw.frame().await.unwrap()), 1000);
    drop(raw);
    server.await.unwrap();
}

#[tokio::test]
async fn a_close_from_the_server_is_answered_by_the_client() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (stream, _) = l.accept().await.unwrap();
        let mut ws = ws_tokio::accept(stream, &Config::default()).await.unwrap();
        let close = ws_tokio::CloseFrame {
            code: CloseCode::GOING_AWAY,
            reason: "restart".into(),
        };
        ws.send(Message::Close(Some(close))).await.unwrap();
        assert!(ws
            .send(Message::text("late"))
            .await
            .unwrap_err()
            .is_closed());
        let answer = ws.next().await;
        let end = ws.next().await;
        (answer, end.is_none())
    });
    let (mut ws, _) = ws_tokio::connect(addr, request(addr), &Config::default())
        .await
        .unwrap();
    let Some(Ok(Message::Close(Some(close)))) = ws.next().await else {
        panic!("close expected")
    };
    assert_eq!(
        (close.code, close.reason.as_str()),
        (CloseCode::GOING_AWAY, "restart")
    );
    // The client's stream ends once the server closed TCP.
    assert!(ws.next().await.is_none());
    let (answer, ended) = server.await.unwrap();
    assert!(matches!(answer, Some(Ok(Message::Close(Some(c)))) if c.code == CloseCode::GOING_AWAY));
    assert!(ended);
}

fn deflate_config() -> Config {
    Config::default().with_deflate(Some(ws_tokio::DEFAULT_DEFLATE))
}

#[tokio::test]
async fn permessage_deflate_is_negotiated_and_used() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(echo_once(l, deflate_config()));
    let (mut ws, accepted) = ws_tokio::connect(addr, request(addr), &deflate_config())
        .await
        .unwrap();
    let agreed = accepted.deflate().expect("negotiated");
    assert!(agreed.server_no_context_takeover && agreed.client_no_context_takeover);
    let text = "compress me, compress me, compress me. ".repeat(300);
    for _ in 0..3 {
        ws.send(Message::text(text.as_str())).await.unwrap();
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            Message::text(text.as_str())
        );
    }
    ws.close().await.unwrap();
    while ws.next().await.is_some() {}
    server.await.unwrap();

    // On the wire: the server's frame has RSV1 set and is far shorter than the text.
    let (l, addr) = listener().await;
    let server = tokio::spawn(echo_once(l, deflate_config()));
    let offer = request(addr).deflate(ws_handshake::DeflateParams::default());
    let (mut raw, accepted) = Raw::connect(addr, offer).await;
    assert!(accepted.deflate().is_some());
    raw.send(OpCode::Text, true, text.as_bytes()).await;
    let (first, len) = raw.raw_header().await;
    assert_eq!(
        first & 0x40,
        0x40,
        "RFC 7692 §6: RSV1 marks a compressed message"
    );
    assert!(len < text.len() as u64 / 10, "{len} bytes");
    drop(raw);
    server.await.unwrap();
}

#[tokio::test]
async fn a_server_without_deflate_declines_the_offer() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(echo_once(l, Config::default()));
    let (mut ws, accepted) = ws_tokio::connect(addr, request(addr), &deflate_config())
        .await
        .unwrap();
    assert_eq!(accepted.deflate(), None);
    ws.send(Message::text("x".repeat(1000))).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::text("x".repeat(1000))
    );
    drop(ws);
    server.await.unwrap();
}

#[tokio::test]
async fn a_message_over_the_limit_fails_with_1009() {
    let (l, addr) = listener().await;
    let config = Config::default().with_max_message_size(1000);
    let server = tokio::spawn(echo_once(l, config));
    let (mut raw, _) = Raw::connect(addr, request(addr)).await;
    raw.send(OpCode::Binary, true, b"small").await;
    assert_eq!(&raw.frame().await.unwrap().payload()[..], b"small");
    raw.send(OpCode::Binary, false, &[1; 600]).await;
    raw.send(OpCode::Continuation, true, &[2; 600]).await;
    assert_eq!(Raw::close_code(&raw.frame().await.unwrap()), 1009);
    assert!(raw.frame().await.is_none(), "then the server closes TCP");
    let last = server.await.unwrap();
    assert!(
        matches!(
            last,
            Some(Err(Error::Protocol(
                ws_codec::Error::MessageTooLarge { .. }
            )))
        ),
        "{last:?}"
    );
}

#[tokio::test]
async fn a_frame_over_the_limit_fails_from_its_header() {
    let (l, addr) = listener().await;
    let config = Config::default().with_max_frame_size(100);
    let server = tokio::spawn(echo_once(l, config));
    let (mut raw, _) = Raw::connect(addr, request(addr)).await;
    // Only the header of a 1 MiB frame (FIN, binary; masked, 64-bit length; the key): the
    // server fails without waiting for the payload.
    let mut header = vec![0x82, 0x80 | 127];
    header.extend_from_slice(&(1u64 << 20).to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    raw.stream.write_all(&header).await.unwrap();
    assert_eq!(Raw::close_code(&raw.frame().await.unwrap()), 1009);
    let last = server.await.unwrap();
    assert!(matches!(
        last,
        Some(Err(Error::Protocol(ws_codec::Error::FrameTooLarge { .. })))
    ));
}

#[tokio::test]
async fn too_many_fragments_fail_with_1009() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(echo_once(l, Config::default().with_max_fragments(3)));
    let (mut raw, _) = Raw::connect(addr, request(addr)).await;
    raw.send(OpCode::Text, false, b"a").await;
    for _ in 0..3 {
        raw.send(OpCode::Continuation, false, b"b").await;
    }
    assert_eq!(Raw::close_code(&raw.frame().await.unwrap()), 1009);
    server.await.unwrap();
}

#[tokio::test]
async fn messages_before_a_protocol_error_are_answered_before_the_close() {
    // RFC 6455 §7.1.7 with Autobahn 5.15's shape: a message and a bad frame in one read.
    let (l, addr) = listener().await;
    let server = tokio::spawn(echo_once(l, Config::default()));
    let (mut raw, _) = Raw::connect(addr, request(addr)).await;
    let mut wire = BytesMut::new();
    let masked = |op, len| FrameHeader {
        mask: Some([9, 8, 7, 6]),
        ..FrameHeader::new(op, len)
    };
    encode_frame(&masked(OpCode::Text, 2), b"ok", &mut wire);
    encode_frame(&masked(OpCode::Continuation, 1), b"x", &mut wire);
    raw.stream.write_all(&wire).await.unwrap();
    assert_eq!(&raw.frame().await.unwrap().payload()[..], b"ok");
    assert_eq!(Raw::close_code(&raw.frame().await.unwrap()), 1002);
    assert!(raw.frame().await.is_none());
    let last = server.await.unwrap();
    assert!(matches!(
        last,
        Some(Err(Error::Protocol(
            ws_codec::Error::UnexpectedContinuation
        )))
    ));
}

#[tokio::test]
async fn a_bad_handshake_is_refused_and_reported() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (stream, _) = l.accept().await.unwrap();
        ws_tokio::accept(stream, &Config::default()).await.map(drop)
    });
    let mut raw = TcpStream::connect(addr).await.unwrap();
    raw.write_all(
        b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    raw.read_to_end(&mut answer).await.unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 400 "),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let err = server.await.unwrap().unwrap_err();
    assert!(
        matches!(err, Error::Handshake(ws_handshake::Error::MissingKey)),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_refusal_reaches_the_client_with_its_status() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (stream, _) = l.accept().await.unwrap();
        let refuse = |r: &ws_handshake::Request| {
            assert_eq!(r.path(), "/private");
            Err(ws_handshake::Rejection::new(403).body("no"))
        };
        ws_tokio::accept_with(stream, &Config::default(), refuse)
            .await
            .map(drop)
    });
    let request = ClientRequest::new("127.0.0.1", "/private").port(addr.port());
    let err = ws_tokio::connect(addr, request, &Config::default())
        .await
        .map(drop)
        .unwrap_err();
    assert!(matches!(err, Error::Refused(403)), "{err:?}");
    assert!(matches!(server.await.unwrap(), Err(Error::Refused(403))));
}

#[tokio::test]
async fn a_subprotocol_is_chosen_among_the_offers() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (stream, _) = l.accept().await.unwrap();
        let choose =
            |r: &ws_handshake::Request| Ok(r.protocols().find(|p| *p == "chat").map(String::from));
        ws_tokio::accept_with(stream, &Config::default(), choose)
            .await
            .map(drop)
    });
    let request = request(addr).protocol("superchat").protocol("chat");
    let (_ws, accepted) = ws_tokio::connect(addr, request, &Config::default())
        .await
        .unwrap();
    assert_eq!(accepted.protocol(), Some("chat"));
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_silent_client_meets_the_handshake_timeout() {
    let (l, addr) = listener().await;
    let config = Config::default().with_handshake_timeout(Duration::from_millis(50));
    let server = tokio::spawn(async move {
        let (stream, _) = l.accept().await.unwrap();
        ws_tokio::accept(stream, &config).await.map(drop)
    });
    let _silent = TcpStream::connect(addr).await.unwrap();
    assert!(matches!(
        server.await.unwrap(),
        Err(Error::HandshakeTimeout)
    ));
}

#[tokio::test]
async fn tcp_closed_without_a_close_frame_is_an_abnormal_closure() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(echo_once(l, Config::default()));
    let (mut ws, _) = ws_tokio::connect(addr, request(addr), &Config::default())
        .await
        .unwrap();
    ws.send(Message::text("hi")).await.unwrap();
    ws.next().await.unwrap().unwrap();
    drop(ws);
    assert!(matches!(
        server.await.unwrap(),
        Some(Err(Error::AbnormalClosure))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_halves_work_from_two_tasks() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (stream, _) = l.accept().await.unwrap();
        let ws = ws_tokio::accept(stream, &Config::default()).await.unwrap();
        let (mut read, mut write) = ws.split();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Message>(8);
        let writer = tokio::spawn(async move {
            while let Some(m) = rx.recv().await {
                write.send(m).await.unwrap();
            }
            write
        });
        while let Some(Ok(m)) = read.next().await {
            if m.is_data() {
                tx.send(m).await.unwrap();
            }
        }
        drop(tx);
        let write = writer.await.unwrap();
        assert!(read.reunite(write).is_ok());
    });
    let (ws, _) = ws_tokio::connect(addr, request(addr), &Config::default())
        .await
        .unwrap();
    let (mut read, mut write) = ws.split();
    let sender = tokio::spawn(async move {
        for i in 0..200u32 {
            write.feed(Message::text(i.to_string())).await.unwrap();
        }
        write.flush().await.unwrap();
        write
    });
    for i in 0..200u32 {
        assert_eq!(
            read.next().await.unwrap().unwrap(),
            Message::text(i.to_string())
        );
    }
    let mut write = sender.await.unwrap();
    write.close().await.unwrap();
    assert!(matches!(read.next().await, Some(Ok(Message::Close(_)))));
    assert!(read.next().await.is_none());
    server.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_half_answers_pings_while_its_write_half_is_idle() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (stream, _) = l.accept().await.unwrap();
        let ws = ws_tokio::accept(stream, &Config::default()).await.unwrap();
        let (mut read, write) = ws.split();
        let mut pings = 0;
        while let Some(Ok(m)) = read.next().await {
            pings += matches!(m, Message::Ping(_)) as usize;
        }
        drop(write);
        pings
    });
    let (mut raw, _) = Raw::connect(addr, request(addr)).await;
    // The write half is never polled: the read half writes each pong itself, in order.
    for i in 0..50u8 {
        raw.send(OpCode::Ping, true, &[i; 125]).await;
        let pong = raw.frame().await.unwrap();
        assert_eq!(
            (pong.opcode(), &pong.payload()[..]),
            (OpCode::Pong, &[i; 125][..])
        );
    }
    raw.send(OpCode::Close, true, &1000u16.to_be_bytes()).await;
    assert_eq!(Raw::close_code(&raw.frame().await.unwrap()), 1000);
    assert_eq!(server.await.unwrap(), 50);
}

#[tokio::test]
async fn the_sink_is_not_ready_past_the_high_water_mark() {
    let (l, addr) = listener().await;
    const HIGH: usize = 256 << 10;
    let chunk = vec![5u8; 64 << 10];
    let server = {
        let chunk = chunk.clone();
        tokio::spawn(async move {
            let (stream, _) = l.accept().await.unwrap();
            let config = Config::default().with_high_water(HIGH);
            let mut ws = ws_tokio::accept(stream, &config).await.unwrap();
            // The client reads nothing yet: sends fill the socket buffers, then the queue,
            // until the sink stops being ready (at most 64 MiB later).
            let mut sent = 0;
            loop {
                let ready = future::poll_fn(|cx| Poll::Ready(ws.poll_ready_unpin(cx))).await;
                match ready {
                    Poll::Pending => break,
                    Poll::Ready(r) => r.unwrap(),
                }
                ws.start_send_unpin(Message::binary(chunk.clone())).unwrap();
                sent += 1;
                assert!(sent < 1024, "the sink never pushed back");
            }
            assert!(
                ws.queued() >= HIGH,
                "pending only over the mark: {}",
                ws.queued()
            );
            // Once the client reads, the queue drains.
            ws.send(Message::text("last")).await.unwrap();
            assert_eq!(ws.queued(), 0);
            sent
        })
    };
    let (mut ws, _) = ws_tokio::connect(addr, request(addr), &Config::default())
        .await
        .unwrap();
    let mut received = 0;
    loop {
        match ws.next().await.unwrap().unwrap() {
            Message::Binary(b) => {
                assert_eq!(b.len(), chunk.len());
                received += 1;
            }
            Message::Text(t) if t.as_str() == "last" => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(received, server.await.unwrap());
}

#[tokio::test]
async fn from_raw_pairs_two_ends_without_a_handshake() {
    let (a, b) = tokio::io::duplex(1024);
    let mut server = WebSocket::from_raw(a, Role::Server, &Config::default());
    let mut client = WebSocket::from_raw(b, Role::Client, &Config::default());
    client.send(Message::text("over a pipe")).await.unwrap();
    assert_eq!(
        server.next().await.unwrap().unwrap(),
        Message::text("over a pipe")
    );
    server.send(Message::Pong("beat".into())).await.unwrap();
    assert_eq!(
        client.next().await.unwrap().unwrap(),
        Message::Pong("beat".into())
    );
}
