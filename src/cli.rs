//! The command line: commands, options and their help texts.

use std::path::Path;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use clap_complete::engine::{ArgValueCandidates, CompletionCandidate};

/// How the learner starts tensorlings, for the commands that messages suggest: `cargo run --`
/// when this binary is the course's own build (the README's way), else `tensorlings`.
pub fn invocation(course_root: &Path) -> &'static str {
    match std::env::current_exe() {
        Ok(exe) if exe.starts_with(course_root.join("target")) => "cargo run --",
        _ => "tensorlings",
    }
}

const AFTER_HELP: &str = "\
Exit codes:
  0  success (run, verify: every exercise checked passes; setup --check: libtorch found)
  1  an exercise is not done yet (run, verify), a course check failed (dev check), or no
     libtorch was found (setup --check)
  2  a setup or internal error: no course here, a broken info.toml, libtorch missing,
     checks that cannot run (--device cuda without a GPU), no terminal for watch mode

Run `tensorlings` in the course folder to start. Colors are off when NO_COLOR is set or the
output is not a terminal.";

#[derive(Parser)]
#[command(
    name = "tensorlings",
    version,
    about = "Advanced tensor programming in Rust on libtorch (tch), one exercise at a time",
    long_about = "Advanced tensor programming in Rust on libtorch (tch), one exercise at a time.\n\n\
                  Without a command, tensorlings starts watch mode: edit the current exercise, save, and \
                  its checks run against the reference solution.",
    after_help = AFTER_HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Commands>,

    /// Device the checks run on: `auto` uses CUDA when a GPU is available.
    #[arg(long, global = true, value_enum, default_value_t = DeviceChoice::Auto)]
    pub device: DeviceChoice,

    /// Watch mode: open the current exercise with CMD when it starts, and on `e`.
    ///
    /// CMD is split as a shell would (`"emacsclient -n"`) and gets the file's path last.
    /// Terminal editors (vim, nano...) get the terminal until they exit; graphical ones (code,
    /// zed...) open in the background. Without it, `e` uses TENSORLINGS_EDITOR, VISUAL or
    /// EDITOR.
    #[arg(long, value_name = "CMD")]
    pub edit_cmd: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum DeviceChoice {
    Cpu,
    Cuda,
    Auto,
}

impl DeviceChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceChoice::Cpu => "cpu",
            DeviceChoice::Cuda => "cuda",
            DeviceChoice::Auto => "auto",
        }
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum OutputFormat {
    /// A table for people.
    Human,
    /// One JSON document on stdout, for graders and CI.
    Json,
    /// JUnit XML on stdout, for CI systems' test reports: a test suite per exercise, a test
    /// case per check.
    Junit,
}

/// `profile --format`.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ProfileFormat {
    /// A table for people.
    #[value(alias = "text")]
    Human,
    /// One JSON document on stdout with every figure.
    Json,
}

