//! The learner's editor: which command opens an exercise, and whether it needs the terminal.
//!
//! The command comes from `--edit-cmd`, else `TENSORLINGS_EDITOR`, `VISUAL` or `EDITOR`. It is
//! split as a shell would split it (`"emacsclient -n"`, `'code --reuse-window'`), and the
//! exercise's path is added as its last argument. Watch mode runs a terminal editor (vim,
//! nano...) in the foreground, handing it the terminal, and starts a graphical one (VS Code,
//! Zed...) on its own, in the background.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// The variables read for an editor, after `--edit-cmd`, in order.
pub const EDITOR_VARS: [&str; 3] = ["TENSORLINGS_EDITOR", "VISUAL", "EDITOR"];

/// Editors that open a window of their own and return (or stay on) without the terminal. Any
/// other command is taken to be a terminal editor: it is given the terminal and waited for,
/// which is also right for a graphical editor told to wait (`code --wait`).
const GRAPHICAL: &[&str] = &[
    "code",
    "code-insiders",
    "codium",
    "vscodium",
    "cursor",
    "windsurf",
    "zed",
    "zeditor",
    "subl",
    "sublime_text",
    "atom",
    "gedit",
    "gnome-text-editor",
    "kate",
    "kwrite",
    "mousepad",
    "pluma",
    "xed",
    "geany",
    "gvim",
    "mvim",
    "neovide",
    "lapce",
    "idea",
    "clion",
    "rustrover",
    "fleet",
    "open",
    "xdg-open",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Needs the terminal: watch mode steps aside until it exits.
    Terminal,
    /// Opens a window: started in the background, watch mode carries on.
    Graphical,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Editor {
    /// The program and its arguments, before the file's path.
    words: Vec<String>,
    pub kind: Kind,
    /// Where the command came from: `--edit-cmd` or a variable's name.
    pub source: String,
}

impl Editor {
    /// The editor from `--edit-cmd`, else from the first variable of [`EDITOR_VARS`] that is
    /// set and not empty (`var` reads one); `None` when there is none.
    pub fn choose(edit_cmd: Option<&str>, var: impl Fn(&str) -> Option<String>) -> Result<Option<Editor>> {
        if let Some(command) = edit_cmd {
            return Editor::parse(command, "--edit-cmd").map(Some);
        }
        for name in EDITOR_VARS {
            if let Some(command) = var(name).filter(|c| !c.trim().is_empty()) {
                return Editor::parse(&command, name).map(Some);
            }
        }
        Ok(None)
    }

    /// Splits `command` as a POSIX shell would (quotes, backslashes), without running a shell.
    pub fn parse(command: &str, source: &str) -> Result<Editor> {
        let Some(words) = shlex::split(command) else {
            bail!("{source}: cannot split `{command}` into words (an unclosed quote?)");
        };
        let Some(program) = words.first() else {
            bail!("{source} is empty: name an editor, such as `code` or `vim`");
        };
        Ok(Editor { kind: kind_of(program), words, source: source.to_string() })
    }

    /// The program's name, for messages: `vim`, `code`.
    pub fn program(&self) -> &str {
        &self.words[0]
    }

    /// The command that opens `path`.
    pub fn command(&self, path: &Path) -> Command {
        let mut command = Command::new(&self.words[0]);
        command.args(&self.words[1..]).arg(path);
        command
    }

    /// Starts a graphical editor on `path` and returns at once. It gets no terminal (its
    /// messages would draw over watch mode), runs in a process group of its own (so that the
    /// terminal's Ctrl-C does not reach it), and outlives watch mode; a thread reaps it.
    pub fn spawn_detached(&self, path: &Path) -> Result<()> {
        use std::os::unix::process::CommandExt;
        let mut child = self
            .command(path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .with_context(|| self.cannot_start())?;
        std::thread::spawn(move || child.wait());
        Ok(())
    }

    /// Runs a terminal editor on `path` in the foreground and waits for it; the caller hands
    /// it the terminal first. An exit status other than success is an error.
    pub fn run_in_foreground(&self, path: &Path) -> Result<()> {
        let status = self.command(path).status().with_context(|| self.cannot_start())?;
        if !status.success() {
            bail!("the editor `{}` exited with {status}", self.program());
        }
        Ok(())
    }

    fn cannot_start(&self) -> String {
        format!("cannot start the editor `{}` (from {})", self.program(), self.source)
    }
}

/// Whether `program` (a name or a path) is a known graphical editor.
fn kind_of(program: &str) -> Kind {
    let name = Path::new(program).file_name().and_then(|n| n.to_str()).unwrap_or(program);
    let name = name.strip_suffix(".exe").unwrap_or(name);
    if GRAPHICAL.contains(&name) { Kind::Graphical } else { Kind::Terminal }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(set: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| set.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn the_option_wins_then_the_variables_in_order() {
        let all = [("TENSORLINGS_EDITOR", "zed"), ("VISUAL", "code --wait"), ("EDITOR", "vim")];
        let chosen = |edit_cmd, set| Editor::choose(edit_cmd, vars(set)).unwrap().map(|e| e.source);
        assert_eq!(chosen(Some("nano"), &all[..]).as_deref(), Some("--edit-cmd"));
        assert_eq!(chosen(None, &all[..]).as_deref(), Some("TENSORLINGS_EDITOR"));
        assert_eq!(chosen(None, &all[1..]).as_deref(), Some("VISUAL"));
        assert_eq!(chosen(None, &all[2..]).as_deref(), Some("EDITOR"));
        assert_eq!(chosen(None, &[("VISUAL", " "), ("EDITOR", "vim")][..]).as_deref(), Some("EDITOR"));
        assert_eq!(chosen(None, &[][..]), None);
    }

    #[test]
    fn commands_are_split_as_a_shell_would_and_get_the_path_last() {
        let editor = Editor::parse("emacsclient -n --alternate-editor ''", "EDITOR").unwrap();
        let command = editor.command(Path::new("/c/exercises/add.rs"));
        assert_eq!(command.get_program(), "emacsclient");
        let args: Vec<_> = command.get_args().collect();
        assert_eq!(args, ["-n", "--alternate-editor", "", "/c/exercises/add.rs"]);
        assert!(Editor::parse("vim 'unclosed", "--edit-cmd").unwrap_err().to_string().contains("unclosed"));
        assert!(Editor::parse("  ", "--edit-cmd").unwrap_err().to_string().contains("is empty"));
    }

    #[test]
    fn graphical_editors_are_known_by_name_and_the_rest_get_the_terminal() {
        assert_eq!(Editor::parse("code", "EDITOR").unwrap().kind, Kind::Graphical);
        assert_eq!(Editor::parse("/usr/bin/zed --new", "EDITOR").unwrap().kind, Kind::Graphical);
        assert_eq!(Editor::parse("'/opt/Sublime Text/subl'", "EDITOR").unwrap().kind, Kind::Graphical);
        for terminal in ["vim", "nvim", "nano", "hx", "emacs -nw", "/usr/bin/vi", "my-editor"] {
            assert_eq!(Editor::parse(terminal, "EDITOR").unwrap().kind, Kind::Terminal, "{terminal}");
        }
    }

    #[test]
    fn a_missing_editor_is_a_clear_error() {
        let editor = Editor::parse("no-such-editor-here", "VISUAL").unwrap();
        let error = editor.run_in_foreground(Path::new("x.rs")).unwrap_err();
        assert_eq!(format!("{error}"), "cannot start the editor `no-such-editor-here` (from VISUAL)");
        let error =
            Editor::parse("false", "EDITOR").unwrap().run_in_foreground(Path::new("x.rs")).unwrap_err();
        assert!(error.to_string().contains("exited with exit status: 1"), "{error}");
    }
}
