//! Watch mode: re-check the current exercise on every save, and act on single keys.
//!
//! Checks run on a worker thread and report back through the same channel as keys and file
//! events, so the keys still work while a check runs: q stops a check that hangs.

pub mod events;
pub mod list;
mod terminal;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::mpsc::{RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use colored::Colorize;

use crate::cargo::Build;
use crate::check;
use crate::commands::App;
use crate::course::{Course, check_bin, hosted_lib};
use crate::editor::{Editor, Kind};
use crate::host::{HOST_BIN, Hosting};
use crate::render;
use crate::shipped::{Reset, reset_exercise};
use crate::state::{Advance, State};
use crate::verdict::{Status, Verdict};
use crate::verify;
use events::{Event, Key, KeyReader};
use list::{Effect, ListView};

/// Trailing-edge debounce: editors write a file in several steps (truncate, write, rename),
/// microseconds apart; check once they are done. Every millisecond here is a millisecond of
/// every save's wait (rustlings waits 200).
const DEBOUNCE: Duration = Duration::from_millis(30);

const KEYS: &str =
    "n next · h hint · l list · e edit · r re-run · p profile · c check all · x reset · q quit";

/// Lines around the list's rows: its header and keys, the footer under it, and one more for
/// the keys' line, which wraps on a terminal narrower than 100 columns.
const LIST_CHROME_ROWS: usize = 12;

pub fn no_terminal(invoke: &str) -> String {
    format!(
        "watch mode needs a terminal to read keys from. In scripts and CI use `{invoke} run [NAME]` to check \
         one exercise, or `{invoke} verify` to check them all."
    )
}

/// What a worker thread was asked to do.
enum Job {
    One(usize),
    All,
    /// `tensorlings profile` of this exercise.
    Profile(usize),
}

/// A worker's answer.
pub enum Finished {
    One(usize, Result<Verdict>),
    All(Result<Vec<Verdict>>),
    Profile(usize, Result<crate::profile::Profiled>),
}

struct Watch<'a> {
    app: &'a App,
    state: State,
    /// What the screen shows above the footer: a verdict, a summary, a message.
    body: String,
    /// The interactive list, while it is open: it is shown instead of the body.
    list: Option<ListView>,
    /// The learner's editor, if one is set (`--edit-cmd`, `TENSORLINGS_EDITOR`, `$VISUAL`,
    /// `$EDITOR`).
    editor: Option<Editor>,
    keys: KeyReader,
    show_hint: bool,
    /// A line under the key help: what a key just did, or a question. It stays until the next
    /// key, so a re-check caused by the key's own file write does not wipe it.
    notice: String,
    confirming_reset: bool,
    /// The job a worker is doing, if any: one at a time.
    running: Option<Job>,
    /// The exercise changed while a job ran: check it again once the job is done.
    recheck: bool,
    /// The running job was stopped because the file it checks changed: its verdict is stale.
    stale: bool,
    events: Sender<Event>,
    /// The warm check host, when the course has one and it is not turned off.
    hosting: Option<Arc<Hosting>>,
}

