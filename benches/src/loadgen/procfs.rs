//! What the load generator reads about the broker process from `/proc` (Linux): CPU time
//! and resident memory. (System calls per message are for `strace -c -f`: `/proc/PID/io`
//! does not count `recv`/`send`, which tokio uses.)

use std::fs;

/// Linux reports CPU time in clock ticks of 1/100 s (`USER_HZ`) on every architecture
/// this runs on.
const TICKS_PER_SECOND: f64 = 100.0;

/// One reading of a process's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sample {
    /// User plus system CPU time, seconds.
    pub cpu_seconds: f64,
    /// Resident set size, bytes.
    pub rss_bytes: u64,
}

/// Reads the counters of process `pid`; `None` once it is gone.
pub fn sample(pid: u32) -> Option<Sample> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after it follow its ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // Fields 14 and 15 of the file (utime, stime) are 11 and 12 after the name and state.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })?;
    Some(Sample {
        cpu_seconds: ticks as f64 / TICKS_PER_SECOND,
        rss_bytes: rss_kib * 1024,
    })
}

/// This process's resident set, bytes (for the memory examples).
pub fn own_rss_bytes() -> u64 {
    sample(std::process::id()).map_or(0, |s| s.rss_bytes)
}

/// Raises this process's soft limit on open files to `wanted` (or to the hard limit, if
/// lower); returns the limit now in force. Children (brokers started by `compare`) inherit it.
pub fn raise_open_files(wanted: u64) -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    let current = limit.current.unwrap_or(u64::MAX);
    if current >= wanted {
        return current;
    }
    let target = limit.maximum.map_or(wanted, |max| max.min(wanted));
    limit.current = Some(target);
    match setrlimit(Resource::Nofile, limit) {
        Ok(()) => target,
        Err(_) => current,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let sample = sample(std::process::id()).expect("our own /proc entry");
        assert!(sample.rss_bytes > 0);
    }

    #[test]
    fn a_missing_process_has_no_sample() {
        assert_eq!(sample(u32::MAX), None);
    }
}
