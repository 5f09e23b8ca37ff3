//! `cargo xtask`: the developer side of Bascule.
//!
//! The commands and their command line are in the library ([`xtask::main`]), which a platform's
//! own `xtask` crate calls too (`cargo xtask init-platform`). The error is printed here, with its
//! causes, rather than returned from `main`: anyhow prints a returned error with a backtrace
//! whenever `RUST_BACKTRACE` is set, which buries a one-line load error under stack frames.

fn main() -> std::process::ExitCode {
    xtask::exit_code(xtask::main())
}
