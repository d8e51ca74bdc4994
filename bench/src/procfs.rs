//! CPU time and peak memory of processes, read from Linux `/proc`.

use std::io;
use std::time::Duration;

/// Length of one clock tick of `/proc/<pid>/stat` (USER_HZ, 100 on Linux
/// x86_64 and arm64), so CPU times have a 10 ms resolution.
const TICK: Duration = Duration::from_millis(10);

/// A process: `None` is the load generator itself.
pub(crate) type Pid = Option<u32>;

fn proc_path(pid: Pid, file: &str) -> String {
    match pid {
        Some(pid) => format!("/proc/{pid}/{file}"),
        None => format!("/proc/self/{file}"),
    }
}

/// User + system CPU time consumed so far by every thread of `pid`, dead
/// threads included.
pub(crate) fn cpu_time(pid: Pid) -> io::Result<Duration> {
    let stat = std::fs::read_to_string(proc_path(pid, "stat"))?;
    parse_stat_cpu(&stat)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unexpected /proc stat format"))
}

/// Reads utime + stime (fields 14 and 15) from the text of `/proc/<pid>/stat`.
fn parse_stat_cpu(stat: &str) -> Option<Duration> {
    // The command name (field 2) is in parentheses and may hold spaces.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_ascii_whitespace().skip(11);
    let utime: u32 = fields.next()?.parse().ok()?;
    let stime: u32 = fields.next()?.parse().ok()?;
    Some(TICK * utime + TICK * stime)
}

/// Peak resident set size in KiB (`VmHWM` of `/proc/<pid>/status`).
pub(crate) fn peak_rss_kib(pid: Pid) -> io::Result<u64> {
    let status = std::fs::read_to_string(proc_path(pid, "status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no VmHWM in /proc status"))
}

/// The command name of `pid` (`/proc/<pid>/comm`), or `"?"`.
pub(crate) fn command_name(pid: Pid) -> String {
    std::fs::read_to_string(proc_path(pid, "comm"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "?".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utime_and_stime_after_a_name_with_spaces() {
        let stat = "1234 (node main) S 1 2 3 4 5 6 7 8 9 10 250 31 0 0 20 0 11 0";
        assert_eq!(parse_stat_cpu(stat), Some(Duration::from_millis(2810)));
        assert_eq!(parse_stat_cpu("garbage"), None);
    }

    #[test]
    fn reads_its_own_process() {
        assert!(cpu_time(None).is_ok());
        assert!(peak_rss_kib(None).expect("own VmHWM") > 0);
        assert!(!command_name(None).is_empty());
    }
}