/// Watch mode. `edit_cmd` (`--edit-cmd`) is the editor to open the exercise with, at the start
/// and on `e`; without it, `e` uses `TENSORLINGS_EDITOR`, `$VISUAL` or `$EDITOR`.
pub fn run(app: &App, edit_cmd: Option<&str>) -> Result<ExitCode> {
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        eprintln!("{} {}", "error:".red().bold(), no_terminal(app.invoke));
        return Ok(ExitCode::from(2));
    }
    // Before anything is built: a typo in --edit-cmd is reported at once.
    let editor = Editor::choose(edit_cmd, |name| std::env::var(name).ok())?;
    let state = app.load_state()?;
    // Before raw mode, whose screen is redrawn whole: an install prints a lot, and the first
    // build of a course takes minutes, both with progress of their own.
    app.provision()?;
    let current = &app.course.exercises()[state.current()];
    // With the warm host, what a save needs is the host and the current check as a library:
    // built here, with the host started meanwhile, so that the first save is as fast as the
    // tenth.
    let hosting = Hosting::for_course(&app.course).map(Arc::new);
    let (bins, examples) = match hosting {
        Some(_) => (vec![HOST_BIN.to_string()], vec![hosted_lib(current)]),
        None => (vec![check_bin(current)], Vec::new()),
    };
    let (build, cargo_log) =
        Build { course: &app.course, bins, examples, stage: None, color: false, show_progress: true }
            .run_verbose()?;
    if let (Some(hosting), Some(program)) =
        (&hosting, build.bins.get(HOST_BIN).and_then(|built| built.executable.clone()))
    {
        // When this build compiled the library, the first save can already skip cargo.
        hosting.recordings().remember(&app.course, current, &hosted_lib(current), &program, &cargo_log);
        let hosting = Arc::clone(hosting);
        // A host that does not start costs nothing: checks then run in processes.
        std::thread::spawn(move || hosting.start(&program));
    }

    let (sender, receiver) = events::channel_pair();
    let _watcher = events::watch_files(&app.course.root.join("exercises"), sender.clone())?;
    let raw_mode = terminal::RawMode::enable()?;
    let keys = events::read_keys(sender.clone());

    let mut watch = Watch {
        app,
        state,
        body: String::new(),
        list: None,
        editor,
        keys,
        show_hint: false,
        notice: String::new(),
        confirming_reset: false,
        running: None,
        recheck: false,
        stale: false,
        events: sender,
        hosting,
    };
    watch.check_current()?;
    if edit_cmd.is_some() {
        // The check runs meanwhile: its verdict is there when a terminal editor is closed.
        watch.edit()?;
    }

    let mut deadline: Option<Instant> = None;
    loop {
        let event = match deadline {
            Some(at) => match receiver.recv_timeout(at.saturating_duration_since(Instant::now())) {
                Ok(event) => Some(event),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => bail!("the keyboard and file watchers stopped"),
            },
            None => Some(receiver.recv()?),
        };
        match event {
            None => {
                deadline = None;
                watch.check_current()?;
            }
            Some(Event::FileChanged(path)) => {
                if path == watch.current_path() {
                    deadline = Some(Instant::now() + DEBOUNCE);
                }
            }
            Some(Event::Key(key)) => {
                if !watch.on_key(key)? {
                    break;
                }
            }
            Some(Event::Finished(finished)) => watch.on_finished(finished)?,
            Some(Event::Error(message)) => bail!(message),
        }
    }
    // A check may still be running (a hang the learner gave up on): stop it with us.
    crate::exec::stop_all();
    drop(raw_mode);
    println!("Bye! Your progress is saved; run `{}` to continue.", app.invoke.trim_end_matches(" --"));
    Ok(ExitCode::SUCCESS)
}

