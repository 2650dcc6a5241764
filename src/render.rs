//! Text that people read: verdicts, the exercise list, progress lines.

use std::fmt::Write as _;

use colored::Colorize;

use crate::check::{Status, Verdict};
use crate::course::Course;
use crate::info_file::ExerciseInfo;
use crate::state::State;

/// How a verdict is shown: `hint` says how to get the hint ("press h for a hint"); watch mode,
/// which has no scrollback, shows only the last `output_lines` of what the check printed.
pub struct Shown<'a> {
    pub hint: &'a str,
    pub output_lines: Option<(usize, &'a str)>,
}

/// The whole verdict of one exercise, as `run` and watch mode print it. With `output_lines`
/// set to `(n, how_to_see_all)`, only the last n lines of the check's output are shown.
pub fn verdict(course: &Course, exercise: &ExerciseInfo, verdict: &Verdict, shown: &Shown) -> String {
    let hint = shown.hint;
    let mut text = String::new();
    if !verdict.details.is_empty() {
        text.push_str(verdict.details.trim_end());
        text.push_str("\n\n");
    }
    if !verdict.passed() && !verdict.output.trim().is_empty() {
        let _ = writeln!(text, "{}", "Output of the check process:".bold());
        let output = verdict.output.trim_end();
        let lines: Vec<&str> = output.lines().collect();
        match shown.output_lines {
            Some((keep, how_to_see_all)) if lines.len() > keep => {
                let _ = writeln!(text, "[{} earlier lines not shown; {how_to_see_all}]", lines.len() - keep);
                text.push_str(&lines[lines.len() - keep..].join("\n"));
            }
            _ => text.push_str(output),
        }
        text.push_str("\n\n");
    }
    let seconds = verdict.duration.as_secs_f64();
    let device = verdict.device.as_deref().map(|d| format!(" on {d}")).unwrap_or_default();
    if verdict.passed() {
        let _ = writeln!(
            text,
            "{} {} passed: {}{device} ({seconds:.2} s)",
            "✓".green().bold(),
            exercise.name.bold(),
            verdict.summary
        );
        let solution = course.solution_path(exercise);
        let _ = writeln!(
            text,
            "Compare with the reference solution: {}",
            course.display_path(&solution).underline()
        );
    } else if verdict.status == Status::Error {
        let mark = "✗".red().bold();
        let _ = writeln!(text, "{mark} {} could not be checked: {}", exercise.name.bold(), verdict.summary);
    } else {
        let _ = writeln!(
            text,
            "{} {} {}: {}",
            "✗".red().bold(),
            exercise.name.bold(),
            "failed".red(),
            verdict.summary
        );
        let path = course.exercise_path(exercise);
        let _ = writeln!(text, "Fix {}; {hint}.", course.display_path(&path).underline(),);
    }
    text
}

pub fn status_word(status: Status) -> colored::ColoredString {
    match status {
        Status::Pass => "pass".green(),
        Status::Fail => "fail".red(),
        other => other.label().red().bold(),
    }
}

/// "1 check", "2 checks".
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// `[######....] 3/10 done`, as wide as `width` columns for the bar.
pub fn progress_bar(done: usize, total: usize, width: usize) -> String {
    let filled = (done * width).checked_div(total).unwrap_or(0);
    format!("[{}{}] {done}/{total} done", "#".repeat(filled).green(), "-".repeat(width - filled))
}

/// Every exercise by section with its state, then the overall progress.
pub fn list(course: &Course, state: &State) -> String {
    let mut text = exercise_table(course, state);
    let _ = writeln!(text, "\n{}", progress_bar(state.done_count(), state.done.len(), 40));
    text
}

/// Every exercise by section with its state and path.
pub fn exercise_table(course: &Course, state: &State) -> String {
    let mut text = String::new();
    let mut section: Option<&str> = None;
    let name_width = course.exercises().iter().map(|e| e.name.len()).max().unwrap_or(0);
    for (index, exercise) in course.exercises().iter().enumerate() {
        if section != Some(exercise.dir.as_str()) {
            section = Some(&exercise.dir);
            if index > 0 {
                text.push('\n');
            }
            let title = course.info.section_title(&exercise.dir);
            let _ = writeln!(text, "{}", format!("{} ({})", title, exercise.dir).bold());
        }
        let marker = if index == state.current { "▶".cyan().bold() } else { " ".normal() };
        let status = if state.done[index] { "done   ".green() } else { "pending".yellow() };
        let path = course.exercise_path(exercise);
        let _ = writeln!(
            text,
            " {marker} {:<name_width$}  {status}  {}",
            exercise.name,
            course.display_path(&path).dimmed()
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_bar_fills_in_proportion() {
        colored::control::set_override(false);
        assert_eq!(progress_bar(0, 4, 8), "[--------] 0/4 done");
        assert_eq!(progress_bar(2, 4, 8), "[####----] 2/4 done");
        assert_eq!(progress_bar(4, 4, 8), "[########] 4/4 done");
    }
}
