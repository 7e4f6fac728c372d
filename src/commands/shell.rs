//! `matbench completions SHELL` and `matbench manpage`: generated from the command line's own
//! definition (clap_complete, clap_mangen), so they never drift from it.

use crate::cli::{Cli, CompletionsArgs};
use crate::error::{Error, Exit};
use crate::output::Stdout;
use clap::CommandFactory;

/// Prints the completion script for the shell.
pub fn completions(args: &CompletionsArgs, out: &mut Stdout) -> Result<Exit, Error> {
    let mut bytes = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "matbench", &mut bytes);
    out.write(&bytes)?;
    Ok(Exit::Success)
}

/// Prints the man page.
pub fn manpage(out: &mut Stdout) -> Result<Exit, Error> {
    let mut bytes = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut bytes)
        .map_err(|e| Error::Encode {
            what: "the man page",
            reason: e.to_string(),
        })?;
    out.write(&bytes)?;
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_and_the_man_page_name_every_subcommand() {
        let mut bash = Vec::new();
        clap_complete::generate(
            clap_complete::Shell::Bash,
            &mut Cli::command(),
            "matbench",
            &mut bash,
        );
        let bash = String::from_utf8(bash).unwrap();
        let mut man = Vec::new();
        clap_mangen::Man::new(Cli::command())
            .render(&mut man)
            .unwrap();
        let man = String::from_utf8(man).unwrap();
        for sub in [
            "gpu", "cpu", "sweep", "compare", "report", "export", "plot", "info",
        ] {
            assert!(bash.contains(sub), "bash completion lacks {sub}");
            assert!(man.contains(sub), "man page lacks {sub}");
        }
        assert!(
            bash.contains("--dtype") && man.starts_with(".ie"),
            "{}",
            &man[..40]
        );
    }
}
