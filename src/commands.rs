//! The one-shot commands: run, hint, list, verify, reset and setup.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use colored::Colorize;

use crate::check::{self, RunOptions};
use crate::cli::OutputFormat;
use crate::course::Course;
use crate::libtorch::Provisioner;
use crate::shipped::{self, Reset, reset_exercise};
use crate::staging::Subject;
use crate::state::State;
use crate::verdict::{Status, Verdict};
use crate::{render, verify};

/// What every command needs: the course and how to run checks.
pub struct App {
    pub course: Course,
    pub run: RunOptions,
    /// `cargo run --` or `tensorlings`: see [`crate::cli::invocation`].
    pub invoke: &'static str,
}

impl App {
    /// Makes sure the course can be built: libtorch found or installed, cargo pointed at it.
    pub fn provision(&self) -> Result<()> {
        if let Some(provisioner) = Provisioner::for_course(&self.course, self.invoke) {
            provisioner.ensure(true)?;
        }
        Ok(())
    }

    /// Loads the state, telling the learner once if it had to be rebuilt.
    pub fn load_state(&self) -> Result<State> {
        let mut state = State::load(&self.course)?;
        if let Some(reason) = state.take_rebuilt_reason() {
            eprintln!(
                "{} the progress file .tensorlings/state.toml was rebuilt because {reason}. Run `{} verify` to mark the exercises you have done.",
                "warning:".yellow().bold(),
                self.invoke
            );
            state.save(&self.course)?;
        }
        shipped::keep_copies(&self.course)?;
        Ok(state)
    }

    fn named_or_current(&self, state: &State, name: Option<&str>) -> Result<usize> {
        match name {
            Some(name) => Ok(self.course.exercise(name, self.invoke)?.0),
            None => Ok(state.current()),
        }
    }

    pub fn run(&self, name: Option<&str>) -> Result<ExitCode> {
        let mut state = self.load_state()?;
        let index = self.named_or_current(&state, name)?;
        self.provision()?;
        let exercise = &self.course.exercises()[index];
        // The shared warm host spares this run libtorch's start, when an earlier run left it.
        let hosting = crate::host::Hosting::shared_for_course(&self.course);
        let verdict = check::check_exercise_warm(&self.course, exercise, &self.run, hosting.as_ref(), true)?;
        if let Some(error) = hosting.as_ref().and_then(|hosting| hosting.take_error()) {
            eprintln!("{} {}", "note:".cyan().bold(), render::shared_host_unavailable(&error));
        }
        let hint = format!("`{} hint {}` shows a hint", self.invoke, exercise.name);
        print!(
            "{}",
            render::verdict(
                &self.course,
                exercise,
                &verdict,
                &render::Shown { hint: &hint, output_lines: None, invoke: self.invoke }
            )
        );
        let was_all_done = state.all_done();
        state.record(index, &verdict);
        if state.all_done() && !was_all_done {
            println!("\n{}", self.course.info.final_message.trim());
        }
        state.save(&self.course)?;
        Ok(exit_code(std::slice::from_ref(&verdict)))
    }

    pub fn hint(&self, name: Option<&str>) -> Result<ExitCode> {
        let state = self.load_state()?;
        let exercise = &self.course.exercises()[self.named_or_current(&state, name)?];
        println!("{}", exercise.hint.trim_end());
        Ok(ExitCode::SUCCESS)
    }

    pub fn list(&self) -> Result<ExitCode> {
        let state = self.load_state()?;
        print!("{}", render::list(&self.course, &state));
        Ok(ExitCode::SUCCESS)
    }

