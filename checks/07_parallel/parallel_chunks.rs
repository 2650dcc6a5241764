//! Checks of 07_parallel/parallel_chunks. Parallelism is observed, never timed: `f` is a probe
//! that counts how many of its calls run at once and on which threads, and reads the intra-op
//! thread count each call runs with. A call waits (up to `WAIT`) until a second call has been
//! seen running, so threads that really overlap always show it, however loaded the machine; a
//! serial answer waits once, then gives up. The thread count is set to 3 (not this machine's
//! default) before each call, and read afterwards in the calling thread and in a thread started
//! after the call, which is where a count left at 1 shows (libtorch's default for new threads).
//!
//! Regimes: 10 rows in 4 pieces (uneven), more pieces than rows (3 rows, 4 pieces), one row,
//! no rows, a transposed (non-contiguous) input, float64; results compared with `f(x)` entry by
//! entry (the first piece is held back a little so that it finishes last: results in the order
//! they finish are caught); the input left as it was. `with_intra_op_threads`: the count inside,
//! the value returned, nested calls, and the count restored after a panic.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use tch::{Device, Kind, Tensor};
use tensorlings_support::random::randn;
use tensorlings_support::{
    CheckResult, Checks, Failure, Tolerance, assert_close, assert_unchanged, check_that, within,
};

tensorlings_support::exercise_modules!("07_parallel/parallel_chunks.rs");

/// How long a call of the probe waits for a second call to start: starting a thread takes
/// microseconds, this is for a machine under heavy load. A serial answer waits this long once per
/// process: after that no probe waits (`GAVE_UP`), and the checks fail fast.
const WAIT: Duration = Duration::from_secs(5);

/// Set when a probe has waited `WAIT` in vain.
static GAVE_UP: AtomicBool = AtomicBool::new(false);

/// The intra-op thread count the checks set before calling the exercise.
const BEFORE: i32 = 3;

/// The operation a check passes as `f`, instrumented.
struct Probe {
    /// How many calls must be seen running at once before a call goes on: 2, or 1 when there is
    /// only one piece.
    want: usize,
    running: AtomicUsize,
    max_running: AtomicUsize,
    /// The row of `x` that starts the first piece (its values: a `Tensor` is not `Sync`): its
    /// call is held back so that it ends last.
    first_row: Option<Vec<f64>>,
    calls: Mutex<Vec<(ThreadId, i32)>>,
}

/// The values of row 0 of `t`, if it has rows.
fn first_row(t: &Tensor) -> Option<Vec<f64>> {
    if t.size()[0] == 0 {
        return None;
    }
    Vec::<f64>::try_from(t.get(0).to_kind(Kind::Double).to_device(Device::Cpu)).ok()
}

impl Probe {
    fn new(x: &Tensor, want: usize) -> Self {
        Probe {
            want,
            running: AtomicUsize::new(0),
            max_running: AtomicUsize::new(0),
            first_row: first_row(x),
            calls: Mutex::new(Vec::new()),
        }
    }

    fn f(&self, piece: &Tensor) -> Tensor {
        let p = self;
        let now = p.running.fetch_add(1, SeqCst) + 1;
        p.max_running.fetch_max(now, SeqCst);
        let intra = tch::get_num_threads();
        let deadline = Instant::now() + WAIT;
        while p.max_running.load(SeqCst) < p.want && !GAVE_UP.load(SeqCst) {
            if Instant::now() > deadline {
                GAVE_UP.store(true, SeqCst);
            }
            thread::sleep(Duration::from_millis(1));
        }
        if p.first_row.is_some() && first_row(piece) == p.first_row && p.want > 1 {
            thread::sleep(Duration::from_millis(30));
        }
        p.calls.lock().unwrap_or_else(|e| e.into_inner()).push((thread::current().id(), intra));
        p.running.fetch_sub(1, SeqCst);
        row_op(piece)
    }
}

/// What `f` computes: row by row, so the pieces may be cut anywhere.
fn row_op(t: &Tensor) -> Tensor {
    t.softmax(-1, t.kind()) * 2.0 - 0.5
}

/// The intra-op count a thread started now gets.
fn count_in_a_new_thread() -> i32 {
    thread::spawn(tch::get_num_threads).join().unwrap_or(-1)
}

/// Fails unless the count is `BEFORE` in this thread and in a new one.
fn count_restored(after: &str) -> CheckResult {
    let here = tch::get_num_threads();
    check_that!(
        here == BEFORE,
        "the intra-op thread count was {BEFORE} before {after} and is {here} afterwards: set it back \
         to what `tch::get_num_threads()` said before"
    );
    let new = count_in_a_new_thread();
    check_that!(
        new == BEFORE,
        "the intra-op thread count was {BEFORE} before {after}, and a thread started afterwards gets \
         {new}: libtorch's default for new threads is the last count set anywhere, so set the count \
         back in the calling thread after the workers are done (not inside a worker)"
    );
    Ok(())
}

