//! Command-line arguments: a small hand parser with one typed error per mistake.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// The usage text printed by `--help` and after an argument error.
pub(crate) const USAGE: &str = "\
usage: ws-load --addr HOST:PORT [options]

Closed-loop WebSocket echo load: every connection keeps DEPTH messages in flight
and sends the next one when an echo returns. With --idle, opens the connections,
holds them, and reports the server's resident memory per connection.

options:
  --addr HOST:PORT   server address (required)
  --conns N          connections, 1 to 10000 (default 1)
  --size BYTES       message payload size; suffixes K/KiB, M/MiB (default 20)
  --binary           send binary messages (default: text)
  --json             send varying JSON documents averaging BYTES (a pool of 64,
                     each 0.75 to 1.25 times --size) instead of one fixed payload
  --deflate          offer permessage-deflate; where the server agrees, messages
                     go out compressed (each on its own) and echoes are inflated
  --depth D          messages in flight per connection, 1 to 1024 (default 1)
  --pace random:MAX_US
                     send each next message at a random moment up to MAX_US
                     (1 to 1000000) after its echo, instead of at once: the server
                     then sees readiness spread out, not in lock-step batches
  --warmup SECS      warm-up before the measured window (default 2)
  --duration SECS    measured window; with --idle, how long to hold (default 5)
  --threads T        event-loop threads, 1 to 64 and at most N (default 1)
  --server-pid PID   read the server's CPU time and RSS from /proc/PID
  --idle             idle mode: hold N connections, report RSS per connection
  --fanout           fan-out mode: all N connections join one topic (--path, e.g.
                     the chat's /ws?room=NAME); the first alone publishes, keeping
                     DEPTH messages in flight against its own copy coming back,
                     and every message any connection receives counts as a
                     delivery (server CPU is then per delivery); messages of
                     16 B or more carry a send-time stamp, so latency is
                     publish to receive over every delivery
  --publisher-addr HOST:PORT
                     fan-out: the publisher connects here instead (another server
                     sharing the topic, e.g. through Redis); its window is then
                     released by the first subscriber's copies, not its own
  --timeout SECS     connect + handshake (and idle echo) timeout (default 10)
  --path PATH        request target of the upgrade (default /)
  --tls-ca FILE      wss: connect through TLS (rustls), trusting the PEM certificates
                     in FILE; the server's certificate must name `localhost`. Every
                     connection makes a full handshake (no resumption)
  -h, --help         print this text
";

/// Largest accepted `--conns`.
pub(crate) const MAX_CONNS: usize = 10_000;
/// Largest accepted `--size`: the peers' message limit.
pub(crate) const MAX_SIZE: usize = 64 << 20;
/// Largest accepted `--depth`.
pub(crate) const MAX_DEPTH: usize = 1024;
/// Largest accepted `--threads`.
pub(crate) const MAX_THREADS: usize = 64;

/// What one run does, as parsed from the command line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Config {
    pub(crate) addr: SocketAddr,
    pub(crate) conns: usize,
    pub(crate) size: usize,
    pub(crate) binary: bool,
    /// Varying JSON documents averaging `size` bytes instead of one fixed payload.
    pub(crate) json: bool,
    /// Offer permessage-deflate (RFC 7692) and compress what is sent when agreed.
    pub(crate) deflate: bool,
    pub(crate) depth: usize,
    /// `--pace random:MAX_US`: the longest random delay before each send (None: at once).
    pub(crate) pace: Option<Duration>,
    pub(crate) warmup: Duration,
    pub(crate) duration: Duration,
    pub(crate) threads: usize,
    pub(crate) server_pid: Option<u32>,
    pub(crate) idle: bool,
    /// Fan-out: one publisher, every connection a subscriber.
    pub(crate) fanout: bool,
    /// Fan-out: where the publisher connects (default: `addr`).
    pub(crate) publisher_addr: Option<SocketAddr>,
    /// `--tls-ca`: wss, trusting the certificates in this PEM file.
    pub(crate) tls_ca: Option<std::path::PathBuf>,
    pub(crate) timeout: Duration,
    pub(crate) path: String,
}

