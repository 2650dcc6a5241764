//! `tensorlings profile`: runs a passing exercise's check binary in profile mode (the support
//! library's `profile` module measures the learner's version, the reference and the built-in of
//! each function the check declares) and turns the report's rows into a [`Profile`]: figures
//! grouped by function and size, ratios, and the findings worth a sentence. `render::profile`
//! writes it for people or as JSON.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cargo::Build;
use crate::check::{self, RunOptions};
use crate::cli::ProfileFormat;
use crate::commands::App;
use crate::course::{Course, check_bin};
use crate::guard::lexer;
use crate::protocol::{ProfileRow, ProfileVariant};
use crate::render;
use crate::staging::{Stage, Subject};
use crate::verdict::{Status, Verdict};

/// Time profile mode may take on top of the exercise's timeout: at each size, each version runs
/// a few times untimed and about a quarter of a second timed, and a slow one at least 5 times.
pub const PROFILE_TIME: Duration = Duration::from_secs(300);

/// A ratio at or past this is poor enough for a sentence (the 1.5x line).
pub const POOR_RATIO: f64 = 1.5;

/// What the runner asks of the harness in profile mode.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// An absolute path for the Chrome trace, if one is wanted.
    pub trace: Option<PathBuf>,
}

impl Request {
    /// The harness's variables of profile mode, which a check run outside it must not inherit
    /// from the learner's environment.
    pub const VARS: [&str; 2] = ["TENSORLINGS_PROFILE", "TENSORLINGS_TRACE"];

    /// Adds the harness's variables to a check's environment (and the ones to remove); returns
    /// the extra time profile mode needs.
    pub fn add_to(&self, env: &mut Vec<(String, String)>, unset: &mut Vec<String>) -> Duration {
        env.push((Self::VARS[0].to_string(), "1".to_string()));
        match &self.trace {
            Some(path) => env.push((Self::VARS[1].to_string(), path.display().to_string())),
            None => unset.push(Self::VARS[1].to_string()),
        }
        PROFILE_TIME
    }
}

/// Whether a check file declares a profile: a `.profile(` call, read as tokens so that a
/// comment or a string that mentions one does not count.
pub fn declares_profile(check_source: &str) -> bool {
    let tokens = lexer::code_tokens(check_source);
    tokens.windows(3).any(|t| t[0].is_punct(".") && t[1].is_ident("profile") && t[2].is_punct("("))
}

/// The names of the exercises whose checks declare a profile, in course order.
pub fn profiled_exercises(course: &Course) -> Vec<String> {
    course
        .exercises()
        .iter()
        .filter(|e| std::fs::read_to_string(course.check_path(e)).is_ok_and(|s| declares_profile(&s)))
        .map(|e| e.name.clone())
        .collect()
}

/// One version's figures at one size.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    pub repeats: u64,
    pub median: Duration,
    pub q1: Duration,
    pub q3: Duration,
    pub min: Duration,
    pub peak_bytes: u64,
    pub allocations: u64,
    pub allocated_bytes: u64,
}

/// A version's figures, or why it has none.
pub type Measured = std::result::Result<Figures, String>;

/// Every version of one function at one size.
#[derive(Debug, Clone, PartialEq)]
pub struct AtSize {
    pub size: i64,
    pub exercise: Option<Measured>,
    pub reference: Option<Measured>,
    /// The built-in's name and figures.
    pub builtin: Option<(String, Measured)>,
}

impl AtSize {
    /// The learner's median over the reference's (above 1: slower than the reference).
    pub fn ratio_to_reference(&self) -> Option<f64> {
        ratio(self.exercise.as_ref(), self.reference.as_ref())
    }

    /// The learner's median over the built-in's.
    pub fn ratio_to_builtin(&self) -> Option<f64> {
        ratio(self.exercise.as_ref(), self.builtin.as_ref().map(|(_, m)| m))
    }
}

fn ratio(yours: Option<&Measured>, theirs: Option<&Measured>) -> Option<f64> {
    let (Some(Ok(yours)), Some(Ok(theirs))) = (yours, theirs) else { return None };
    let theirs = theirs.median.as_secs_f64();
    (theirs > 0.0).then(|| yours.median.as_secs_f64() / theirs)
}

/// What a poor ratio comes with, at the largest size: the figures the sentence explains it by.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// `the reference` or the built-in's name.
    pub against: Against,
    pub parameter: String,
    pub size: i64,
    /// Learner's median over theirs.
    pub time_ratio: f64,
    pub yours: Figures,
    pub theirs: Figures,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Against {
    Reference,
    Builtin(String),
}

