//! Reading a configuration directory: `jira-sync.toml`, `sites.d/*.toml` (sorted) and
//! `JIRA_SYNC__...` environment overrides, through the `config` crate.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use config::{Environment, File, FileFormat, Map, Value, ValueKind};
use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;

use crate::error::{ConfigErrors, Problem, Problems};
use crate::model::{Config, Site};
use crate::raw::{RawDaemon, RawSite};
use crate::validate::{self, Context, Outline};

/// Prefix of environment overrides: `JIRA_SYNC__LISTEN`, `JIRA_SYNC__SITES__ACME__LIMITS__BURST`.
pub const ENV_PREFIX: &str = "JIRA_SYNC";
const SEP: &str = "__";
/// How the `config` crate names the origin of values it read from the environment.
const ENV_ORIGIN: &str = "the environment";
/// Bound on the remove-and-retry loop, so a pathological file cannot spin.
const MAX_PROBLEMS_PER_FILE: usize = 100;

/// Loads configuration with an explicit environment snapshot.
#[derive(Debug, Clone)]
pub struct Loader {
    env: BTreeMap<String, String>,
}

impl Loader {
    /// A loader that sees the process environment.
    pub fn from_process_env() -> Self {
        Loader::with_env(std::env::vars().collect())
    }

    /// A loader that sees only `env` (overrides, `$CREDENTIALS_DIRECTORY`, `{ env = .. }`).
    pub fn with_env(env: BTreeMap<String, String>) -> Self {
        Loader { env }
    }

    /// Reads and validates `dir`; on failure returns every problem found in every file.
    pub fn load(&self, dir: &Path) -> Result<Config, ConfigErrors> {
        let mut problems = Vec::new();
        // Relative secret files and state_dir stay right even if the daemon changes directory.
        let dir = &std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        let overrides = Overrides::split(&self.env);
        let daemon_file = dir.join("jira-sync.toml");
        let mut files = vec![daemon_file.clone()];

        let daemon = if daemon_file.is_file() {
            read::<RawDaemon>(&daemon_file, &overrides.daemon, &mut problems).and_then(
                |(raw, tree)| {
                    let cx = Context::new(dir, &self.env, InlineRule::new(&daemon_file, tree));
                    let mut p = Problems {
                        file: &daemon_file,
                        list: &mut problems,
                    };
                    validate::daemon(raw, dir, &self.env, &cx, &mut p)
                },
            )
        } else {
            problems.push(Problem::new(
                &daemon_file,
                "",
                "not found; the configuration directory needs jira-sync.toml (it may be empty to use every default)",
            ));
            None
        };

        let state_dir = daemon.as_ref().map(|d| d.state_dir.clone());
        let mut sites: Vec<Site> = Vec::new();
        let mut outlines = Vec::new();
        let mut matched_env_sites = Vec::new();
        for path in site_files(dir, &mut problems) {
            files.push(path.clone());
            let Some(file_only) = build(&path, None, &mut problems) else {
                continue;
            };
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let name = match file_only.kind {
                ValueKind::Table(ref t) => match t.get("name").map(|v| &v.kind) {
                    Some(ValueKind::String(n)) => n.clone(),
                    _ => stem,
                },
                _ => stem,
            };
            let env = overrides.sites.get(&name);
            if env.is_some() {
                matched_env_sites.push(name.clone());
            }
            let tree = match env {
                Some(env) => match build(&path, Some(env), &mut problems) {
                    Some(t) => t,
                    None => continue,
                },
                None => file_only,
            };
            let env_prefix = format!(
                "{ENV_PREFIX}{SEP}SITES{SEP}{}{SEP}",
                name.to_ascii_uppercase()
            );
            let Some(raw) = deserialize::<RawSite>(&path, &env_prefix, tree.clone(), &mut problems)
            else {
                continue;
            };
            outlines.push(Outline::of(&raw, &name, &path));
            let cx = Context::new(dir, &self.env, InlineRule::new(&path, tree));
            let mut p = Problems {
                file: &path,
                list: &mut problems,
            };
            if let Some(site) = validate::site(raw, name, state_dir.as_deref(), &cx, &mut p) {
                sites.push(site);
            }
        }
        for (name, vars) in &overrides.sites {
            if !matched_env_sites.contains(name) {
                for var in vars.keys() {
                    let rest = var
                        .strip_prefix(&format!("{ENV_PREFIX}{SEP}"))
                        .unwrap_or(var);
                    let original = format!(
                        "{ENV_PREFIX}{SEP}SITES{SEP}{}{SEP}{rest}",
                        name.to_ascii_uppercase()
                    );
                    problems.push(Problem::new(
                        Path::new("environment"),
                        original,
                        format!(
                            "names site `{name}`, but no file in {} defines it",
                            dir.join("sites.d").display()
                        ),
                    ));
                }
            }
        }
        if sites.is_empty() && problems.is_empty() {
            problems.push(Problem::new(
                &dir.join("sites.d"),
                "",
                "holds no site file; add one sites.d/NAME.toml per Jira site (examples: /usr/share/doc/jira-sync/examples/, or config/examples/ in the source)",
            ));
        }
        validate::across_sites(&outlines, &mut problems);
        if let Some(d) = &daemon {
            for site in outlines.iter().filter(|s| s.webhooks) {
                let missing: Vec<&str> = [
                    ("webhook_listen", d.webhook_listen.is_none()),
                    ("webhook_url", d.webhook_url.is_none()),
                ]
                .into_iter()
                .filter_map(|(k, m)| m.then_some(k))
                .collect();
                if !missing.is_empty() {
                    problems.push(Problem::new(
                        &site.file,
                        "webhooks",
                        format!(
                            "is true, but jira-sync.toml has no {}; set them (the listener's address and the public URL Jira calls) or turn webhooks off",
                            missing.join(" and ")
                        ),
                    ));
                }
            }
        }
        match (daemon, problems.is_empty()) {
            (Some(daemon), true) => Ok(Config {
                dir: dir.to_path_buf(),
                files,
                daemon,
                sites,
            }),
            _ => Err(ConfigErrors::new(problems)),
        }
    }
}