/// The outcome of parsing: a run, or a request for the usage text.
#[derive(Debug, PartialEq)]
// Made once per process: the size of the run's variant costs nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Parsed {
    Run(Config),
    Help,
}

/// A command line that does not describe a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ArgError {
    /// An option this program does not know.
    Unknown(String),
    /// An option given without its value.
    MissingValue(&'static str),
    /// A required option not given.
    Missing(&'static str),
    /// A value that is not a number of the expected kind.
    NotANumber { flag: &'static str, value: String },
    /// A number outside the option's range.
    OutOfRange {
        flag: &'static str,
        value: String,
        range: &'static str,
    },
    /// An address that does not resolve to a socket address.
    BadAddr(String),
    /// A request path that does not start with `/` or holds whitespace.
    BadPath(String),
    /// A `--pace` that is not `random:MAX_US` with MAX_US from 1 to 1000000.
    BadPace(String),
    /// An option given twice.
    Repeated(&'static str),
    /// `--fanout` with `--idle`: fan-out is a load mode.
    FanoutIsLoad,
    /// `--json` with `--binary`: JSON documents are text.
    JsonIsText,
    /// More threads than connections.
    ThreadsExceedConns { threads: usize, conns: usize },
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown(a) => write!(f, "unknown argument `{a}`"),
            Self::MissingValue(flag) => write!(f, "`{flag}` needs a value"),
            Self::Missing(flag) => write!(f, "`{flag}` is required"),
            Self::NotANumber { flag, value } => {
                write!(f, "`{flag}`: `{value}` is not a valid number")
            }
            Self::OutOfRange { flag, value, range } => {
                write!(f, "`{flag}`: {value} is out of range ({range})")
            }
            Self::BadAddr(a) => write!(f, "`--addr`: `{a}` is not a HOST:PORT address"),
            Self::BadPath(p) => write!(
                f,
                "`--path`: `{p}` must start with `/` and hold no whitespace"
            ),
            Self::BadPace(p) => write!(
                f,
                "`--pace`: `{p}` is not `random:MAX_US` with MAX_US from 1 to 1000000"
            ),
            Self::Repeated(flag) => write!(f, "`{flag}` given more than once"),
            Self::FanoutIsLoad => {
                write!(f, "`--fanout` is a load mode: it cannot go with `--idle`")
            }
            Self::JsonIsText => write!(f, "`--json` sends text: it cannot go with `--binary`"),
            Self::ThreadsExceedConns { threads, conns } => write!(
                f,
                "`--threads` {threads} exceeds `--conns` {conns}: a thread needs a connection"
            ),
        }
    }
}

impl std::error::Error for ArgError {}

/// Options that take a value, in the order of the usage text.
const VALUED: &[&str] = &[
    "--addr",
    "--conns",
    "--size",
    "--depth",
    "--warmup",
    "--duration",
    "--threads",
    "--server-pid",
    "--timeout",
    "--path",
    "--publisher-addr",
    "--tls-ca",
    "--pace",
];

/// Parses the arguments after the program name.
pub(crate) fn parse(args: &[String]) -> Result<Parsed, ArgError> {
    let mut values: Vec<(&'static str, String)> = Vec::new();
    let mut binary = false;
    let mut idle = false;
    let mut json = false;
    let mut deflate = false;
    let mut fanout = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        match name {
            "-h" | "--help" => return Ok(Parsed::Help),
            "--binary" | "--idle" | "--json" | "--deflate" | "--fanout" if inline.is_none() => {
                let (flag, seen) = match name {
                    "--binary" => ("--binary", &mut binary),
                    "--idle" => ("--idle", &mut idle),
                    "--json" => ("--json", &mut json),
                    "--fanout" => ("--fanout", &mut fanout),
                    _ => ("--deflate", &mut deflate),
                };
                if *seen {
                    return Err(ArgError::Repeated(flag));
                }
                *seen = true;
            }
            _ => {
                let flag = VALUED
                    .iter()
                    .copied()
                    .find(|f| *f == name)
                    .ok_or_else(|| ArgError::Unknown(arg.clone()))?;
                if values.iter().any(|(f, _)| *f == flag) {
                    return Err(ArgError::Repeated(flag));
                }
                let value = match inline {
                    Some(v) => v,
                    None => it.next().cloned().ok_or(ArgError::MissingValue(flag))?,
                };
                values.push((flag, value));
            }
        }
    }
    let get = |flag: &str| values.iter().find(|(f, _)| *f == flag).map(|(_, v)| v);

    let addr_text = get("--addr").ok_or(ArgError::Missing("--addr"))?;
    let addr = addr_text
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| ArgError::BadAddr(addr_text.clone()))?;
    let conns = int(get("--conns"), "--conns", 1, 1, MAX_CONNS, "1 to 10000")?;
    let size = match get("--size") {
        None => 20,
        Some(v) => size_value(v)?,
    };
    let depth = int(get("--depth"), "--depth", 1, 1, MAX_DEPTH, "1 to 1024")?;
    let threads = int(get("--threads"), "--threads", 1, 1, MAX_THREADS, "1 to 64")?;
    if threads > conns {
        return Err(ArgError::ThreadsExceedConns { threads, conns });
    }
    if json && binary {
        return Err(ArgError::JsonIsText);
    }
    if fanout && idle {
        return Err(ArgError::FanoutIsLoad);
    }
    let publisher_addr = match get("--publisher-addr") {
        None => None,
        Some(v) => Some(
            v.to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| ArgError::BadAddr(v.clone()))?,
        ),
    };
    let warmup = seconds(get("--warmup"), "--warmup", 2.0, false)?;
    let duration = seconds(get("--duration"), "--duration", 5.0, idle)?;
    let timeout = seconds(get("--timeout"), "--timeout", 10.0, false)?;
    let server_pid = match get("--server-pid") {
        None => None,
        Some(v) => Some(v.parse::<u32>().map_err(|_| ArgError::NotANumber {
            flag: "--server-pid",
            value: v.clone(),
        })?),
    };
    let pace = get("--pace").map(|v| pace(v)).transpose()?;
    let path = get("--path").cloned().unwrap_or_else(|| "/".to_string());
    if !path.starts_with('/') || path.chars().any(char::is_whitespace) {
        return Err(ArgError::BadPath(path));
    }
    Ok(Parsed::Run(Config {
        addr,
        conns,
        size,
        binary,
        json,
        deflate,
        depth,
        pace,
        warmup,
        duration,
        threads,
        server_pid,
        idle,
        fanout,
        publisher_addr,
        timeout,
        path,
        tls_ca: get("--tls-ca").map(std::path::PathBuf::from),
    }))
}

