//! The `vpp` binary: everything happens in [`vpp_api::cli`].

fn main() -> std::process::ExitCode {
    vpp_api::cli::main()
}
