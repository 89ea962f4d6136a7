//! `cargo xtask interop`: real WebSocket clients (Python, Node, headless Chromium) against the examples.
//!
//! Three clients, each a script under `xtask/interop/` that prints what it sent and what
//! came back and ends with an `N passed, N failed` line:
//! - `py_client.py` (Python `websockets`) and `node_client.js` (Node `ws`) against the
//!   echo server: text, binary, 1 MiB, ping/pong, a compressed echo over
//!   permessage-deflate (each library's own offer), close with a code that must come back;
//! - `browser_driver.py` drives headless Chromium over the DevTools protocol: two pages of
//!   the chat server's page (GET /) in one room exchange a message, and DevTools must show
//!   permessage-deflate in each page's WebSocket handshake answer. The page's DOM
//!   contract is written at the top of that file.
//!
//! Then the same three again over TLS (`--no-tls` skips it): the examples started with
//! `--tls-cert FILE --tls-key FILE` and a throwaway CA made now (`certs.rs`, openssl);
//! Python and Node connect over wss verifying the chain with that CA (Python also checks
//! that a client without it is refused), Chromium loads the chat page over https with
//! `--ignore-certificate-errors`; and the echo example must refuse a missing certificate
//! file and a key that does not match, exiting non-zero with a message naming the file.
//!
//! Whatever is missing is installed first, idempotently: `.venv-websockets/` (pip),
//! `xtask/interop/node_modules/` (`npm ci` from the committed lock file), Debian's
//! `chromium` (apt-get). Servers are commands with `{addr}`; `{python}` (the virtualenv's
//! Python) and `{root}` (the workspace) are also replaced, so stand-ins need no paths.

use crate::autobahn::{self, Server};
use crate::certs::{self, Certs};
use crate::debian;
use crate::step;
use std::fmt::Write as _;
use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The project's examples; `{addr}` becomes `127.0.0.1:PORT`.
const DEFAULT_ECHO: &str = autobahn::DEFAULT_ECHO;
const DEFAULT_CHAT: &str = "cargo run --release -p ws-server --example chat -- {addr}";

/// The stand-ins used with `--standins`, until the examples exist.
const STANDIN_ECHO: &str = "{python} {root}/xtask/autobahn/ws_echo.py {addr}";
const STANDIN_CHAT: &str = "{python} {root}/xtask/interop/standin_chat.py {addr}";

/// Limit for one client script, all of its checks included.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(180);

const USAGE: &str = "\
usage: cargo xtask interop [--echo CMD] [--chat CMD] [--standins] [--only LIST]
                           [--no-tls] [--startup-timeout SECS]

  --echo CMD     echo server command (default: cargo run --release -p ws-server
                 --example echo -- {addr})
  --chat CMD     chat server command (default: ... --example chat -- {addr})
  --standins     use the stand-ins: websockets' echo (xtask/autobahn/ws_echo.py) and
                 xtask/interop/standin_chat.py
  --only LIST    comma-separated subset of: python,node,browser
  --no-tls       skip the second round over TLS (always skipped with --standins);
                 in it the server commands get `--tls-cert FILE --tls-key FILE` appended
  --startup-timeout SECS  limit for a server to accept connections (default 900)

  In commands, {addr} is 127.0.0.1:PORT, {python} the Python of .venv-websockets,
  {root} the workspace root.
";

#[derive(Debug)]
struct Options {
    echo: String,
    chat: String,
    clients: Vec<Client>,
    startup: Duration,
    tls: bool,
    help: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    Python,
    Node,
    Browser,
}

