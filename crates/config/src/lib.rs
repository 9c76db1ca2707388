//! Typed configuration of jira-sync: the daemon file, `sites.d/*.toml`, environment
//! overrides, validation and secret references.
//!
//! Parsing has two stages: [`raw`] mirrors the files (unknown keys refused), and
//! validation turns it into the checked [`Config`] that the rest of the daemon accepts.

mod error; // Problem and ConfigErrors: file, key and what is allowed.
mod load; // Reading the directory and the environment through the `config` crate.
mod model; // The checked types.
pub mod raw; // The files as written, with defaults.
mod secret; // Secret references and the Secret type that never prints its value.
mod validate; // Every rule.

pub use error::{ConfigErrors, Problem};
pub use load::{ENV_PREFIX, Loader, load};
pub use model::*;
pub use secret::{Secret, SecretRef, SecretSource};