/// One profiled function.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionProfile {
    pub name: String,
    /// What the size is called (`n`).
    pub parameter: String,
    /// From small to large, as the check declared them.
    pub sizes: Vec<AtSize>,
    /// Poor ratios at the largest size, worth a sentence.
    pub findings: Vec<Finding>,
}

/// The profile of one exercise.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub exercise: String,
    pub device: String,
    pub functions: Vec<FunctionProfile>,
    /// The trace written, or why it could not be; `None` when none was asked for.
    pub trace: Option<std::result::Result<String, String>>,
}

impl Profile {
    /// Groups a report's rows (function, size, version, in the harness's order).
    pub fn from_rows(exercise: &str, device: &str, rows: &[ProfileRow]) -> Profile {
        let mut functions: Vec<FunctionProfile> = Vec::new();
        for row in rows {
            let function = match functions.iter_mut().position(|f| f.name == row.function) {
                Some(i) => &mut functions[i],
                None => {
                    functions.push(FunctionProfile {
                        name: row.function.clone(),
                        parameter: row.parameter.clone(),
                        sizes: Vec::new(),
                        findings: Vec::new(),
                    });
                    functions.last_mut().expect("just pushed")
                }
            };
            let at = match function.sizes.iter_mut().position(|s| s.size == row.size) {
                Some(i) => &mut function.sizes[i],
                None => {
                    function.sizes.push(AtSize {
                        size: row.size,
                        exercise: None,
                        reference: None,
                        builtin: None,
                    });
                    function.sizes.last_mut().expect("just pushed")
                }
            };
            let measured = measured(row);
            match row.variant {
                ProfileVariant::Exercise => at.exercise = Some(measured),
                ProfileVariant::Reference => at.reference = Some(measured),
                ProfileVariant::Builtin => at.builtin = Some((row.name.clone(), measured)),
            }
        }
        for function in &mut functions {
            function.findings = findings(function);
        }
        Profile { exercise: exercise.to_string(), device: device.to_string(), functions, trace: None }
    }
}

fn measured(row: &ProfileRow) -> Measured {
    if let Some(error) = &row.error {
        return Err(error.clone());
    }
    Ok(Figures {
        repeats: row.repeats,
        median: Duration::from_nanos(row.median_ns),
        q1: Duration::from_nanos(row.q1_ns),
        q3: Duration::from_nanos(row.q3_ns),
        min: Duration::from_nanos(row.min_ns),
        peak_bytes: row.peak_bytes,
        allocations: row.allocations,
        allocated_bytes: row.allocated_bytes,
    })
}

/// At the largest size: slower than the reference by [`POOR_RATIO`] or more, or, when the
/// reference is not beaten that badly, slower than the built-in by as much.
fn findings(function: &FunctionProfile) -> Vec<Finding> {
    let Some(largest) = function.sizes.iter().max_by_key(|s| s.size) else { return Vec::new() };
    let Some(Ok(yours)) = &largest.exercise else { return Vec::new() };
    let finding = |against: Against, theirs: &Figures| Finding {
        against,
        parameter: function.parameter.clone(),
        size: largest.size,
        time_ratio: yours.median.as_secs_f64() / theirs.median.as_secs_f64(),
        yours: yours.clone(),
        theirs: theirs.clone(),
    };
    if let (Some(ratio), Some(Ok(reference))) = (largest.ratio_to_reference(), &largest.reference)
        && ratio >= POOR_RATIO
    {
        return vec![finding(Against::Reference, reference)];
    }
    if let (Some(ratio), Some((name, Ok(builtin)))) = (largest.ratio_to_builtin(), &largest.builtin)
        && ratio >= POOR_RATIO
    {
        return vec![finding(Against::Builtin(name.clone()), builtin)];
    }
    Vec::new()
}

/// How a profile run ended.
pub enum Profiled {
    /// The exercise does not pass: its verdict (nothing was measured).
    NotPassing(Box<Verdict>),
    Measured(Profile),
}