/// Reads and validates `dir` with the process environment.
pub fn load(dir: &Path) -> Result<Config, ConfigErrors> {
    Loader::from_process_env().load(dir)
}

/// Environment overrides, split into the daemon file's and each site's.
#[derive(Debug, Default)]
struct Overrides {
    /// Variables for `jira-sync.toml`, as given.
    daemon: Map<String, String>,
    /// Per site name: variables rewritten to `JIRA_SYNC__KEY` for that site's file.
    sites: BTreeMap<String, Map<String, String>>,
}

impl Overrides {
    fn split(env: &BTreeMap<String, String>) -> Self {
        let mut o = Overrides::default();
        let prefix = format!("{ENV_PREFIX}{SEP}");
        let sites_prefix = format!("{prefix}SITES{SEP}");
        for (k, v) in env {
            let upper = k.to_ascii_uppercase();
            if let Some(rest) = upper.strip_prefix(&sites_prefix) {
                let (site, key) = rest.split_once(SEP).unwrap_or((rest, ""));
                o.sites
                    .entry(site.to_ascii_lowercase())
                    .or_default()
                    .insert(format!("{prefix}{key}"), v.clone());
            } else if upper.starts_with(&prefix) {
                o.daemon.insert(k.clone(), v.clone());
            }
        }
        o
    }
}

/// `sites.d/*.toml`, sorted by name; hidden files and other extensions are ignored.
fn site_files(dir: &Path, problems: &mut Vec<Problem>) -> Vec<PathBuf> {
    let sites_d = dir.join("sites.d");
    let entries = match std::fs::read_dir(&sites_d) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            problems.push(Problem::new(&sites_d, "", format!("cannot be read: {e}")));
            return Vec::new();
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "toml")
                && p.file_name()
                    .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
        })
        .collect();
    paths.sort();
    paths
}

fn read<T: DeserializeOwned>(
    path: &Path,
    env: &Map<String, String>,
    problems: &mut Vec<Problem>,
) -> Option<(T, Value)> {
    let tree = build(path, Some(env), problems)?;
    let raw = deserialize(path, &format!("{ENV_PREFIX}{SEP}"), tree.clone(), problems)?;
    Some((raw, tree))
}

/// One file plus its environment overrides, merged by the `config` crate.
fn build(
    path: &Path,
    env: Option<&Map<String, String>>,
    problems: &mut Vec<Problem>,
) -> Option<Value> {
    let mut builder =
        config::Config::builder().add_source(File::from(path).format(FileFormat::Toml));
    if let Some(env) = env.filter(|e| !e.is_empty()) {
        builder = builder.add_source(
            Environment::with_prefix(ENV_PREFIX)
                .separator(SEP)
                .source(Some(env.clone())),
        );
    }
    match builder.build() {
        Ok(c) => Some(c.cache),
        Err(e) => {
            let msg = match e {
                config::ConfigError::FileParse { cause, .. } => {
                    format!("is not valid TOML: {}", without_source(&cause.to_string()))
                }
                other => other.to_string(),
            };
            problems.push(Problem::new(path, "", msg));
            None
        }
    }
}

/// A TOML parse error without the lines of the file it quotes (`5 | token = "..."`, and
/// the `|` and `^` lines around them): the line may hold a secret. What is left names the
/// line and column, and what was expected.
fn without_source(message: &str) -> String {
    let kept: Vec<&str> = message
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            let numbered = t.split_once('|').is_some_and(|(n, _)| {
                n.trim().is_empty() || n.trim().chars().all(|c| c.is_ascii_digit())
            });
            !numbered && !t.is_empty()
        })
        .map(str::trim)
        .collect();
    kept.join("; ")
}

