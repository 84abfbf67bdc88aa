//! CPU time of the server under test, read from `/proc/<pid>/stat`: utime + stime (fields 14 and
//! 15, in clock ticks of `sysconf(_SC_CLK_TCK)`, usually 100 per second), summed over the same
//! pids as the memory figures (the server and its direct children: nginx master + workers).
//! Resolution is one tick (10 ms) per process, so short runs read as 0 or 0.01 s.

/// Clock ticks per second.
pub fn clk_tck() -> u64 {
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// utime + stime of every pid, in ticks; None when a pid is gone.
pub fn ticks(pids: &[u32]) -> Option<u64> {
    if pids.is_empty() {
        return None;
    }
    let mut sum = 0;
    for pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        sum += parse(&stat)?;
    }
    Some(sum)
}

/// utime + stime from one `stat` line. The command name (field 2) is in parentheses and may hold
/// spaces or parentheses itself, so fields are counted after the last `)`.
fn parse(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // rest starts at field 3 (state): utime is field 14, stime field 15.
    let mut f = rest.split_whitespace().skip(11);
    let utime: u64 = f.next()?.parse().ok()?;
    let stime: u64 = f.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_utime_and_stime_after_the_command_name() {
        let line = "4242 (nginx: worker (x)) S 1 4242 4242 0 -1 4194560 500 0 0 0 170 30 0 0 20 0 1 0 100 1000 200 18446744073709551615";
        assert_eq!(super::parse(line), Some(200));
        assert!(super::ticks(&[std::process::id()]).is_some());
    }
}