impl Client {
    fn name(self) -> &'static str {
        match self {
            Client::Python => "python",
            Client::Node => "node",
            Client::Browser => "browser",
        }
    }

    fn parse(s: &str) -> Result<Client, String> {
        match s {
            "python" | "py" => Ok(Client::Python),
            "node" => Ok(Client::Node),
            "browser" | "chromium" => Ok(Client::Browser),
            other => Err(format!(
                "unknown client `{other}`: expected python, node or browser"
            )),
        }
    }
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let mut o = Options {
            echo: DEFAULT_ECHO.into(),
            chat: DEFAULT_CHAT.into(),
            clients: vec![Client::Python, Client::Node, Client::Browser],
            startup: Duration::from_secs(900),
            tls: true,
            help: false,
        };
        let (mut echo, mut chat, mut standins) = (None, None, false);
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = |name: &str| {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{name} needs a value\n\n{USAGE}"))
            };
            match a.as_str() {
                "--echo" => echo = Some(value("--echo")?),
                "--chat" => chat = Some(value("--chat")?),
                "--standins" => standins = true,
                "--no-tls" => o.tls = false,
                "--only" => {
                    o.clients = value("--only")?
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(Client::parse)
                        .collect::<Result<_, _>>()?
                }
                "--startup-timeout" => {
                    let v = value("--startup-timeout")?;
                    o.startup = v
                        .parse()
                        .map(Duration::from_secs)
                        .map_err(|_| format!("expected whole seconds, got `{v}`"))?
                }
                "-h" | "--help" => o.help = true,
                other => return Err(format!("unknown argument `{other}`\n\n{USAGE}")),
            }
        }
        if standins {
            // The stand-ins speak no TLS.
            o.tls = false;
            o.echo = STANDIN_ECHO.into();
            o.chat = STANDIN_CHAT.into();
        }
        if let Some(e) = echo {
            o.echo = e;
        }
        if let Some(c) = chat {
            o.chat = c;
        }
        for cmd in [&o.echo, &o.chat] {
            if !cmd.contains("{addr}") {
                return Err(format!("server command must contain {{addr}}: `{cmd}`"));
            }
        }
        if o.clients.is_empty() {
            return Err("--only names no client".into());
        }
        Ok(o)
    }
}

/// Replaces `{addr}`, `{python}` and `{root}` in a server command.
fn expand(template: &str, addr: SocketAddr, python: &Path, root: &Path) -> String {
    template
        .replace("{addr}", &addr.to_string())
        .replace("{python}", &python.display().to_string())
        .replace("{root}", &root.display().to_string())
}

/// One client's outcome.
#[derive(Debug)]
struct Outcome {
    name: String,
    server: String,
    passed: bool,
    line: String,
}

/// `cargo xtask interop ...`.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let opts = Options::parse(args)?;
    if opts.help {
        print!("{USAGE}");
        return Ok(());
    }
    let root = step::root();
    let dir = autobahn::target_dir().join("interop");
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let venv = autobahn::ensure_websockets()?;
    let wants = |c: Client| opts.clients.contains(&c);
    if wants(Client::Node) {
        ensure_node_modules(&root.join("xtask/interop"))?;
    }
    let chromium = if wants(Client::Browser) {
        Some(debian::ensure("chromium", "chromium")?)
    } else {
        None
    };

    let mut outcomes = Vec::new();
    if wants(Client::Python) || wants(Client::Node) {
        let addr = SocketAddr::from(([127, 0, 0, 1], autobahn::free_port()?));
        let command = expand(&opts.echo, addr, &venv.python(), &root);
        println!("==> interop: echo server `{command}`");
        let mut server = Server::start("echo", &command, &dir.join("echo-server.log"))?;
        server.wait_ready(addr, opts.startup)?;
        let url = format!("ws://{addr}/");
        if wants(Client::Python) {
            let mut cmd = Command::new(venv.python());
            cmd.arg(root.join("xtask/interop/py_client.py")).arg(&url);
            outcomes.push(client(Client::Python.name(), &command, cmd, &dir)?);
        }
        if wants(Client::Node) {
            let mut cmd = Command::new("node");
            cmd.arg(root.join("xtask/interop/node_client.js"))
                .arg(&url)
                .current_dir(root.join("xtask/interop"));
            outcomes.push(client(Client::Node.name(), &command, cmd, &dir)?);
        }
        server.stop();
    }
    if let Some(chromium) = &chromium {
        let addr = SocketAddr::from(([127, 0, 0, 1], autobahn::free_port()?));
        let command = expand(&opts.chat, addr, &venv.python(), &root);
        println!("==> interop: chat server `{command}`");
        let mut server = Server::start("chat", &command, &dir.join("chat-server.log"))?;
        server.wait_ready(addr, opts.startup)?;
        let mut cmd = Command::new(venv.python());
        cmd.arg(root.join("xtask/interop/browser_driver.py"))
            .arg(format!("http://{addr}/"))
            .arg("--chromium")
            .arg(chromium)
            .arg("--screenshot")
            .arg(dir.join("chat.png"));
        outcomes.push(client(Client::Browser.name(), &command, cmd, &dir)?);
        server.stop();
    }
    if opts.tls {
        let certs = certs::make(&dir.join("tls"))?;
        over_tls(
            &opts,
            &certs,
            &venv.python(),
            chromium.as_deref(),
            &mut outcomes,
        )?;
    }

    println!("\ninterop summary:");
    let mut failed = Vec::new();
    for o in &outcomes {
        let verdict = if o.passed { "ok" } else { "FAILED" };
        println!(
            "  {:<12} {verdict:<7} {}   (server: {})",
            o.name, o.line, o.server
        );
        if !o.passed {
            failed.push(o.name.as_str());
        }
    }
    if failed.is_empty() {
        println!("interop: {} passed, 0 failed", outcomes.len());
        Ok(())
    } else {
        println!(
            "interop: {} passed, {} failed",
            outcomes.len() - failed.len(),
            failed.len()
        );
        Err(format!("interop failed for: {}", failed.join(", ")))
    }
}