#[derive(Subcommand)]
pub enum Commands {
    /// Watch mode (the default): re-check the current exercise on every save.
    ///
    /// Keys: n next exercise (once this one passes), h hint, l the list (move, filter, search,
    /// Enter makes an exercise current, x resets one), e edit, r re-run, p profile (once the
    /// exercise passes), c check all, x reset the exercise (asks first), q quit. Needs a
    /// terminal; use `run` or `verify` in scripts.
    Watch {
        /// Open the current exercise with CMD when watch mode starts, and on `e` (see the
        /// option of the same name above the commands).
        #[arg(long, value_name = "CMD")]
        edit_cmd: Option<String>,
    },
    /// Check one exercise (default: the current one) and print the verdict.
    ///
    /// Exits 0 when it passes, 1 when it does not, and 2 when it cannot be checked (a setup
    /// problem, such as --device cuda without a GPU).
    ///
    /// The check runs in a shared warm host, which keeps libtorch loaded for the next run and
    /// exits after 10 minutes without a check (TENSORLINGS_HOST_IDLE=SECONDS).
    /// TENSORLINGS_WARM_HOST=watch checks in a process of its own instead.
    Run {
        /// Exercise name, as `tensorlings list` shows it.
        #[arg(add = ArgValueCandidates::new(exercise_names))]
        name: Option<String>,
    },
    /// Print the hint of an exercise (default: the current one).
    Hint {
        /// Exercise name, as `tensorlings list` shows it.
        #[arg(add = ArgValueCandidates::new(exercise_names))]
        name: Option<String>,
    },
    /// List every exercise by section, with its state and the overall progress.
    List,
    /// Check every exercise, in parallel, and print a summary.
    ///
    /// Exits 0 when all pass, 1 when any is not done, 2 on a setup or internal error. With
    /// `--format json`, one JSON document goes to stdout: {"format_version", "summary":
    /// {"total", "passed", "failed", "errors"}, "exercises": [{"name", "section", "path", "status",
    /// "duration_ms", "message", "checks"}]}, status being pass, fail, compile_error,
    /// timeout, crash or error (could not be checked: a setup problem, which exits 2).
    Verify {
        /// `human`: a table; `json`: one JSON document on stdout, for graders.
        #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
        format: OutputFormat,
        /// How many checks run at once (default: the number of cores).
        #[arg(long, short)]
        jobs: Option<std::num::NonZeroUsize>,
        /// Check the exercise files in DIR (a student's `exercises/` folder) with this course's
        /// checks and solutions, instead of this course's own exercises: for grading in your own
        /// checkout, where a student's edits to checks/, solutions/ or support/ count for nothing.
        /// Progress is not recorded.
        #[arg(long, value_name = "DIR")]
        exercises_from: Option<std::path::PathBuf>,
    },
    /// Grade a class in this (pristine) checkout, into a gradebook (CSV, JSON, JUnit)
    ///
    /// Each student's exercises are checked with this
    /// checkout's checks, solutions and support library, and the gradebook is written to OUT as
    /// CSV (a row per student, a column per exercise, points from info.toml), JSON (every
    /// verdict with its message) and JUnit XML. Each graded student is kept in OUT/students, so
    /// a run that was stopped resumes where it was; `--shard I/N` grades every N-th student,
    /// for a CI matrix, and `--merge` joins the shards' OUT folders into one gradebook.
    Grade {
        /// Students' folders: a clone of the course (its exercises/ is used) or an exercises/
        /// folder itself. The folder's name names the student.
        #[arg(value_name = "FOLDER")]
        folders: Vec<std::path::PathBuf>,
        /// A file listing students' folders, one a line (relative to the file; # comments).
        #[arg(long, value_name = "FILE")]
        list: Option<std::path::PathBuf>,
        /// Where the gradebook and the per-student results go.
        #[arg(long, value_name = "OUT", default_value = "grades")]
        out: std::path::PathBuf,
        /// Grade only shard I of N (students in name order, every N-th from the I-th).
        #[arg(long, value_name = "I/N")]
        shard: Option<crate::grade::Shard>,
        /// Join the OUT folders of shards into one gradebook in --out, grading nothing.
        #[arg(long, value_name = "SHARD_OUT", num_args = 1.., conflicts_with_all = ["folders", "list", "shard"])]
        merge: Vec<std::path::PathBuf>,
        /// How many checks run at once (default: the number of cores).
        #[arg(long, short)]
        jobs: Option<std::num::NonZeroUsize>,
    },
    /// Time a passing exercise against the reference and the built-in, with its memory.
    ///
    /// For each function the exercise's checks declare as profiled, your version, the reference
    /// solution and the built-in run on the same inputs at two or three sizes (warm-up, repeats,
    /// median and the middle half of the runs, device synchronized on CUDA), with the peak
    /// memory and the allocations of one run. A table with the ratios, and a sentence where a
    /// ratio is poor. Exits 0, 1 when the exercise does not pass yet (nothing is measured), 2 on
    /// an error (no profile declared: the message lists the exercises that have one).
    Profile {
        /// Exercise name, as `tensorlings list` shows it (default: the current one).
        #[arg(add = ArgValueCandidates::new(exercise_names))]
        name: Option<String>,
        /// Also write a Chrome trace of one run of your version at the largest size (libtorch's
        /// profiler: op names, input shapes, durations, memory) to FILE; open it in
        /// https://ui.perfetto.dev or chrome://tracing.
        #[arg(long, value_name = "FILE")]
        trace: Option<std::path::PathBuf>,
        /// `human` (or `text`): a table; `json`: every figure, for graders.
        #[arg(long, value_enum, default_value_t = ProfileFormat::Human)]
        format: ProfileFormat,
        /// Profile the exercise file in DIR (laid out like exercises/) instead of yours:
        /// `--exercises-from solutions` times the reference against itself and the built-in
        /// (scripts/bench-course), and an instructor can time a student's work.
        #[arg(long, value_name = "DIR")]
        exercises_from: Option<std::path::PathBuf>,
        /// libtorch's intra-op threads while measuring (default: libtorch's own count, the
        /// machine's cores). 1 gives steadier ratios on a busy machine (scripts/bench-course).
        #[arg(long, value_name = "N")]
        threads: Option<std::num::NonZeroUsize>,
    },
    /// Restore an exercise as shipped; your version is kept as a backup whose path is printed.
    Reset {
        /// Exercise name, as `tensorlings list` shows it.
        #[arg(add = ArgValueCandidates::new(exercise_names))]
        name: String,
    },
    /// Find or install libtorch (done automatically by run, watch, verify and dev check).
    ///
    /// Without an NVIDIA driver, tensorlings installs libtorch for the CPU only (about 540 MB
    /// instead of 2.7 GB to download); `--cuda` adds the CUDA part later, and the course relinks
    /// with it on its next build.
    Setup {
        /// Only report what is found and where; install nothing.
        #[arg(long)]
        check: bool,
        /// Install libtorch with its CUDA part, or add that part to a CPU-only install.
        #[arg(long, conflicts_with = "check")]
        cuda: bool,
    },
    /// Print the shell code that completes tensorlings' commands, options and exercise names.
    ///
    /// Load it from your shell's startup file, e.g. for bash `source <(tensorlings completions
    /// bash)` in ~/.bashrc (the README has each shell's line). Exercise names are those of the
    /// course in the folder where you press Tab.
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Commands for course authors.
    #[command(subcommand)]
    Dev(DevCommands),
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

/// The variable that turns a run of tensorlings into a completion request (clap_complete's
/// `CompleteEnv`); the code that `completions` prints sets it. Ours rather than clap's default
/// `COMPLETE`, which another program's setting could leave in the environment.
pub const COMPLETE_VAR: &str = "TENSORLINGS_COMPLETE";

/// Answers a completion request, if this run is one (the shell's completion code calls
/// tensorlings with [`COMPLETE_VAR`] set), and exits; otherwise returns at once.
pub fn complete_if_asked() {
    clap_complete::CompleteEnv::with_factory(Cli::command).var(COMPLETE_VAR).complete();
}

/// Writes the shell code that registers tensorlings' completions. It calls this very binary
/// (by its absolute path) when Tab is pressed.
pub fn write_completions(shell: Shell, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    use clap_complete::env::{Bash, EnvCompleter, Fish, Powershell, Zsh};
    let completer: &dyn EnvCompleter = match shell {
        Shell::Bash => &Bash,
        Shell::Zsh => &Zsh,
        Shell::Fish => &Fish,
        Shell::Powershell => &Powershell,
    };
    let exe = std::env::current_exe()?;
    completer.write_registration(COMPLETE_VAR, "tensorlings", "tensorlings", &exe.to_string_lossy(), out)?;
    Ok(())
}

/// The exercises of the course in the current folder, for completion; none outside a course.
fn exercise_names() -> Vec<CompletionCandidate> {
    let Some(course) =
        std::env::current_dir().ok().and_then(|dir| crate::course::Course::discover(&dir).ok())
    else {
        return Vec::new();
    };
    course
        .exercises()
        .iter()
        .map(|e| {
            CompletionCandidate::new(&e.name).help(Some(course.info.section_title(&e.dir).to_string().into()))
        })
        .collect()
}

#[derive(Subcommand)]
pub enum DevCommands {
    /// Check the course: info.toml and the files agree, hints are there, every exercise fails
    /// as shipped, every solution passes, and the checks reject every wrong answer in
    /// wrong/DIR/NAME.toml with the message it expects.
    Check {
        /// How many checks run at once (default: the number of cores).
        #[arg(long, short)]
        jobs: Option<std::num::NonZeroUsize>,
        /// Check only these exercises, or every exercise of these section folders (default: all).
        /// The files of the whole course are still checked for consistency.
        #[arg(value_name = "EXERCISE|SECTION")]
        only: Vec<String>,
    },
    /// Rewrite the list of binaries in the course package's Cargo.toml from info.toml.
    Update,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