/// `random:MAX_US`, MAX_US from 1 to 1 000 000: the longest delay before a send.
fn pace(v: &str) -> Result<Duration, ArgError> {
    v.strip_prefix("random:")
        .and_then(|us| us.parse::<u64>().ok())
        .filter(|us| (1..=1_000_000).contains(us))
        .map(Duration::from_micros)
        .ok_or_else(|| ArgError::BadPace(v.to_string()))
}

/// An integer option with a default and an inclusive range.
fn int(
    value: Option<&String>,
    flag: &'static str,
    default: usize,
    min: usize,
    max: usize,
    range: &'static str,
) -> Result<usize, ArgError> {
    let Some(v) = value else { return Ok(default) };
    let n: usize = v.parse().map_err(|_| ArgError::NotANumber {
        flag,
        value: v.clone(),
    })?;
    if n < min || n > max {
        return Err(ArgError::OutOfRange {
            flag,
            value: v.clone(),
            range,
        });
    }
    Ok(n)
}

/// A byte count: a plain integer or one with a K/KiB/M/MiB suffix (powers of 1024).
fn size_value(v: &str) -> Result<usize, ArgError> {
    let (digits, unit) = match v.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => v.split_at(i),
        None => (v, ""),
    };
    let scale = match unit {
        "" | "B" => 1,
        "k" | "K" | "KiB" => 1 << 10,
        "m" | "M" | "MiB" => 1 << 20,
        _ => {
            return Err(ArgError::NotANumber {
                flag: "--size",
                value: v.to_string(),
            })
        }
    };
    let n: usize = digits.parse().map_err(|_| ArgError::NotANumber {
        flag: "--size",
        value: v.to_string(),
    })?;
    n.checked_mul(scale)
        .filter(|s| *s <= MAX_SIZE)
        .ok_or_else(|| ArgError::OutOfRange {
            flag: "--size",
            value: v.to_string(),
            range: "0 to 64 MiB",
        })
}

