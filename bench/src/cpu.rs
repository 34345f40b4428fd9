//! CPU time of the calling thread (the in-process sections run on a current-thread
//! runtime, so all their work is on this thread): unlike wall time, it does not count the
//! moments another process had the core.

use std::time::Duration;

pub fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own; the clock id is valid on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// CPU time of `f` (best of `runs`: the least disturbed run).
pub fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (T, Duration) {
    best_of_prepared(runs, || (), |()| f())
}

/// CPU time of `f` on what `prepare` makes for it (not timed), best of `runs`.
pub fn best_of_prepared<I, T>(
    runs: usize,
    mut prepare: impl FnMut() -> I,
    mut f: impl FnMut(I) -> T,
) -> (T, Duration) {
    let mut best: Option<(T, Duration)> = None;
    for _ in 0..runs {
        let input = prepare();
        let start = thread_cpu_time();
        let out = f(input);
        let spent = thread_cpu_time() - start;
        if best.as_ref().is_none_or(|(_, b)| spent < *b) {
            best = Some((out, spent));
        }
    }
    best.expect("at least one run")
}

/// The best CPU time of `a` and of `b`, run in turns (`a`, `b`, `a`, `b`, ...): a figure and
/// its baseline see the same moments of a noisy machine, so their ratio holds even when
/// the machine's speed drifts during the run.
pub fn best_of_interleaved<A, B>(
    runs: usize,
    mut a: impl FnMut() -> A,
    mut b: impl FnMut() -> B,
) -> ((A, Duration), (B, Duration)) {
    let mut best_a: Option<(A, Duration)> = None;
    let mut best_b: Option<(B, Duration)> = None;
    for _ in 0..runs {
        let (out, spent) = best_of(1, &mut a);
        if best_a.as_ref().is_none_or(|(_, best)| spent < *best) {
            best_a = Some((out, spent));
        }
        let (out, spent) = best_of(1, &mut b);
        if best_b.as_ref().is_none_or(|(_, best)| spent < *best) {
            best_b = Some((out, spent));
        }
    }
    (
        best_a.expect("at least one run"),
        best_b.expect("at least one run"),
    )
}