/// The second round: the same clients over TLS, and the echo example's refusals.
fn over_tls(
    opts: &Options,
    certs: &Certs,
    python: &Path,
    chromium: Option<&str>,
    outcomes: &mut Vec<Outcome>,
) -> Result<(), String> {
    let root = step::root();
    let dir = autobahn::target_dir().join("interop");
    let flags = format!(
        " --tls-cert {} --tls-key {}",
        certs.cert.display(),
        certs.key.display()
    );
    let wants = |c: Client| opts.clients.contains(&c);
    if wants(Client::Python) || wants(Client::Node) {
        let addr = SocketAddr::from(([127, 0, 0, 1], autobahn::free_port()?));
        let command = expand(&opts.echo, addr, python, &root) + &flags;
        println!("==> interop: echo server over TLS `{command}`");
        let mut server = Server::start("echo", &command, &dir.join("echo-tls-server.log"))?;
        server.wait_ready(addr, opts.startup)?;
        // The certificate names 127.0.0.1 as well as localhost.
        let url = format!("wss://{addr}/");
        if wants(Client::Python) {
            let mut cmd = Command::new(python);
            cmd.arg(root.join("xtask/interop/py_client.py"))
                .arg(&url)
                .arg("--ca")
                .arg(&certs.ca);
            outcomes.push(client("python/wss", &command, cmd, &dir)?);
        }
        if wants(Client::Node) {
            let mut cmd = Command::new("node");
            cmd.arg(root.join("xtask/interop/node_client.js"))
                .arg(&url)
                .arg("--ca")
                .arg(&certs.ca)
                .current_dir(root.join("xtask/interop"));
            outcomes.push(client("node/wss", &command, cmd, &dir)?);
        }
        server.stop();
        outcomes.push(refusals(opts, certs, python, &dir)?);
    }
    if let Some(chromium) = chromium {
        let addr = SocketAddr::from(([127, 0, 0, 1], autobahn::free_port()?));
        let command = expand(&opts.chat, addr, python, &root) + &flags;
        println!("==> interop: chat server over TLS `{command}`");
        let mut server = Server::start("chat", &command, &dir.join("chat-tls-server.log"))?;
        server.wait_ready(addr, opts.startup)?;
        let mut cmd = Command::new(python);
        cmd.arg(root.join("xtask/interop/browser_driver.py"))
            .arg(format!("https://{addr}/"))
            .arg("--insecure")
            .arg("--chromium")
            .arg(chromium)
            .arg("--screenshot")
            .arg(dir.join("chat-https.png"));
        outcomes.push(client("browser/https", &command, cmd, &dir)?);
        server.stop();
    }
    Ok(())
}

/// The echo example given files it cannot use: it must exit non-zero, and say which file.
fn refusals(opts: &Options, certs: &Certs, python: &Path, dir: &Path) -> Result<Outcome, String> {
    let root = step::root();
    let missing = dir.join("tls/missing.pem");
    let cases = [
        ("a missing certificate", &missing, &certs.key, &missing),
        (
            "a key that does not match",
            &certs.cert,
            &certs.ca_key,
            &certs.ca_key,
        ),
        (
            "a directory as the key",
            &certs.cert,
            &dir.join("tls"),
            &dir.join("tls"),
        ),
    ];
    let addr = SocketAddr::from(([127, 0, 0, 1], autobahn::free_port()?));
    let mut passed = 0;
    let mut failures = Vec::new();
    let mut shown = String::new();
    for (what, cert, key, named) in cases {
        shown = format!(
            "{} --tls-cert {} --tls-key {}",
            expand(&opts.echo, addr, python, &root),
            cert.display(),
            key.display()
        );
        println!("==> interop [echo flags]: {what}: `{shown}`");
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("exec {shown}"))
            .current_dir(&root);
        let log = dir.join("echo-flags.log");
        let status =
            autobahn::run_logged(cmd, &log, CLIENT_TIMEOUT, |line| println!("    {line}"))?;
        let text = fs::read_to_string(&log).unwrap_or_default();
        let said = text.lines().last().unwrap_or_default().to_string();
        println!("    {status}: {said}");
        let name = named.file_name().unwrap_or_default().to_string_lossy();
        if !status.success() && status.code().is_some() && said.contains(&*name) {
            passed += 1;
        } else {
            failures.push(format!("{what}: {status}, said {said:?}"));
        }
    }
    let line = format!("echo flags: {passed} passed, {} failed", failures.len());
    Ok(Outcome {
        name: "echo flags".into(),
        server: shown,
        passed: failures.is_empty(),
        line: if failures.is_empty() {
            line
        } else {
            format!("{line}: {}", failures.join("; "))
        },
    })
}

