//! The memory ceiling as a learner meets it: an exercise that asks libtorch for 60% of the
//! machine's memory fails the check that asked, with the size and the limit, and the checks
//! after it still run. (A test binary of its own: the limit is global to the process.)

use tch::{Device, Kind, Tensor};
use tensorlings_support::check::{MEMORY_LIMIT_VAR, Outcome};
use tensorlings_support::{CheckResult, Checks};

fn machine_memory() -> u64 {
    // SAFETY: sysconf only reads configuration values.
    let (pages, page_size) =
        unsafe { (libc::sysconf(libc::_SC_PHYS_PAGES), libc::sysconf(libc::_SC_PAGESIZE)) };
    pages as u64 * page_size as u64
}

#[test]
fn an_allocation_past_the_limit_fails_its_check_with_the_size_and_the_limit() {
    let memory = machine_memory();
    // The runner's default: half of the machine.
    // SAFETY: set before any other thread of this test binary reads the environment.
    unsafe { std::env::set_var(MEMORY_LIMIT_VAR, (memory / 2).to_string()) };
    let elements = (memory as f64 * 0.6 / 4.0) as i64;
    let report = Checks::new("memory_limit")
        .check("fills 60% of the machine", move |_| -> CheckResult {
            let t = Tensor::ones([elements], (Kind::Float, Device::Cpu));
            assert!(t.size()[0] > 0);
            Ok(())
        })
        .check("a small tensor afterwards", |_| {
            let _ = Tensor::ones([1000], (Kind::Float, Device::Cpu));
            Ok(())
        })
        .execute();
    let first = &report.checks[0];
    assert_eq!(first.outcome, Outcome::Fail);
    let limit = tensorlings_support::memory::format_bytes(memory / 2);
    assert!(first.message.contains("tried to allocate "), "{}", first.message);
    assert!(first.message.contains(&format!("the limit is {limit}")), "{}", first.message);
    assert_eq!(report.checks[1].outcome, Outcome::Pass, "{}", report.checks[1].message);
}
