//! The one test harness of the workspace (`tests/README.md`): what the crates' integration
//! tests and the end-to-end tests in `tests/e2e/` build their worlds from, so no test binary
//! repeats a set-up.
//!
//! It is a library of the workspace, compiled once, and a dev-dependency of every crate whose
//! tests use it. Nothing in it is part of the product.

// Fixtures hold simulators, child processes and stores; none is printed.
#![allow(missing_debug_implementations)]

pub mod acme; // One simulator site with Alice, Bob and a bot, and a raw HTTP caller.
pub mod compare; // An issue as one comparable line; sizes of long runs from the environment.
pub mod config_dir; // Temporary configuration directories: hand-written ones and the demo's.
pub mod daemon; // The `jira-sync` binary as a child process, and the daemon's jobs in process.
pub mod files; // Attachments of an issue, and a pair that mirrors them.
pub mod pair; // Two simulator sites mirrored through the engine (acme/sec <-> globex/ops).
pub mod rich; // ADF nodes with media and mentions, and what an issue shows.
pub mod sites; // Checked `Site` values for crates that take configuration directly.
pub mod world; // Simulator building blocks: people, workflows, fields, sites, tokens, counters.

/// The workspace builds reqwest with rustls and no default crypto provider: install ring
/// (once per process; later calls do nothing).
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A plain reqwest client with the crypto provider installed.
pub fn http_client() -> reqwest::Client {
    install_crypto();
    reqwest::Client::new()
}

/// The repository's root directory (where `Cargo.toml`, `config/` and `systemd/` are).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
