//! `push-server`: the command line lives in the library (`push_server::cli`), shared with the
//! `push-server` executables of the Ruby, Python and Node packages.

fn main() -> std::process::ExitCode {
    let code = push_server::cli::main(std::env::args_os());
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}
