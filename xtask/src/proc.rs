//! A server process under test (the echo example, release build) and what
//! Linux's /proc says about it: resident memory, open fds, threads, CPU time.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::step;

/// Clock ticks per second of /proc's CPU times (`USER_HZ`, 100 on every
/// architecture Linux ships).
const USER_HZ: u64 = 100;

/// Builds the echo example (release).
pub(crate) fn build_echo() -> Result<(), String> {
    step::run(
        "build echo example",
        step::cargo(&[
            "build",
            "--release",
            "--quiet",
            "-p",
            "ws-server",
            "--example",
            "echo",
        ]),
    )
}

fn echo_path() -> PathBuf {
    crate::autobahn::target_dir().join("release/examples/echo")
}

/// Reads a server's stdout on a thread of its own: the address of its
/// `listening on ADDR` line arrives on the channel; the rest is drained, so
/// the server never blocks on a full pipe.
pub(crate) fn listening(stdout: ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref().map_while(Result::ok) {
            if let Some(addr) = line.trim().strip_prefix("listening on ") {
                let _ = tx.send(addr.trim().to_string());
                break;
            }
        }
        for _ in lines {}
    });
    rx
}

/// The echo example running as a child; killed (by its own handle) when dropped.
/// Its log (stderr) is drained and dropped; its counts come from `GET /metrics`.
pub(crate) struct Echo {
    child: Child,
    pub(crate) addr: String,
    pub(crate) pid: u32,
}

impl Drop for Echo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Echo {
    /// Starts it on a free port with `bridge` (`poll` or `threads`) and, if
    /// given, that soft open-file limit; waits for `listening on ADDR`.
    pub(crate) fn start(bridge: &str, nofile: Option<u64>) -> Result<Echo, String> {
        let limit = match nofile {
            Some(n) => format!("ulimit -Sn {n} || exit 3; "),
            None => "ulimit -Sn \"$(ulimit -Hn)\" 2>/dev/null; ".to_string(),
        };
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!("{limit}exec \"$@\""))
            .arg("sh")
            .arg(echo_path())
            .arg("127.0.0.1:0")
            .env("WS_BRIDGE", bridge)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", echo_path().display()))?;
        let pid = child.id();
        let stdout = child.stdout.take().ok_or("no stdout pipe")?;
        let stderr = child.stderr.take().ok_or("no stderr pipe")?;
        let rx = listening(stdout);
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut BufReader::new(stderr), &mut std::io::sink());
        });
        let mut echo = Echo {
            child,
            addr: String::new(),
            pid,
        };
        echo.addr = rx
            .recv_timeout(Duration::from_secs(15))
            .map_err(|_| "the echo example did not print `listening on ADDR` in 15 s")?;
        Ok(echo)
    }

    /// Upgraded connections ended so far, by the code `on_close` got
    /// (`ws_closes_total{code="…"}` of the example's `GET /metrics`), sorted.
    pub(crate) fn close_codes(&self) -> Result<Vec<(String, u64)>, String> {
        let mut tcp = TcpStream::connect(&self.addr).map_err(|e| format!("metrics: {e}"))?;
        tcp.set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .map_err(|e| format!("metrics: {e}"))?;
        let mut text = String::new();
        tcp.read_to_string(&mut text)
            .map_err(|e| format!("metrics: {e}"))?;
        Ok(parse_closes(&text))
    }

    pub(crate) fn sample(&self) -> Result<Sample, String> {
        Sample::of(self.pid)
    }
}

/// `ws_closes_total{code="1006"} 12` lines of an OpenMetrics text: (code, count).
fn parse_closes(text: &str) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("ws_closes_total{code=\""))
        .filter_map(|rest| {
            let (code, value) = rest.split_once("\"}")?;
            Some((code.to_string(), value.trim().parse::<f64>().ok()? as u64))
        })
        .collect();
    v.sort();
    v
}

/// One reading of a process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sample {
    pub(crate) rss: u64,
    pub(crate) fds: usize,
    pub(crate) threads: usize,
    /// User plus system CPU time, all threads.
    pub(crate) cpu: Duration,
}

impl Sample {
    pub(crate) fn of(pid: u32) -> Result<Sample, String> {
        let status = read(&format!("/proc/{pid}/status"))?;
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map_err(|e| format!("/proc/{pid}/fd: {e}"))?
            .count();
        Ok(Sample {
            rss: field(&status, "VmRSS:")? * 1024,
            fds,
            threads: field(&status, "Threads:")? as usize,
            cpu: cpu(&read(&format!("/proc/{pid}/stat"))?)?,
        })
    }
}

/// CPU time of the thread of `pid` whose name is `name` (`ws-accept-PORT`).
pub(crate) fn thread_cpu(pid: u32, name: &str) -> Result<Duration, String> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).map_err(|e| e.to_string())?;
    for t in tasks.flatten() {
        let dir = t.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim() == name {
            return cpu(&read(&dir.join("stat").display().to_string())?);
        }
    }
    Err(format!("no thread `{name}` in process {pid}"))
}

fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))
}

fn field(status: &str, name: &str) -> Result<u64, String> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no `{name}` in /proc status"))
}

/// utime + stime from a `stat` line (fields 14 and 15, counted after the
/// command name's closing parenthesis).
fn cpu(stat: &str) -> Result<Duration, String> {
    let rest = stat.rfind(')').map(|i| &stat[i + 1..]).ok_or("bad stat")?;
    let mut f = rest.split_whitespace().skip(11);
    let mut tick = || -> Result<u64, String> {
        f.next()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| "bad stat times".to_string())
    };
    let ticks = tick()? + tick()?;
    Ok(Duration::from_millis(ticks * 1000 / USER_HZ))
}

/// Raises this process's soft open-file limit to `want` (at most the hard limit).
pub(crate) fn raise_nofile(want: u64) -> Result<u64, String> {
    let (soft, hard) = rlimit::Resource::NOFILE.get().map_err(|e| e.to_string())?;
    if soft >= want {
        return Ok(soft);
    }
    let new = want.min(hard);
    rlimit::Resource::NOFILE
        .set(new, hard)
        .map_err(|e| format!("raise the open-file limit: {e}"))?;
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_times_are_counted_after_the_command_name() {
        let stat = "12 (a (b) c) S 1 1 1 0 -1 0 0 0 0 0 250 75 0 0 20 0 3 0 100 1 1";
        assert_eq!(cpu(stat).unwrap(), Duration::from_millis(3250));
    }

    #[test]
    fn close_codes_from_openmetrics_text() {
        let text = "# HELP ws_closes Connections ended, by close code.\n# TYPE ws_closes counter\n\
                    ws_closes_total{code=\"1006\"} 12\nws_closes_total{code=\"1000\"} 3\n\
                    ws_messages_sent_total 9\n";
        assert_eq!(
            parse_closes(text),
            vec![("1000".to_string(), 3), ("1006".to_string(), 12)]
        );
    }

    #[test]
    fn this_process_can_be_sampled() {
        let s = Sample::of(std::process::id()).unwrap();
        assert!(s.rss > 0 && s.fds > 0 && s.threads > 0);
    }
}