/// Deserializes `tree`; each unknown key or wrongly typed value is recorded, removed, and
/// deserialization retried, so one pass reports all of them.
fn deserialize<T: DeserializeOwned>(
    path: &Path,
    env_prefix: &str,
    mut tree: Value,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    for _ in 0..MAX_PROBLEMS_PER_FILE {
        let err = match serde_path_to_error::deserialize::<_, T>(tree.clone()) {
            Ok(t) => return Some(t),
            Err(err) => err,
        };
        let message = err.inner().to_string();
        let mut segments: Vec<Segment> = err.path().iter().cloned().collect();
        // An unknown key is reported at its table; name the key itself.
        if let Some(field) = unknown_field(&message)
            && !matches!(segments.last(), Some(Segment::Map { key }) if key == field)
        {
            segments.push(Segment::Map {
                key: field.to_owned(),
            });
        }
        let key = key_string(&tree, &segments);
        let from_env = lookup(&tree, &segments).is_some_and(|v| v.origin() == Some(ENV_ORIGIN));
        let message = tidy(&message, from_env.then_some(env_prefix), &key);
        problems.push(Problem::new(path, key, message));
        if !remove(&mut tree, &segments) {
            return None;
        }
    }
    None
}

fn unknown_field(message: &str) -> Option<&str> {
    message.strip_prefix("unknown field `")?.split('`').next()
}

/// The `config` crate appends its own "for key ... in FILE"; the problem says both already.
fn tidy(message: &str, env_prefix: Option<&str>, key: &str) -> String {
    let core = message.split(" for key `").next().unwrap_or(message);
    let core = core
        .replace("unknown field", "unknown key")
        .replace("expected one of", "allowed keys are");
    if let Some(prefix) = env_prefix {
        let var = format!("{prefix}{}", key.to_ascii_uppercase().replace('.', SEP));
        format!("{core} (value from environment variable {var})")
    } else {
        core
    }
}

/// The key as an operator finds it in the file: `auth.token`, `connector.sec.schedule`
/// (a connector is named by its `name` when it has a valid one, else by its index).
fn key_string(tree: &Value, segments: &[Segment]) -> String {
    let mut out = String::new();
    for (i, s) in segments.iter().enumerate() {
        match s {
            Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Seq { index } => {
                let name = lookup(tree, &segments[..=i]).and_then(|v| match &v.kind {
                    ValueKind::Table(t) => match t.get("name").map(|n| &n.kind) {
                        Some(ValueKind::String(n)) if validate::is_name(n) => Some(n.clone()),
                        _ => None,
                    },
                    _ => None,
                });
                match name {
                    Some(n) => out.push_str(&format!(".{n}")),
                    None => out.push_str(&format!("[{index}]")),
                }
            }
            Segment::Enum { variant } => out.push_str(&format!("::{variant}")),
            Segment::Unknown => out.push_str(".?"),
        }
    }
    out
}

fn lookup<'v>(tree: &'v Value, segments: &[Segment]) -> Option<&'v Value> {
    segments.iter().try_fold(tree, |v, s| match (s, &v.kind) {
        (Segment::Map { key }, ValueKind::Table(t)) => t.get(key),
        (Segment::Seq { index }, ValueKind::Array(a)) => a.get(*index),
        _ => None,
    })
}

fn remove(tree: &mut Value, segments: &[Segment]) -> bool {
    let Some((last, parents)) = segments.split_last() else {
        return false;
    };
    let mut v = tree;
    for s in parents {
        v = match (s, &mut v.kind) {
            (Segment::Map { key }, ValueKind::Table(t)) => match t.get_mut(key) {
                Some(child) => child,
                None => return false,
            },
            (Segment::Seq { index }, ValueKind::Array(a)) => match a.get_mut(*index) {
                Some(child) => child,
                None => return false,
            },
            _ => return false,
        };
    }
    match (last, &mut v.kind) {
        (Segment::Map { key }, ValueKind::Table(t)) => t.remove(key).is_some(),
        // Keep indices stable for later messages: blank the element rather than shift.
        (Segment::Seq { index }, ValueKind::Array(a)) if *index < a.len() => {
            a[*index] = Value::new(None, ValueKind::Table(Map::new()));
            true
        }
        _ => false,
    }
}

/// Inline secrets are acceptable when the value came from the environment, or when the file
/// is readable by its owner only.
#[derive(Debug)]
pub(crate) struct InlineRule {
    private: bool,
    tree: Value,
}

impl InlineRule {
    fn new(path: &Path, tree: Value) -> Self {
        InlineRule {
            private: file_is_private(path),
            tree,
        }
    }

    /// Whether an inline secret at the dotted `key` is acceptable.
    pub(crate) fn allows(&self, key: &str) -> bool {
        let segments: Vec<Segment> = key
            .split('.')
            .map(|k| Segment::Map { key: k.to_owned() })
            .collect();
        self.private
            || lookup(&self.tree, &segments).is_some_and(|v| v.origin() == Some(ENV_ORIGIN))
    }
}

#[cfg(unix)]
fn file_is_private(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 == 0)
}

#[cfg(not(unix))]
fn file_is_private(_path: &Path) -> bool {
    false
}
