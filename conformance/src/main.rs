use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let code = match conformance::cli::Invocation::parse().split() {
        Ok(cli) => conformance::app::main(cli),
        Err(props) => conformance::props::command(&props),
    };
    ExitCode::from(code)
}