/// Builds the exercise's check binary and runs it in profile mode.
/// `subject` names the exercise files to profile: the learner's, or another folder's
/// (`--exercises-from solutions` profiles the reference against itself and the built-in).
pub fn profile_exercise(
    course: &Course,
    index: usize,
    run: &RunOptions,
    subject: Subject,
    trace: Option<&Path>,
    show_progress: bool,
) -> Result<Profiled> {
    let exercise = &course.exercises()[index];
    let options =
        RunOptions { profile: Some(Request { trace: trace.map(Path::to_path_buf) }), ..run.clone() };
    let stage = match subject {
        Subject::Exercises => None,
        subject => {
            let stage = Stage::open(course)?;
            stage.stage(course, &[index], subject)?;
            Some(stage)
        }
    };
    let build = Build {
        course,
        bins: vec![check_bin(exercise)],
        examples: Vec::new(),
        stage: stage.as_ref(),
        color: options.color,
        show_progress,
    }
    .run()?;
    let verdict =
        check::verdict_after_build(course, exercise, &build, stage.as_ref(), &options, Instant::now());
    if !verdict.passed() {
        return Ok(Profiled::NotPassing(Box::new(verdict)));
    }
    let Some(section) = verdict.profile else {
        bail!(
            "the checks of `{}` passed but reported no profile: is the course's support library older than this \
             tensorlings?",
            exercise.name
        )
    };
    let device = verdict.device.as_deref().unwrap_or("unknown device");
    let mut profile = Profile::from_rows(&exercise.name, device, &section.rows);
    profile.trace = section.trace;
    Ok(Profiled::Measured(profile))
}

/// The `profile` command.
pub fn command(
    app: &App,
    name: Option<&str>,
    trace: Option<&Path>,
    format: ProfileFormat,
    exercises_from: Option<&Path>,
    threads: Option<usize>,
) -> Result<ExitCode> {
    let state = app.load_state()?;
    let index = match name {
        Some(name) => app.course.exercise(name, app.invoke)?.0,
        None => state.current(),
    };
    let exercise = &app.course.exercises()[index];
    let source = std::fs::read_to_string(app.course.check_path(exercise))
        .with_context(|| format!("cannot read the checks of `{}`", exercise.name))?;
    if !declares_profile(&source) {
        bail!("{}", render::profile::no_profile(&exercise.name, &profiled_exercises(&app.course)));
    }
    // The check runs in the course's folder: a relative path is the user's, from here.
    let trace = match trace {
        Some(path) => Some(absolute(path)?),
        None => None,
    };
    let exercises_from = match exercises_from {
        Some(dir) => Some(
            dir.canonicalize()
                .with_context(|| format!("--exercises-from: cannot open the folder {}", dir.display()))?,
        ),
        None => None,
    };
    let subject = match &exercises_from {
        Some(dir) => Subject::Folder(dir),
        None => Subject::Exercises,
    };
    app.provision()?;
    // Profiles run alone: the machine's threads, unless asked otherwise.
    let run = RunOptions { threads, ..app.run.clone() };
    let profiled = profile_exercise(&app.course, index, &run, subject, trace.as_deref(), true)?;
    match profiled {
        Profiled::NotPassing(verdict) => {
            let hint = format!("`{} hint {}` shows a hint", app.invoke, exercise.name);
            let shown = render::Shown { hint: &hint, output_lines: None, invoke: app.invoke };
            print!("{}", render::verdict(&app.course, exercise, &verdict, &shown));
            // Checks that could not run at all (--device cuda without a GPU) are a setup
            // problem, which the verdict explains; the exercise may well pass.
            if verdict.status() == Status::Error {
                return Ok(ExitCode::from(2));
            }
            eprintln!("{}", render::profile::not_passing(&exercise.name, verdict.status(), app.invoke));
            Ok(ExitCode::from(1))
        }
        Profiled::Measured(profile) => {
            match format {
                ProfileFormat::Human => print!("{}", render::profile::table(&profile)),
                ProfileFormat::Json => println!("{}", render::profile::json(&profile)),
            }
            // A trace that was asked for and not written is a failure of the command.
            Ok(if matches!(profile.trace, Some(Err(_))) { ExitCode::from(2) } else { ExitCode::SUCCESS })
        }
    }
}

