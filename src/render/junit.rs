//! Verdicts as JUnit XML, the format CI systems read: a test suite per exercise, a test case
//! per check (failures with their messages, skipped checks as skipped), and for a verdict that
//! no check explains (it does not compile, it crashed, its report was not trusted) one test
//! case that says why.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::{details, summary};
use crate::course::Course;
use crate::verdict::{CheckOutcome, Status, Verdict};

/// One test suite per exercise at `indices`, named by the exercise, its section as classname.
pub fn report(course: &Course, indices: &[usize], verdicts: &[Verdict], invoke: &str) -> String {
    let mut report = Report::new("tensorlings");
    for (&index, verdict) in indices.iter().zip(verdicts) {
        let exercise = &course.exercises()[index];
        let mut suite = TestSuite::new(exercise.name.as_str());
        suite.set_time(verdict.duration);
        for check in &verdict.checks {
            let status = match check.outcome {
                CheckOutcome::Pass => TestCaseStatus::success(),
                CheckOutcome::Fail => {
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    status.set_message(first_line(&check.message)).set_description(check.message.as_str());
                    status
                }
                CheckOutcome::Skip => {
                    let mut status = TestCaseStatus::skipped();
                    status.set_message(check.message.as_str());
                    status
                }
            };
            let mut case = TestCase::new(check.name.as_str(), status);
            case.set_classname(exercise.dir.as_str())
                .set_time(std::time::Duration::from_millis(check.duration_ms));
            suite.add_test_case(case);
        }
        // A verdict that failed although no check did: it needs a test case of its own.
        if !verdict.passed() && verdict.count(CheckOutcome::Fail) == 0 {
            let kind = match verdict.status() {
                Status::Fail => NonSuccessKind::Failure,
                _ => NonSuccessKind::Error,
            };
            let mut status = TestCaseStatus::non_success(kind);
            status.set_message(summary(verdict, invoke)).set_description(details(verdict));
            let mut case = TestCase::new(exercise.name.as_str(), status);
            case.set_classname(exercise.dir.as_str());
            suite.add_test_case(case);
        }
        if !verdict.passed() && !verdict.output.is_empty() {
            suite.set_system_out(verdict.output.as_str());
        }
        report.add_test_suite(suite);
    }
    report.to_string().expect("a JUnit report serializes to a string")
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}
