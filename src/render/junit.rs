//! Verdicts as JUnit XML, the format CI systems read: a test suite per exercise, a test case
//! per check (failures with their messages, skipped checks as skipped), and for a verdict that
//! no check explains (it does not compile, it crashed, its report was not trusted) one test
//! case that says why.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::{details, summary};
use crate::course::Course;
use crate::grade::Graded;
use crate::verdict::{CheckOutcome, CheckResult, Status, Verdict};

/// One test suite per exercise at `indices`, named by the exercise, its section as classname.
pub fn report(course: &Course, indices: &[usize], verdicts: &[Verdict], invoke: &str) -> String {
    let mut report = Report::new("tensorlings");
    for (&index, verdict) in indices.iter().zip(verdicts) {
        let exercise = &course.exercises()[index];
        let mut suite = TestSuite::new(exercise.name.as_str());
        suite.set_time(verdict.duration);
        for check in &verdict.checks {
            let mut case = TestCase::new(check.name.as_str(), check_status(check));
            case.set_classname(exercise.dir.as_str())
                .set_time(std::time::Duration::from_millis(check.duration_ms));
            suite.add_test_case(case);
        }
        // A verdict that failed although no check did: it needs a test case of its own.
        if !verdict.passed() && verdict.count(CheckOutcome::Fail) == 0 {
            let message = format!("{}\n{}", summary(verdict, invoke), details(verdict));
            let mut case = TestCase::new(exercise.name.as_str(), verdict_status(verdict.status(), &message));
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

/// `grade`'s gradebook as JUnit: a test suite per student, a test case per check of each
/// exercise (classname: the exercise), and one per exercise that no check explains.
pub fn gradebook<'a>(graded: impl Iterator<Item = &'a Graded>) -> String {
    let mut report = Report::new("tensorlings grade");
    for student in graded {
        let mut suite = TestSuite::new(student.student.as_str());
        for exercise in &student.exercises {
            for check in &exercise.checks {
                let mut case = TestCase::new(check.name.as_str(), check_status(check));
                case.set_classname(exercise.name.as_str())
                    .set_time(std::time::Duration::from_millis(check.duration_ms));
                suite.add_test_case(case);
            }
            let failed_checks = exercise.checks.iter().any(|c| c.outcome == CheckOutcome::Fail);
            if exercise.status != Status::Pass && !failed_checks {
                let mut case =
                    TestCase::new(exercise.name.as_str(), verdict_status(exercise.status, &exercise.message));
                case.set_classname(exercise.name.as_str());
                suite.add_test_case(case);
            }
        }
        report.add_test_suite(suite);
    }
    report.to_string().expect("a JUnit report serializes to a string")
}

fn check_status(check: &CheckResult) -> TestCaseStatus {
    match check.outcome {
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
    }
}

/// A failure for a verdict that failed on its own (its report untrusted, a check process that
/// exited badly), an error for one that never got to its checks.
fn verdict_status(status: Status, message: &str) -> TestCaseStatus {
    let kind = if status == Status::Fail { NonSuccessKind::Failure } else { NonSuccessKind::Error };
    let mut case = TestCaseStatus::non_success(kind);
    case.set_message(first_line(message)).set_description(message);
    case
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}
