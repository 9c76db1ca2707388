//! Secret references (`{ credential = ".." }`, `{ file = ".." }`, `{ env = ".." }`) and the
//! type that holds a resolved secret without ever printing it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

/// What the operator wrote where a secret belongs.
#[derive(Clone)]
pub enum SecretRef {
    /// The value itself, written in the file. Refused unless only the owner can read the file.
    Inline(SecretString),
    /// `{ credential = "NAME" }`: the file `$CREDENTIALS_DIRECTORY/NAME` (systemd `LoadCredential=`).
    Credential(String),
    /// `{ file = "PATH" }`: a file; relative paths are resolved against the config directory.
    File(PathBuf),
    /// `{ env = "VAR" }`: an environment variable of the daemon.
    Env(String),
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Inline(_) => f.write_str("Inline([REDACTED])"),
            SecretRef::Credential(n) => f.debug_tuple("Credential").field(n).finish(),
            SecretRef::File(p) => f.debug_tuple("File").field(p).finish(),
            SecretRef::Env(v) => f.debug_tuple("Env").field(v).finish(),
        }
    }
}

const EXPECTED: &str =
    r#"a secret reference: { credential = "NAME" }, { file = "PATH" } or { env = "VAR" }"#;

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RefVisitor;

        impl<'de> Visitor<'de> for RefVisitor {
            type Value = SecretRef;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(EXPECTED)
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<SecretRef, E> {
                Ok(SecretRef::Inline(SecretString::from(v)))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SecretRef, A::Error> {
                let mut found: Option<SecretRef> = None;
                while let Some(kind) = map.next_key::<String>()? {
                    let value: String = map.next_value()?;
                    let r = match kind.as_str() {
                        "credential" => SecretRef::Credential(value),
                        "file" => SecretRef::File(PathBuf::from(value)),
                        "env" => SecretRef::Env(value),
                        other => {
                            return Err(de::Error::custom(format!(
                                "unknown secret source `{other}`, expected {EXPECTED}"
                            )));
                        }
                    };
                    if found.replace(r).is_some() {
                        return Err(de::Error::custom(format!(
                            "give exactly one source, expected {EXPECTED}"
                        )));
                    }
                }
                found.ok_or_else(|| de::Error::custom(format!("empty table, expected {EXPECTED}")))
            }
        }

        deserializer.deserialize_any(RefVisitor)
    }
}

/// Where a resolved secret came from; safe to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// Written inline in a configuration file.
    Inline,
    /// A systemd credential of this name.
    Credential(String),
    /// A file at this (absolute) path; re-read on every reload.
    File(PathBuf),
    /// An environment variable of this name.
    Env(String),
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Inline => f.write_str("inline value"),
            SecretSource::Credential(n) => write!(f, "credential `{n}`"),
            SecretSource::File(p) => write!(f, "file `{}`", p.display()),
            SecretSource::Env(v) => write!(f, "environment variable `{v}`"),
        }
    }
}

/// A resolved secret. `Debug` and `Display` show where it came from, never the value.
#[derive(Clone)]
pub struct Secret {
    value: SecretString,
    source: SecretSource,
}

impl Secret {
    /// A secret made in code (tests, the token vault); its source reads as inline.
    pub fn new(value: impl Into<String>) -> Self {
        Secret {
            value: SecretString::from(value.into()),
            source: SecretSource::Inline,
        }
    }

    /// The secret value. Call only where it is put on the wire.
    pub fn expose(&self) -> &str {
        self.value.expose_secret()
    }

    /// Where the value came from.
    pub fn source(&self) -> &SecretSource {
        &self.source
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({}, [REDACTED])", self.source)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[secret from {}]", self.source)
    }
}

/// Resolves secret references against the config directory and an environment snapshot.
#[derive(Debug)]
pub(crate) struct Resolver<'a> {
    pub(crate) config_dir: &'a Path,
    pub(crate) env: &'a BTreeMap<String, String>,
}

impl Resolver<'_> {
    /// Reads the secret; the error says which source failed and how, never the value.
    pub(crate) fn resolve(&self, r: &SecretRef) -> Result<Secret, String> {
        let (value, source) = match r {
            SecretRef::Inline(v) => (v.expose_secret().to_owned(), SecretSource::Inline),
            SecretRef::Credential(name) => {
                if name.is_empty() || name.contains('/') || name == "." || name == ".." {
                    return Err(format!(
                        "credential name `{name}` is not a file name; use the ID given to systemd's LoadCredential="
                    ));
                }
                let dir = self.env.get("CREDENTIALS_DIRECTORY").ok_or_else(|| {
                    format!(
                        "credential `{name}` needs $CREDENTIALS_DIRECTORY, which is not set; systemd sets it for a unit with LoadCredential={name}:PATH"
                    )
                })?;
                let path = Path::new(dir).join(name);
                let v = std::fs::read_to_string(&path).map_err(|e| {
                    format!(
                        "credential `{name}` cannot be read from {}: {e}",
                        path.display()
                    )
                })?;
                (v, SecretSource::Credential(name.clone()))
            }
            SecretRef::File(p) => {
                let path = self.config_dir.join(p);
                if path.is_dir() {
                    return Err(format!("secret file {} is a directory", path.display()));
                }
                if let Some(mode) = others_can_read(&path) {
                    return Err(exposed(
                        &format!(
                            "is a secret file ({}) that others can read (mode {mode:04o})",
                            path.display()
                        ),
                        "chmod 0640 it with group jira-sync (the service's group), or 0600",
                    ));
                }
                let v = std::fs::read_to_string(&path)
                    .map_err(|e| format!("secret file {} cannot be read: {e}", path.display()))?;
                (v, SecretSource::File(path))
            }
            SecretRef::Env(var) => {
                let v = self.env.get(var).ok_or_else(|| {
                    format!("environment variable `{var}` named as a secret source is not set")
                })?;
                (v.clone(), SecretSource::Env(var.clone()))
            }
        };
        // Files written by editors and `echo` end in a newline; tokens never contain one.
        let value = value.trim();
        if value.is_empty() {
            return Err(format!("the secret from {source} is empty"));
        }
        if value.contains(['\n', '\r']) {
            return Err(format!(
                "the secret from {source} holds more than one line; a token is one line"
            ));
        }
        Ok(Secret {
            value: SecretString::from(value.to_owned()),
            source,
        })
    }
}

/// The message for a secret that more people can read than the service: an inline secret in
/// a file that group or others can read, or a secret file that others can read. `what` says
/// which (it follows the key), `fix` what to run.
pub(crate) fn exposed(what: &str, fix: &str) -> String {
    format!(
        "{what}; a secret must be readable by the service only: {fix}, or use {{ credential = \"NAME\" }} (systemd LoadCredential=)"
    )
}

/// The file's permission bits when others than its owner and group may read it (`o+r`);
/// `None` when they may not, or when the file cannot be inspected (reading it then reports
/// why).
#[cfg(unix)]
fn others_can_read(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o7777;
    (mode & 0o004 != 0).then_some(mode)
}

#[cfg(not(unix))]
fn others_can_read(_path: &Path) -> Option<u32> {
    None
}
