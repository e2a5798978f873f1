use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(conformance::main())
}