    pub fn verify(
        &self,
        format: OutputFormat,
        jobs: Option<std::num::NonZeroUsize>,
        exercises_from: Option<&Path>,
    ) -> Result<ExitCode> {
        let mut state = self.load_state()?;
        let exercises_from = match exercises_from {
            Some(dir) => Some(
                dir.canonicalize()
                    .with_context(|| format!("--exercises-from: cannot open the folder {}", dir.display()))?,
            ),
            None => None,
        };
        self.provision()?;
        let indices: Vec<usize> = (0..self.course.exercises().len()).collect();
        let options = verify::Options {
            run: RunOptions { color: self.run.color && format == OutputFormat::Human, ..self.run.clone() },
            subject: match &exercises_from {
                Some(dir) => Subject::Folder(dir),
                None => Subject::Exercises,
            },
            jobs: jobs.map_or_else(default_jobs, |j| j.get()),
            progress: format == OutputFormat::Human && std::io::stderr().is_terminal(),
        };
        if !options.progress {
            // CI logs get one line instead of minutes of silence on a first build.
            eprintln!("Building and checking {}...", render::count(indices.len(), "exercise"));
        }
        let verdicts = verify::verify(&self.course, &indices, &options)?;
        let tampering = shipped::tampering(&self.course)?;
        match format {
            OutputFormat::Json => {
                println!("{}", render::json(&self.course, &indices, &verdicts, &tampering, self.invoke))
            }
            OutputFormat::Junit => print!(
                "{}",
                render::junit::report(&self.course, &indices, &verdicts, &tampering, self.invoke)
            ),
            OutputFormat::Human => {
                print!("{}", render::tampering_warning(&tampering));
                for (&index, verdict) in indices.iter().zip(&verdicts) {
                    let details = render::details(verdict);
                    if !verdict.passed() && !details.is_empty() {
                        let exercise = &self.course.exercises()[index];
                        println!("{} {}\n{}\n", "──".dimmed(), exercise.name.bold(), details.trim_end());
                    }
                }
                print!("{}", render::summary_table(&self.course, &indices, &verdicts, self.invoke));
            }
        }
        if exercises_from.is_some() {
            // Someone else's exercises: this checkout's progress is not theirs.
            return Ok(exit_code(&verdicts));
        }
        for (&index, verdict) in indices.iter().zip(&verdicts) {
            state.record(index, verdict);
        }
        state.advance_to_first_pending();
        state.save(&self.course)?;
        Ok(exit_code(&verdicts))
    }

    pub fn reset(&self, name: &str) -> Result<ExitCode> {
        let mut state = self.load_state()?;
        let (index, _) = self.course.exercise(name, self.invoke)?;
        let path = self.course.exercise_path(&self.course.exercises()[index]);
        let path = self.course.display_path(&path);
        match reset_exercise(&self.course, index)? {
            Reset::Restored { backup: Some(backup) } => {
                println!("Reset {path}. Your version is saved as {}", self.course.display_path(&backup))
            }
            Reset::Restored { backup: None } => println!("Restored {path}, which was missing."),
            Reset::Unchanged => println!("{path} is already as shipped; nothing to reset."),
        }
        state.reset(index);
        state.save(&self.course)?;
        Ok(ExitCode::SUCCESS)
    }

    /// `cuda`: install libtorch's CUDA part too (`setup --cuda`).
    pub fn setup(&self, check_only: bool, cuda: bool) -> Result<ExitCode> {
        let Some(provisioner) = Provisioner::for_course(&self.course, self.invoke) else {
            println!("This course needs no libtorch: nothing to set up.");
            return Ok(ExitCode::SUCCESS);
        };
        if !check_only {
            let libtorch = if cuda { provisioner.ensure_cuda()? } else { provisioner.ensure(true)? };
            println!(
                "{} libtorch {}, {} ({}): {}",
                "✓".green().bold(),
                libtorch.version.as_deref().unwrap_or("(version unknown)"),
                libtorch.kind,
                libtorch.source,
                libtorch.root.display()
            );
            if cuda {
                println!(
                    "The course links libtorch's CUDA part on its next build where there is an NVIDIA driver (or with TENSORLINGS_CUDA=1)."
                );
            }
            println!(
                "cargo and rust-analyzer find it through .cargo/config.toml. Start the course with `{}`.",
                self.invoke.trim_end_matches(" --")
            );
            return Ok(ExitCode::SUCCESS);
        }
        println!("The course needs libtorch {}. Places tensorlings looks, in order:", provisioner.version());
        let env = std::env::var_os("LIBTORCH");
        println!(
            "  {:<24} {}",
            "LIBTORCH",
            env.as_ref().map_or("not set".to_string(), |v| format!("set to {}", Path::new(v).display()))
        );
        let probes = provisioner.probes();
        for probe in &probes {
            let mark = if probe.usable.is_some() { "✓".green() } else { "·".dimmed() };
            println!("{mark} {}\n      {}", probe.place, probe.finding);
        }
        // LIBTORCH, when set, wins (and is validated by `find`); else the first usable place.
        let in_use = match env {
            Some(_) => provisioner.find()?,
            None => probes.into_iter().find_map(|probe| probe.usable),
        };
        match in_use {
            Some(found) => {
                println!("\nIn use: {} ({}, {})", found.root.display(), found.source, found.kind);
                Ok(ExitCode::SUCCESS)
            }
            None => {
                println!("\nNo usable libtorch: `{} setup` installs it.", self.invoke);
                Ok(ExitCode::from(1))
            }
        }
    }
}

/// 0 when every verdict passed, 2 when any could not be checked (a setup problem), else 1.
fn exit_code(verdicts: &[Verdict]) -> ExitCode {
    if verdicts.iter().any(|v| v.status() == Status::Error) {
        ExitCode::from(2)
    } else if verdicts.iter().all(|v| v.passed()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
