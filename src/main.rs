//! tensorlings: a rustlings-style course and runner for advanced tensor programming in Rust on
//! libtorch (tch). This binary is the runner; it builds without libtorch.

mod bytes;
mod cargo;
mod check;
mod cli;
mod commands;
mod course;
mod dev;
mod editor;
mod exec;
mod freshness;
mod grade;
mod guard;
mod host;
mod info_file;
mod libtorch;
mod profile;
mod protocol;
mod render;
mod replay;
mod scratch;
mod shipped;
mod staging;
mod state;
mod verdict;
mod verify;
mod watch;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use colored::Colorize;

use crate::check::RunOptions;
use crate::cli::{Cli, Commands, DevCommands};
use crate::commands::{App, default_jobs};
use crate::course::Course;

fn main() -> ExitCode {
    // A request from the shell's completion code: answer it and exit, before anything else
    // writes to stdout.
    cli::complete_if_asked();
    // Rust ignores SIGPIPE, so `tensorlings list | head` would panic once head exits; end
    // quietly instead, as command-line tools do.
    // SAFETY: setting a signal's disposition to its default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Builds and checks run in process groups of their own (so that a timeout can stop all of
    // one), which also keeps the terminal's Ctrl-C from reaching them: pass it on, and leave
    // no cargo, rustc or check process behind.
    let _ = ctrlc::set_handler(|| {
        exec::stop_all();
        scratch::remove_all();
        std::process::exit(130);
    });
    let cli = Cli::parse();
    // colored honours NO_COLOR and CLICOLOR itself; it does not know whether stdout is a terminal.
    if !std::io::stdout().is_terminal() {
        colored::control::set_override(false);
    }
    render::set_hyperlinks(render::hyperlinks_wanted(
        std::io::stdout().is_terminal(),
        std::env::var("TERM").ok().as_deref(),
        std::env::var("NO_COLOR").ok().as_deref(),
    ));
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("{} {error:#}", "error:".red().bold());
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Some(Commands::Completions { shell }) = cli.command {
        // No course needed: completion code is the same everywhere.
        cli::write_completions(shell, &mut std::io::stdout().lock())?;
        return Ok(ExitCode::SUCCESS);
    }
    let edit_cmd = match (&cli.command, cli.edit_cmd) {
        (None, edit_cmd) => edit_cmd,
        (Some(Commands::Watch { edit_cmd }), None) => edit_cmd.clone(),
        (Some(Commands::Watch { .. }), Some(edit_cmd)) => Some(edit_cmd),
        (Some(_), Some(_)) => {
            anyhow::bail!("--edit-cmd is an option of watch mode (`tensorlings --edit-cmd CMD`)")
        }
        (Some(_), None) => None,
    };
    let course = Course::discover(&std::env::current_dir()?)?;
    libtorch::forget_inherited_libtorch(&course);
    let color = colored::control::SHOULD_COLORIZE.should_colorize();
    let invoke = cli::invocation(&course.root);
    let run = RunOptions { device: cli.device.as_str().to_string(), threads: None, color, profile: None };
    let app = App { course, run, invoke };
    match cli.command.unwrap_or(Commands::Watch { edit_cmd: None }) {
        Commands::Watch { .. } => watch::run(&app, edit_cmd.as_deref()),
        Commands::Run { name } => app.run(name.as_deref()),
        Commands::Hint { name } => app.hint(name.as_deref()),
        Commands::List => app.list(),
        Commands::Verify { format, jobs, exercises_from } => {
            app.verify(format, jobs, exercises_from.as_deref())
        }
        Commands::Grade { folders, list, out, shard, merge, jobs } => {
            if !merge.is_empty() {
                return grade::merge(&app, &merge, &out);
            }
            let students = grade::students(&folders, list.as_deref())?;
            let options = grade::Options {
                run: RunOptions { color: false, ..app.run.clone() },
                jobs: jobs.map_or_else(default_jobs, |j| j.get()),
                out,
                shard,
                progress: std::io::stderr().is_terminal(),
            };
            grade::grade(&app, &students, &options)
        }
        Commands::Profile { name, trace, format, exercises_from, threads } => profile::command(
            &app,
            name.as_deref(),
            trace.as_deref(),
            format,
            exercises_from.as_deref(),
            threads.map(|t| t.get()),
        ),
        Commands::Reset { name } => app.reset(&name),
        Commands::Setup { check, cuda } => app.setup(check, cuda),
        Commands::Dev(DevCommands::Check { jobs, only }) => {
            dev::check(&app, jobs.map_or_else(default_jobs, |j| j.get()), &only)
        }
        Commands::Dev(DevCommands::Update) => dev::update(&app),
        Commands::Completions { .. } => unreachable!("handled before the course is opened"),
    }
}