/// Runs one client script, echoing its lines, and reads its closing `N passed, N failed`.
fn client(name: &str, server: &str, cmd: Command, dir: &Path) -> Result<Outcome, String> {
    println!("==> interop [{name}]: {cmd:?}");
    let log = dir.join(format!("{}.log", name.replace('/', "-")));
    let mut last = String::new();
    let status = autobahn::run_logged(cmd, &log, CLIENT_TIMEOUT, |line| {
        println!("    {line}");
        if line.contains(" passed, ") && line.ends_with(" failed") {
            last = line.to_string();
        }
    });
    let (passed, line) = match status {
        Ok(s) if s.success() && last.ends_with(", 0 failed") => (true, last),
        Ok(s) => {
            let log_text = fs::read_to_string(&log).unwrap_or_default();
            let mut why = format!("exited with {s}");
            if !last.is_empty() {
                let _ = write!(why, "; {last}");
            }
            println!("    (output kept in {}; last lines:)", log.display());
            for l in log_text
                .lines()
                .rev()
                .take(15)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
            {
                println!("    | {l}");
            }
            (false, why)
        }
        Err(e) => (false, e),
    };
    Ok(Outcome {
        name: name.to_string(),
        server: server.to_string(),
        passed,
        line,
    })
}

/// `npm ci` in `xtask/interop/` unless its node_modules matches the lock file.
pub(crate) fn ensure_node_modules(dir: &Path) -> Result<(), String> {
    let lock = dir.join("package-lock.json");
    let bytes = fs::read(&lock).map_err(|e| format!("{}: {e}", lock.display()))?;
    let stamp = format!(
        "package-lock.json: fnv1a64 {:016x}\n",
        autobahn::fnv1a64(&bytes)
    );
    let marker = dir.join("node_modules/.xtask-installed");
    if fs::read_to_string(&marker).ok().as_deref() == Some(stamp.as_str())
        && dir.join("node_modules/ws/package.json").exists()
    {
        println!(
            "==> node modules: cached in {} (marker matches)",
            dir.join("node_modules").display()
        );
        return Ok(());
    }
    let mut npm = Command::new("npm");
    npm.args(["ci", "--no-audit", "--no-fund"]).current_dir(dir);
    autobahn::run_step("node modules: npm ci", npm, autobahn::INSTALL_LIMIT)?;
    fs::write(&marker, stamp).map_err(|e| format!("{}: {e}", marker.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &[&str]) -> Result<Options, String> {
        Options::parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn defaults_point_at_the_examples() {
        let o = parse(&[]).unwrap();
        assert_eq!(
            o.echo,
            "cargo run --release -p ws-server --example echo -- {addr}"
        );
        assert_eq!(
            o.chat,
            "cargo run --release -p ws-server --example chat -- {addr}"
        );
        assert_eq!(o.clients, [Client::Python, Client::Node, Client::Browser]);
        assert!(o.tls);
        assert!(!parse(&["--no-tls"]).unwrap().tls);
        assert!(!parse(&["--standins"]).unwrap().tls);
    }

    #[test]
    fn standins_and_explicit_commands() {
        let o = parse(&["--standins"]).unwrap();
        assert_eq!(o.echo, STANDIN_ECHO);
        assert_eq!(o.chat, STANDIN_CHAT);
        let o = parse(&["--standins", "--echo", "my-echo {addr}"]).unwrap();
        assert_eq!(o.echo, "my-echo {addr}");
        assert_eq!(o.chat, STANDIN_CHAT);
        assert!(parse(&["--chat", "no placeholder"]).is_err());
        assert!(parse(&["--only", "python,lynx"]).is_err());
        assert_eq!(
            parse(&["--only", "node, browser"]).unwrap().clients,
            [Client::Node, Client::Browser]
        );
    }

    #[test]
    fn placeholders_are_expanded() {
        let addr: SocketAddr = "127.0.0.1:4242".parse().unwrap();
        let s = expand(
            STANDIN_CHAT,
            addr,
            Path::new("/v/bin/python"),
            Path::new("/w"),
        );
        assert_eq!(
            s,
            "/v/bin/python /w/xtask/interop/standin_chat.py 127.0.0.1:4242"
        );
    }
}
