//! `oxirun-docs OUTDIR`: shell completions (bash, zsh, fish) and man pages (`oxirun.8` and one
//! per subcommand, `oxirun-create.8`...) generated from oxirun's clap definitions, so they
//! never drift from the binary. Used by `make install`.

use std::path::PathBuf;

use clap_complete::Shell;

fn main() -> std::io::Result<()> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/docs".into()),
    );
    std::fs::create_dir_all(out.join("man"))?;
    std::fs::create_dir_all(out.join("completions"))?;
    let cmd = oxirun::cli::command();
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut cmd.clone(), "oxirun", out.join("completions"))?;
    }
    write_man(&cmd, "oxirun", &out.join("man"))?;
    for sub in cmd.get_subcommands() {
        // clap names are &'static str here (no "string" feature); a one-shot tool may leak.
        let name: &'static str = Box::leak(format!("oxirun-{}", sub.get_name()).into_boxed_str());
        write_man(&sub.clone().name(name), name, &out.join("man"))?;
    }
    Ok(())
}

fn write_man(cmd: &clap::Command, name: &str, dir: &std::path::Path) -> std::io::Result<()> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .section("8")
        .render(&mut buf)?;
    std::fs::write(dir.join(format!("{name}.8")), buf)
}
