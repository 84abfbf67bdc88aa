//! CPU time of the server under test, read from `/proc/<pid>/stat`: utime and stime (fields 14 and
//! 15, in clock ticks of `sysconf(_SC_CLK_TCK)`, usually 100 per second), summed over the same
//! pids as the memory figures (the server and its direct children: nginx master + workers).
//! Resolution is one tick (10 ms) per process, so short runs read as 0 or 0.01 s.
//!
//! The two are kept apart: stime is the kernel's share (system calls, and the loopback's TCP
//! receive work, which runs in the sending process here), the floor every server pays for one
//! write per delivery; utime is what the server itself adds.

/// Clock ticks per second.
pub fn clk_tck() -> u64 {
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// CPU time in ticks: in user space and in the kernel.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Ticks {
    pub user: u64,
    pub system: u64,
}

impl Ticks {
    pub fn total(self) -> u64 {
        self.user + self.system
    }

    /// What was spent since `before`.
    pub fn since(self, before: Ticks) -> Ticks {
        Ticks { user: self.user.saturating_sub(before.user), system: self.system.saturating_sub(before.system) }
    }
}

/// utime and stime of every pid, summed; None when a pid is gone.
pub fn ticks(pids: &[u32]) -> Option<Ticks> {
    if pids.is_empty() {
        return None;
    }
    let mut sum = Ticks::default();
    for pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let t = parse(&stat)?;
        sum.user += t.user;
        sum.system += t.system;
    }
    Some(sum)
}

/// utime and stime from one `stat` line. The command name (field 2) is in parentheses and may
/// hold spaces or parentheses itself, so fields are counted after the last `)`.
fn parse(stat: &str) -> Option<Ticks> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // rest starts at field 3 (state): utime is field 14, stime field 15.
    let mut f = rest.split_whitespace().skip(11);
    let user: u64 = f.next()?.parse().ok()?;
    let system: u64 = f.next()?.parse().ok()?;
    Some(Ticks { user, system })
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_utime_and_stime_after_the_command_name() {
        let line = "4242 (nginx: worker (x)) S 1 4242 4242 0 -1 4194560 500 0 0 0 170 30 0 0 20 0 1 0 100 1000 200 18446744073709551615";
        assert_eq!(super::parse(line), Some(super::Ticks { user: 170, system: 30 }));
        assert!(super::ticks(&[std::process::id()]).is_some());
    }
}
