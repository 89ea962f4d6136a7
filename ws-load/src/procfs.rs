//! Reading CPU time and resident memory of a process from Linux's `/proc`.

use std::fmt;
use std::time::Duration;

/// Clock ticks per second of `/proc/PID/stat` times (`USER_HZ`). The kernel exports
/// these fields in `USER_HZ`, which is 100 on every architecture Linux ships today
/// (`sysconf(_SC_CLK_TCK)`; the crate forbids the `unsafe` a libc call would need).
const USER_HZ: u64 = 100;

/// A `/proc` file that could not be read or did not have the expected shape.
#[derive(Debug)]
pub(crate) enum ProcError {
    /// The file could not be read (no such process, no permission).
    Read { path: String, err: std::io::Error },
    /// `stat` without the closing `)` of the command name.
    NoCommEnd,
    /// `stat` with fewer fields than `utime` and `stime` need.
    ShortStat,
    /// A `stat` time field that is not a number.
    BadTicks(String),
    /// `status` without a `VmRSS:` line (a kernel thread or a zombie).
    NoVmRss,
    /// A `VmRSS:` line not of the form `VmRSS: <n> kB`.
    BadVmRss(String),
}

impl fmt::Display for ProcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, err } => write!(f, "cannot read {path}: {err}"),
            Self::NoCommEnd => write!(f, "stat line has no `)` after the command name"),
            Self::ShortStat => write!(f, "stat line is too short for utime and stime"),
            Self::BadTicks(t) => write!(f, "stat time field `{t}` is not a number"),
            Self::NoVmRss => write!(f, "status has no VmRSS line"),
            Self::BadVmRss(l) => write!(f, "VmRSS line `{l}` is not `VmRSS: <n> kB`"),
        }
    }
}

impl std::error::Error for ProcError {}

/// User plus system CPU time from the text of `/proc/PID/stat`.
pub(crate) fn parse_cpu(stat: &str) -> Result<Duration, ProcError> {
    // The command name (field 2) is in parentheses and may itself hold spaces and
    // parentheses, so the fields are counted from the last `)`.
    let end = stat.rfind(')').ok_or(ProcError::NoCommEnd)?;
    let mut fields = stat[end + 1..].split_ascii_whitespace();
    // After `)`: state is field 3, utime field 14, stime field 15 (proc(5)).
    let utime = fields.nth(11).ok_or(ProcError::ShortStat)?;
    let stime = fields.next().ok_or(ProcError::ShortStat)?;
    let ticks = |t: &str| {
        t.parse::<u64>()
            .map_err(|_| ProcError::BadTicks(t.to_string()))
    };
    let total = ticks(utime)? + ticks(stime)?;
    Ok(Duration::from_millis(total * 1000 / USER_HZ))
}

/// Resident set size in bytes from the text of `/proc/PID/status`.
pub(crate) fn parse_rss(status: &str) -> Result<u64, ProcError> {
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or(ProcError::NoVmRss)?;
    let bad = || ProcError::BadVmRss(line.to_string());
    let mut parts = line["VmRSS:".len()..].split_ascii_whitespace();
    let kib: u64 = parts.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
    match (parts.next(), parts.next()) {
        (Some("kB"), None) => Ok(kib * 1024),
        _ => Err(bad()),
    }
}

fn read(path: String) -> Result<String, ProcError> {
    std::fs::read_to_string(&path).map_err(|err| ProcError::Read { path, err })
}

/// CPU time (user + system) used so far by process `pid`, `None` for this process.
pub(crate) fn cpu(pid: Option<u32>) -> Result<Duration, ProcError> {
    parse_cpu(&read(proc_path(pid, "stat"))?)
}

/// Resident set size of process `pid` in bytes.
pub(crate) fn rss(pid: u32) -> Result<u64, ProcError> {
    parse_rss(&read(proc_path(Some(pid), "status"))?)
}

fn proc_path(pid: Option<u32>, file: &str) -> String {
    match pid {
        Some(p) => format!("/proc/{p}/{file}"),
        None => format!("/proc/self/{file}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "1234 (my (odd) srv) S 1 1234 1234 0 -1 4194560 500 0 0 0 \
                        250 75 0 0 20 0 3 0 100 12345678 900 18446744073709551615";

    #[test]
    fn cpu_is_utime_plus_stime_counted_after_the_last_paren() {
        assert_eq!(parse_cpu(STAT).unwrap(), Duration::from_millis(3250));
    }

    #[test]
    fn cpu_of_this_process_reads() {
        assert!(cpu(None).is_ok());
    }

    #[test]
    fn rss_of_this_process_is_positive() {
        assert!(rss(std::process::id()).unwrap() > 0);
    }

    #[test]
    fn missing_process_is_a_read_error() {
        // Pid 0 has no /proc entry.
        assert!(matches!(rss(0), Err(ProcError::Read { .. })));
    }

    #[test]
    fn malformed_stat_lines() {
        assert!(matches!(
            parse_cpu("1234 srv S 1"),
            Err(ProcError::NoCommEnd)
        ));
        assert!(matches!(
            parse_cpu("1 (x) S 1 2 3"),
            Err(ProcError::ShortStat)
        ));
        let bad = STAT.replace(" 250 ", " 2x0 ");
        assert!(matches!(parse_cpu(&bad), Err(ProcError::BadTicks(t)) if t == "2x0"));
    }

    #[test]
    fn rss_reads_kib_and_returns_bytes() {
        let status = "Name:\tsrv\nVmPeak:\t  9000 kB\nVmRSS:\t    6344 kB\nThreads:\t3\n";
        assert_eq!(parse_rss(status).unwrap(), 6344 * 1024);
    }

    #[test]
    fn malformed_status() {
        assert!(matches!(parse_rss("Name:\tk\n"), Err(ProcError::NoVmRss)));
        assert!(matches!(
            parse_rss("VmRSS:\t12 MB\n"),
            Err(ProcError::BadVmRss(_))
        ));
        assert!(matches!(
            parse_rss("VmRSS:\tx kB\n"),
            Err(ProcError::BadVmRss(_))
        ));
        assert!(matches!(
            parse_rss("VmRSS:\t12\n"),
            Err(ProcError::BadVmRss(_))
        ));
    }
}
