use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = conformance::cli::Cli::parse();
    ExitCode::from(conformance::app::main(cli))
}