/// A non-negative, finite number of seconds; `allow_zero` is false where zero makes no run.
fn seconds(
    value: Option<&String>,
    flag: &'static str,
    default: f64,
    allow_zero: bool,
) -> Result<Duration, ArgError> {
    let Some(v) = value else {
        return Ok(Duration::from_secs_f64(default));
    };
    let s: f64 = v.parse().map_err(|_| ArgError::NotANumber {
        flag,
        value: v.clone(),
    })?;
    let zero_ok = allow_zero || flag == "--warmup";
    if !(0.0..=3600.0).contains(&s) || (s == 0.0 && !zero_ok) {
        return Err(ArgError::OutOfRange {
            flag,
            value: v.clone(),
            range: if zero_ok {
                "0 to 3600 s"
            } else {
                "above 0, up to 3600 s"
            },
        });
    }
    Ok(Duration::from_secs_f64(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn run(s: &str) -> Config {
        match parse(&args(s)) {
            Ok(Parsed::Run(c)) => c,
            other => panic!("`{s}` parsed to {other:?}"),
        }
    }

    #[test]
    fn tls_ca_turns_on_wss() {
        assert_eq!(run("--addr 127.0.0.1:1").tls_ca, None);
        let c = run("--addr 127.0.0.1:1 --tls-ca ca.pem");
        assert_eq!(c.tls_ca.as_deref(), Some(std::path::Path::new("ca.pem")));
    }

    #[test]
    fn defaults_fill_everything_but_the_address() {
        let c = run("--addr 127.0.0.1:9001");
        assert_eq!(c.addr, "127.0.0.1:9001".parse().unwrap());
        assert_eq!(
            (c.conns, c.size, c.binary, c.depth, c.threads, c.idle),
            (1, 20, false, 1, 1, false)
        );
        assert_eq!(c.warmup, Duration::from_secs(2));
        assert_eq!(c.duration, Duration::from_secs(5));
        assert_eq!(c.server_pid, None);
        assert_eq!(c.path, "/");
        assert_eq!(c.pace, None);
    }

    #[test]
    fn pace_takes_a_random_bound_in_microseconds() {
        let c = run("--addr 127.0.0.1:1 --conns 1000 --pace random:2000");
        assert_eq!(c.pace, Some(Duration::from_micros(2000)));
        for bad in ["random:0", "random:1000001", "random:", "fixed:10", "10"] {
            assert_eq!(
                parse(&args(&format!("--addr 127.0.0.1:1 --pace {bad}"))),
                Err(ArgError::BadPace(bad.into()))
            );
        }
    }

    #[test]
    fn the_documented_command_line_parses() {
        let c = run(
            "--addr 127.0.0.1:9001 --conns 100 --size 20 --binary --depth 4 \
             --warmup 0.5 --duration 1.5 --threads 2 --server-pid 42 --timeout 3 --path /echo",
        );
        assert_eq!((c.conns, c.size, c.depth, c.threads), (100, 20, 4, 2));
        assert!(c.binary && !c.idle);
        assert_eq!(c.warmup, Duration::from_millis(500));
        assert_eq!(c.duration, Duration::from_millis(1500));
        assert_eq!(c.server_pid, Some(42));
        assert_eq!(c.timeout, Duration::from_secs(3));
        assert_eq!(c.path, "/echo");
    }

    #[test]
    fn equals_form_and_size_suffixes() {
        assert_eq!(run("--addr=127.0.0.1:1 --size=64KiB").size, 65536);
        assert_eq!(run("--addr 127.0.0.1:1 --size 2M").size, 2 << 20);
        assert_eq!(run("--addr 127.0.0.1:1 --size 0").size, 0);
        assert_eq!(run("--addr 127.0.0.1:1 --size 64MiB").size, MAX_SIZE);
    }

    #[test]
    fn fanout_is_a_load_mode() {
        let c = run("--addr 127.0.0.1:1 --fanout --conns 1000 --path /ws?room=b");
        assert!(c.fanout && !c.idle);
        assert!(!run("--addr 127.0.0.1:1").fanout);
        assert_eq!(
            parse(&args("--addr 127.0.0.1:1 --fanout --idle")),
            Err(ArgError::FanoutIsLoad)
        );
    }

    #[test]
    fn idle_allows_zero_duration_and_load_does_not() {
        assert!(run("--addr 127.0.0.1:1 --idle --duration 0").idle);
        assert_eq!(
            parse(&args("--addr 127.0.0.1:1 --duration 0")),
            Err(ArgError::OutOfRange {
                flag: "--duration",
                value: "0".into(),
                range: "above 0, up to 3600 s"
            })
        );
    }

    #[test]
    fn help_wins() {
        assert_eq!(parse(&args("--conns 3 --help")), Ok(Parsed::Help));
    }

    #[test]
    fn each_mistake_has_its_error() {
        let cases: &[(&str, ArgError)] = &[
            ("--conns 1", ArgError::Missing("--addr")),
            ("--addr", ArgError::MissingValue("--addr")),
            (
                "--addr 127.0.0.1:1 --frobnicate",
                ArgError::Unknown("--frobnicate".into()),
            ),
            ("--addr nonsense", ArgError::BadAddr("nonsense".into())),
            (
                "--addr 127.0.0.1:1 --conns many",
                ArgError::NotANumber {
                    flag: "--conns",
                    value: "many".into(),
                },
            ),
            (
                "--addr 127.0.0.1:1 --conns 10001",
                ArgError::OutOfRange {
                    flag: "--conns",
                    value: "10001".into(),
                    range: "1 to 10000",
                },
            ),
            (
                "--addr 127.0.0.1:1 --conns 0",
                ArgError::OutOfRange {
                    flag: "--conns",
                    value: "0".into(),
                    range: "1 to 10000",
                },
            ),
            (
                "--addr 127.0.0.1:1 --size 65MiB",
                ArgError::OutOfRange {
                    flag: "--size",
                    value: "65MiB".into(),
                    range: "0 to 64 MiB",
                },
            ),
            (
                "--addr 127.0.0.1:1 --size 3GB",
                ArgError::NotANumber {
                    flag: "--size",
                    value: "3GB".into(),
                },
            ),
            (
                "--addr 127.0.0.1:1 --warmup -1",
                ArgError::OutOfRange {
                    flag: "--warmup",
                    value: "-1".into(),
                    range: "0 to 3600 s",
                },
            ),
            (
                "--addr 127.0.0.1:1 --duration inf",
                ArgError::OutOfRange {
                    flag: "--duration",
                    value: "inf".into(),
                    range: "above 0, up to 3600 s",
                },
            ),
            (
                "--addr 127.0.0.1:1 --conns 2 --conns 3",
                ArgError::Repeated("--conns"),
            ),
            (
                "--addr 127.0.0.1:1 --idle --idle",
                ArgError::Repeated("--idle"),
            ),
            (
                "--addr 127.0.0.1:1 --conns 2 --threads 3",
                ArgError::ThreadsExceedConns {
                    threads: 3,
                    conns: 2,
                },
            ),
            (
                "--addr 127.0.0.1:1 --path echo",
                ArgError::BadPath("echo".into()),
            ),
            (
                "--addr 127.0.0.1:1 --server-pid -3",
                ArgError::NotANumber {
                    flag: "--server-pid",
                    value: "-3".into(),
                },
            ),
        ];
        for (line, want) in cases {
            assert_eq!(parse(&args(line)).as_ref(), Err(want), "for `{line}`");
            assert!(!want.to_string().is_empty());
        }
    }
}