impl Watch<'_> {
    fn current_path(&self) -> std::path::PathBuf {
        let course = &self.app.course;
        course.exercise_path(&course.exercises()[self.state.current()])
    }

    /// Handles a key; `false` means quit.
    fn on_key(&mut self, key: Key) -> Result<bool> {
        self.notice.clear();
        if self.list.is_some() {
            return self.on_list_key(key);
        }
        if matches!(key, Key::Char('q') | Key::Esc | Key::Interrupt) {
            return Ok(false);
        }
        if key == Key::Char('e') {
            // Editing while a check runs is fine: the save checks the new version.
            self.confirming_reset = false;
            self.edit()?;
            return Ok(true);
        }
        if self.running.is_some() && key != Key::Char('h') {
            self.notice = "Wait for the check to finish, save a new version (which stops it), or press q to stop it and quit.".into();
            return self.draw().map(|_| true);
        }
        if self.confirming_reset {
            self.confirming_reset = false;
            if key == Key::Char('y') {
                self.reset_current()?;
            } else {
                self.notice = "Reset cancelled.".into();
                self.draw()?;
            }
            return Ok(true);
        }
        match key {
            Key::Char('h') => {
                self.show_hint = !self.show_hint;
                self.draw()?;
            }
            Key::Char('l') => {
                let names = self.app.course.exercises().iter().map(|e| e.name.clone()).collect();
                let rows = terminal::rows().saturating_sub(LIST_CHROME_ROWS);
                self.list = Some(ListView::new(names, self.state.current(), rows));
                self.draw()?;
            }
            Key::Char('r') => self.check_current()?,
            Key::Char('n') => self.next()?,
            Key::Char('c') => self.start(Job::All)?,
            Key::Char('p') => self.profile_current()?,
            Key::Char('x') => {
                self.confirming_reset = true;
                self.notice = format!(
                    "Reset {} to as shipped? Your version is kept as a backup. Press y to reset, any other key to cancel.",
                    render::path_link(&self.app.course, &self.current_path())
                );
                self.draw()?;
            }
            _ => {}
        }
        Ok(true)
    }

    /// A key while the list is open: the list decides, watch mode does what it says.
    fn on_list_key(&mut self, key: Key) -> Result<bool> {
        let Some(list) = &mut self.list else { return Ok(true) };
        match list.update(key, self.state.done_flags()) {
            Effect::Redraw => {}
            Effect::Close => self.list = None,
            Effect::Quit => return Ok(false),
            Effect::Select(_) | Effect::Reset(_) if self.running.is_some() => {
                self.notice = "Wait for the check to finish; then choose again.".into();
            }
            Effect::Select(index) => {
                self.list = None;
                self.show_hint = false;
                self.state.set_current(index);
                self.state.save(&self.app.course)?;
                self.check_current()?;
                return Ok(true);
            }
            Effect::Reset(index) => {
                self.reset(index)?;
                if index == self.state.current() {
                    self.check_current()?;
                    return Ok(true);
                }
            }
        }
        self.draw()?;
        Ok(true)
    }

    /// Opens the current exercise in the learner's editor: a graphical one in the background,
    /// a terminal one in the foreground with the terminal handed over until it exits.
    fn edit(&mut self) -> Result<()> {
        let Some(editor) = &self.editor else {
            self.notice = format!(
                "No editor is set: start with `{} --edit-cmd CMD` (e.g. code, vim), or set TENSORLINGS_EDITOR \
                 or EDITOR.",
                self.app.invoke
            );
            return self.draw();
        };
        let path = self.current_path();
        let shown = render::path_link(&self.app.course, &path);
        let opened = match editor.kind {
            Kind::Graphical => editor.spawn_detached(&path),
            Kind::Terminal => {
                // Keys typed in the editor are the editor's: the key reader waits meanwhile.
                self.keys.pause();
                let lent = terminal::Lent::lend();
                let ran = lent.and_then(|_lent| editor.run_in_foreground(&path));
                self.keys.resume();
                ran
            }
        };
        self.notice = match opened {
            Ok(()) => format!("Opened {shown} with {}.", editor.program()),
            Err(error) => format!("{error:#}"),
        };
        self.draw()
    }

    fn check_current(&mut self) -> Result<()> {
        if let Some(job) = &self.running {
            // A check or a profile of an older version of this file is of no use: stop it (its
            // build or its run) rather than wait up to the timeout; checking every exercise is
            // left to finish.
            if matches!(job, Job::One(index) | Job::Profile(index) if *index == self.state.current()) {
                crate::exec::stop_all();
                self.stale = true;
            }
            self.recheck = true;
            return Ok(());
        }
        let path = self.current_path();
        if !path.exists() {
            self.body = format!(
                "{} is missing. Waiting for it to come back (or press x to restore it as shipped).",
                render::path_link(&self.app.course, &path)
            );
            return self.draw();
        }
        self.start(Job::One(self.state.current()))
    }

    /// Hands a job to a worker thread, which answers with [`Event::Finished`].
    fn start(&mut self, job: Job) -> Result<()> {
        let course: Course = self.app.course.clone();
        let options = check::RunOptions {
            color: colored::control::SHOULD_COLORIZE.should_colorize(),
            ..self.app.run.clone()
        };
        let events = self.events.clone();
        let hosting = self.hosting.clone();
        let finished = match job {
            Job::One(index) => {
                self.running = Some(Job::One(index));
                Box::new(move || {
                    let exercise = &course.exercises()[index];
                    Finished::One(
                        index,
                        check::check_exercise_warm(&course, exercise, &options, hosting.as_deref(), false),
                    )
                }) as Box<dyn FnOnce() -> Finished + Send>
            }
            Job::Profile(index) => {
                self.running = Some(Job::Profile(index));
                Box::new(move || {
                    let profiled = crate::profile::profile_exercise(
                        &course,
                        index,
                        &options,
                        crate::staging::Subject::Exercises,
                        None,
                        false,
                    );
                    Finished::Profile(index, profiled)
                })
            }
            Job::All => {
                self.running = Some(Job::All);
                let options = verify::Options {
                    run: options,
                    subject: crate::staging::Subject::Exercises,
                    jobs: crate::commands::default_jobs(),
                    progress: false,
                };
                Box::new(move || {
                    let indices: Vec<usize> = (0..course.exercises().len()).collect();
                    Finished::All(verify::verify(&course, &indices, &options))
                })
            }
        };
        std::thread::spawn(move || {
            let _ = events.send(Event::Finished(finished()));
        });
        self.draw()
    }

    fn on_finished(&mut self, finished: Finished) -> Result<()> {
        self.running = None;
        if let Some(error) = self.hosting.as_ref().and_then(|hosting| hosting.take_error()) {
            self.notice = render::warm_host_unavailable(&error);
        }
        if std::mem::take(&mut self.stale) {
            crate::exec::allow_starts();
            self.recheck = false;
            return self.check_current();
        }
        let course = &self.app.course;
        match finished {
            Finished::One(index, verdict) => {
                let verdict = verdict?;
                let exercise = &course.exercises()[index];
                self.state.record(index, &verdict);
                let mut text = String::new();
                // The welcome stays on screen until the first exercise is done.
                if self.state.done_count() == 0 {
                    text.push_str(course.info.welcome_message.trim_end());
                    text.push_str("\n\n");
                }
                let see_all = format!("`{} run {}` shows all", self.app.invoke, exercise.name);
                let shown = render::Shown {
                    hint: "press h for a hint",
                    output_lines: Some((15, &see_all)),
                    invoke: self.app.invoke,
                };
                text.push_str(&render::verdict(course, exercise, &verdict, &shown));
                if verdict.passed() {
                    if self.state.all_done() {
                        text.push('\n');
                        text.push_str(course.info.final_message.trim_end());
                        text.push('\n');
                    } else {
                        text.push_str(&format!("{}\n", "Press n for the next exercise.".green().bold()));
                    }
                }
                self.body = text;
            }
            Finished::All(verdicts) => {
                let verdicts = verdicts?;
                for (index, verdict) in verdicts.iter().enumerate() {
                    self.state.record(index, verdict);
                }
                let indices: Vec<usize> = (0..verdicts.len()).collect();
                self.body = render::summary_table(course, &indices, &verdicts, self.app.invoke);
                self.notice = "Press r to re-check the current exercise.".into();
            }
            Finished::Profile(index, profiled) => {
                let exercise = &course.exercises()[index];
                self.body = match profiled? {
                    crate::profile::Profiled::Measured(profile) => render::profile::table(&profile),
                    crate::profile::Profiled::NotPassing(verdict) => {
                        // A crash or a timeout may come from the profile's large sizes alone:
                        // only a verdict of the checks themselves changes the progress.
                        if !matches!(verdict.status(), Status::Crash | Status::Timeout) {
                            self.state.record(index, &verdict);
                        }
                        let see_all = format!("`{} run {}` shows all", self.app.invoke, exercise.name);
                        let shown = render::Shown {
                            hint: "press h for a hint",
                            output_lines: Some((15, &see_all)),
                            invoke: self.app.invoke,
                        };
                        format!(
                            "{}{}\n",
                            render::verdict(course, exercise, &verdict, &shown),
                            render::profile::not_passing(&exercise.name, verdict.status(), self.app.invoke)
                        )
                    }
                };
                self.notice = "Press r to re-check the exercise and show its verdict again.".into();
            }
        }
        self.state.save(course)?;
        if std::mem::take(&mut self.recheck) {
            return self.check_current();
        }
        self.draw()
    }

    /// `p`: profiles the current exercise once it passes and has a profile to run.
    fn profile_current(&mut self) -> Result<()> {
        let course = &self.app.course;
        let index = self.state.current();
        let exercise = &course.exercises()[index];
        let declared = std::fs::read_to_string(course.check_path(exercise))
            .is_ok_and(|source| crate::profile::declares_profile(&source));
        if !declared {
            self.notice =
                render::profile::no_profile(&exercise.name, &crate::profile::profiled_exercises(course));
            return self.draw();
        }
        if !self.state.done_flags()[index] {
            self.notice = "p profiles the exercise once it passes; h shows a hint.".into();
            return self.draw();
        }
        self.start(Job::Profile(index))
    }

    fn next(&mut self) -> Result<()> {
        match self.state.advance() {
            Advance::NotDone => {
                self.notice = "n moves on once this exercise passes; h shows a hint.".into();
                self.draw()
            }
            Advance::To(_) => {
                self.show_hint = false;
                self.state.save(&self.app.course)?;
                self.check_current()
            }
            Advance::Finished => {
                self.body = self.app.course.info.final_message.clone();
                self.draw()
            }
        }
    }

    fn reset_current(&mut self) -> Result<()> {
        self.reset(self.state.current())?;
        self.check_current()
    }

    /// Restores an exercise as shipped, says where the learner's version went, and records it
    /// as not done. A reset that fails (no shipped copy to restore) is said, not fatal.
    fn reset(&mut self, index: usize) -> Result<()> {
        let course = &self.app.course;
        let name = &course.exercises()[index].name;
        let reset = match reset_exercise(course, index) {
            Ok(reset) => reset,
            Err(error) => {
                self.notice = format!("Cannot reset {name}: {error:#}");
                return Ok(());
            }
        };
        self.notice = match reset {
            Reset::Restored { backup: Some(backup) } => {
                format!("Reset {name}. Your version is saved as {}", render::path_link(course, &backup))
            }
            Reset::Restored { backup: None } => format!("Restored {name}, which was missing."),
            Reset::Unchanged => format!("{name} is already as shipped."),
        };
        self.state.reset(index);
        self.state.save(course)
    }

    fn draw(&mut self) -> Result<()> {
        if let Some(list) = &mut self.list {
            // Measured at each draw: the terminal may have been resized.
            let rows = terminal::rows().saturating_sub(LIST_CHROME_ROWS);
            list.set_height(rows, self.state.done_flags());
        }
        let course = &self.app.course;
        let exercise = &course.exercises()[self.state.current()];
        let mut text = match &self.list {
            Some(list) => render::list_view(course, &self.state, list),
            None => self.body.clone(),
        };
        if !text.ends_with('\n') {
            text.push('\n');
        }
        if self.show_hint && self.list.is_none() {
            text.push_str(&format!("\n{}\n{}\n", "Hint:".cyan().bold(), exercise.hint.trim_end()));
        }
        text.push_str(&format!(
            "\n{}\nCurrent exercise: {}\n",
            render::progress_bar(self.state.done_count(), self.state.len(), 40),
            render::path_link(course, &self.current_path()).bold(),
        ));
        if self.list.is_none() {
            text.push_str(&format!("{}\n", KEYS.dimmed()));
        }
        match &self.running {
            Some(Job::One(_)) => text.push_str(&format!(
                "Checking {}... (it is stopped after {} s; q stops it and quits)\n",
                exercise.name,
                course.info.timeout(exercise).as_secs()
            )),
            Some(Job::All) => text.push_str("Checking every exercise... (q stops it and quits)\n"),
            Some(Job::Profile(_)) => text.push_str(&format!(
                "Profiling {}: your version, the reference and the built-in at each size... (q stops it and quits)\n",
                exercise.name
            )),
            None => {}
        }
        if !self.notice.is_empty() {
            text.push_str(&self.notice);
            text.push('\n');
        }
        terminal::draw(&text)
    }
}
