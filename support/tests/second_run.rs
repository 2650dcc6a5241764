//! Learner code may not run checks of its own: a second run of the harness in one process
//! panics, so the check that called it fails, and no report of the learner's making is signed.
//! (A test binary of its own: the rule is global to the process.)

use tensorlings_support::check::Outcome;
use tensorlings_support::{CheckResult, Checks};

#[test]
fn checks_run_once_per_process() {
    // As under the runner, which always sets the secret's variable ("stdin" there; any other
    // value means no secret to read).
    // SAFETY: set before any other thread of this test binary reads the environment.
    unsafe { std::env::set_var(tensorlings_support::trust::SECRET_VAR, "none") };
    let report = Checks::named("second_run")
        .check("an exercise that runs checks of its own", |_| -> CheckResult {
            let forged = Checks::named("forged").check("all good", |_| Ok(())).execute();
            assert!(forged.checks.is_empty(), "a second run produced a report");
            Ok(())
        })
        .check("the next check still runs", |_| Ok(()))
        .execute();
    assert_eq!(report.checks[0].outcome, Outcome::Fail);
    assert!(report.checks[0].message.contains("run once per process"), "{}", report.checks[0].message);
    assert_eq!(report.checks[1].outcome, Outcome::Pass);
}
