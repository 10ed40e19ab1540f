//! The `vpp` command line, built inside the tests package so that the end-to-end tests run a
//! binary built in the same invocation as themselves (see `vpp_bin` in `tests/e2e/main.rs`).

fn main() -> std::process::ExitCode {
    vpp_api::cli::main()
}