fn maps(x: &Tensor, chunks: i64) -> CheckResult {
    let rows = x.size()[0];
    let layout = if x.is_contiguous() { "" } else { " (transposed)" };
    within(format!("for x of shape {:?}{layout} in {chunks} pieces", x.size()), || {
        let before = x.copy();
        let expected = row_op(&x.copy());
        let pieces = rows.min(chunks).max(0) as usize;
        let probe = Probe::new(x, pieces.min(2));
        tch::set_num_threads(BEFORE);
        let got = exercise::parallel_map_chunks(x, chunks, |piece| probe.f(piece));
        assert_unchanged("x", x, &before)?;
        assert_close("parallel_map_chunks(x, chunks, f)", &got, &expected, Tolerance::for_kind(x.kind()))?;
        let calls = probe.calls.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut threads: Vec<ThreadId> = Vec::new();
        for (thread, _) in &calls {
            if !threads.contains(thread) {
                threads.push(*thread);
            }
        }
        let max = probe.max_running.load(SeqCst);
        check_that!(
            pieces < 2 || max >= 2,
            "the pieces ran one after another: f was called {} times, on {} thread(s), but never \
             twice at the same time; spawn every worker inside std::thread::scope first and join \
             them afterwards (a join right after each spawn waits for that worker before starting \
             the next)",
            calls.len(),
            threads.len()
        );
        // One piece may run in the calling thread with its pool: nothing runs beside it.
        if let Some((_, intra)) = calls.iter().find(|c| c.1 != 1).filter(|_| pieces >= 2) {
            return Err(Failure::new(format!(
                "f ran with {intra} intra-op threads (the count was {BEFORE} before the call): with \
                 several workers each running libtorch on {intra} threads, the cores are \
                 oversubscribed; give the workers 1 intra-op thread each (with_intra_op_threads(1, \
                 ..) around the scope)"
            )));
        }
        count_restored("parallel_map_chunks")
    })
}

fn main() {
    Checks::new()
        .check("with_intra_op_threads sets the count for f and sets it back", |_ctx| {
            for threads in [1, 2, 5] {
                within(format!("for threads = {threads}"), || {
                    tch::set_num_threads(BEFORE);
                    let (inside, value) =
                        exercise::with_intra_op_threads(threads, || (tch::get_num_threads(), 42));
                    check_that!(
                        inside == threads,
                        "f ran with {inside} intra-op threads: set the count to {threads} before calling f"
                    );
                    check_that!(
                        value == 42,
                        "`with_intra_op_threads` returned {value}, not what f returned (42)"
                    );
                    count_restored("with_intra_op_threads")
                })?;
            }
            Ok(())
        })
        .check("with_intra_op_threads nested: each level sets back its own count", |_ctx| {
            tch::set_num_threads(BEFORE);
            let (outer, inner, between) = exercise::with_intra_op_threads(2, || {
                let outer = tch::get_num_threads();
                let inner = exercise::with_intra_op_threads(1, tch::get_num_threads);
                (outer, inner, tch::get_num_threads())
            });
            check_that!(
                (outer, inner, between) == (2, 1, 2),
                "with_intra_op_threads(2, || with_intra_op_threads(1, ..)) ran with {outer}, then {inner}, \
                 then {between} threads, not 2, 1, 2"
            );
            count_restored("the nested with_intra_op_threads")
        })
        .check("with_intra_op_threads sets the count back when f panics", |_ctx| {
            tch::set_num_threads(BEFORE);
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                exercise::with_intra_op_threads(1, || panic!("the panic the check raises in f"))
            }));
            check_that!(outcome.is_err(), "with_intra_op_threads caught the panic of f: let it propagate");
            count_restored("with_intra_op_threads(1, f) where f panicked").map_err(|f| {
                f.context("when f panics (a guard whose Drop sets the count back runs during the unwinding)")
            })
        })
        .check("parallel_map_chunks: 10 rows in 4 pieces, at the same time, 1 intra-op thread each", |ctx| {
            maps(&randn(&[10, 6], Kind::Float, ctx.device()), 4)
        })
        .check("parallel_map_chunks with more pieces than rows, one row, and no rows", |ctx| {
            maps(&randn(&[3, 5], Kind::Float, ctx.device()), 4)?;
            maps(&randn(&[1, 4], Kind::Float, ctx.device()), 3)?;
            maps(&randn(&[0, 3], Kind::Float, ctx.device()), 2)
        })
        .check("parallel_map_chunks on a transposed input, and in float64", |ctx| {
            maps(&randn(&[7, 5], Kind::Float, ctx.device()).tr(), 2)?;
            maps(&randn(&[9, 4], Kind::Double, ctx.device()), 3)
        })
        .run()
}