fn absolute(path: &Path) -> Result<PathBuf> {
    let absolute = std::env::current_dir().context("cannot read the current folder")?.join(path);
    if let Some(parent) = absolute.parent()
        && !parent.is_dir()
    {
        bail!("--trace {}: the folder {} does not exist", path.display(), parent.display());
    }
    Ok(absolute)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(
        size: i64,
        variant: ProfileVariant,
        median_ns: u64,
        allocations: u64,
        peak_bytes: u64,
    ) -> ProfileRow {
        ProfileRow {
            function: "pairwise".into(),
            parameter: "n".into(),
            size,
            variant,
            name: if variant == ProfileVariant::Builtin { "torch.cdist".into() } else { String::new() },
            error: None,
            repeats: 10,
            median_ns,
            q1_ns: median_ns.saturating_sub(1),
            q3_ns: median_ns + 1,
            min_ns: median_ns.saturating_sub(2),
            peak_bytes,
            allocations,
            allocated_bytes: peak_bytes,
        }
    }

    #[test]
    fn the_request_sets_the_harness_variables_and_the_time_it_needs() {
        let (mut env, mut unset) = (Vec::new(), Vec::new());
        let traced = Request { trace: Some(PathBuf::from("/tmp/t.json")) };
        assert_eq!(traced.add_to(&mut env, &mut unset), PROFILE_TIME);
        assert_eq!(
            env,
            [
                ("TENSORLINGS_PROFILE".to_string(), "1".to_string()),
                ("TENSORLINGS_TRACE".to_string(), "/tmp/t.json".to_string())
            ]
        );
        assert!(unset.is_empty());
        let (mut env, mut unset) = (Vec::new(), Vec::new());
        Request::default().add_to(&mut env, &mut unset);
        assert_eq!(env.len(), 1);
        // A trace path left in the learner's environment is not inherited.
        assert_eq!(unset, ["TENSORLINGS_TRACE"]);
    }

    #[test]
    fn a_check_declares_a_profile_with_a_call_not_a_mention() {
        assert!(declares_profile(
            "fn main() { Checks::new().check(\"a\", f).profile(\"f\", sizes, g).run() }"
        ));
        assert!(declares_profile("Checks::new()\n    .profile (\"f\", s, g)"));
        assert!(!declares_profile("// .profile(\"f\") later\nfn main() { let s = \".profile(\"; }"));
        assert!(!declares_profile("fn profile() {} fn main() { profile(); }"));
    }

    #[test]
    fn rows_group_by_function_and_size_and_ratios_compare_medians() {
        use ProfileVariant::*;
        let rows = [
            row(64, Exercise, 100, 3, 10),
            row(64, Reference, 100, 1, 10),
            row(64, Builtin, 50, 1, 10),
            row(2048, Exercise, 3400, 7, 400),
            row(2048, Reference, 1000, 2, 100),
            row(2048, Builtin, 500, 1, 100),
        ];
        let profile = Profile::from_rows("pairwise_distances", "cpu", &rows);
        assert_eq!(profile.functions.len(), 1);
        let function = &profile.functions[0];
        assert_eq!(function.sizes.iter().map(|s| s.size).collect::<Vec<_>>(), [64, 2048]);
        assert_eq!(function.sizes[0].ratio_to_reference(), Some(1.0));
        assert_eq!(function.sizes[0].ratio_to_builtin(), Some(2.0));
        assert!((function.sizes[1].ratio_to_reference().unwrap() - 3.4).abs() < 1e-9);
        let [finding] = function.findings.as_slice() else { panic!("one finding: {:?}", function.findings) };
        assert_eq!((finding.against.clone(), finding.size), (Against::Reference, 2048));
        assert_eq!((finding.yours.allocations, finding.theirs.allocations), (7, 2));
    }

    #[test]
    fn the_builtin_is_the_yardstick_when_the_reference_is_not_beaten_badly() {
        use ProfileVariant::*;
        let rows = [row(8, Exercise, 1100, 1, 8), row(8, Reference, 1000, 1, 8), row(8, Builtin, 500, 1, 8)];
        let profile = Profile::from_rows("e", "cpu", &rows);
        let [finding] = profile.functions[0].findings.as_slice() else { panic!() };
        assert_eq!(finding.against, Against::Builtin("torch.cdist".into()));
        let fine = [row(8, Exercise, 1100, 1, 8), row(8, Reference, 1000, 1, 8)];
        assert!(Profile::from_rows("e", "cpu", &fine).functions[0].findings.is_empty());
    }

    #[test]
    fn an_error_row_has_no_ratio() {
        use ProfileVariant::*;
        let mut broken = row(8, Exercise, 0, 0, 0);
        broken.error = Some("libtorch error".into());
        let profile = Profile::from_rows("e", "cpu", &[broken, row(8, Reference, 10, 1, 8)]);
        let at = &profile.functions[0].sizes[0];
        assert_eq!(at.exercise, Some(Err("libtorch error".into())));
        assert_eq!(at.ratio_to_reference(), None);
        assert!(profile.functions[0].findings.is_empty());
    }
}
