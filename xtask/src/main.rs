//! `cargo xtask`: the developer side of Bascule.
//!
//! The commands and their command line are in the library ([`xtask::main`]), which a platform's
//! own `xtask` crate calls too (`cargo xtask init-platform`).

fn main() -> anyhow::Result<()> {
    xtask::main()
}
