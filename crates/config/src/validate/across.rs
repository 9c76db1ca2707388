//! Checks across site files: one name per site, and mirror references that name
//! connectors which exist.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::is_name;
use crate::error::Problem;
use crate::model::ConnectorRef;
use crate::raw::RawSite;

/// What the checks across files need of one site file, taken from its raw form so that they
/// run even when the file has other problems.
#[derive(Debug)]
pub(crate) struct Outline {
    pub(crate) name: String,
    /// True when the name comes from the `name` key rather than the file stem.
    pub(crate) named_by_key: bool,
    pub(crate) file: PathBuf,
    /// Connector names with the mirror references that parse.
    pub(crate) connectors: Vec<(String, Vec<ConnectorRef>)>,
    /// `webhooks = true`.
    pub(crate) webhooks: bool,
}

impl Outline {
    pub(crate) fn of(raw: &RawSite, name: &str, file: &Path) -> Self {
        let connectors = raw
            .connector
            .iter()
            .flatten()
            .filter_map(|c| {
                let name = c.name.clone().filter(|n| is_name(n))?;
                let mirrors = c
                    .mirror
                    .iter()
                    .flatten()
                    .filter_map(|m| m.parse().ok())
                    .collect();
                Some((name, mirrors))
            })
            .collect();
        Outline {
            name: name.to_owned(),
            named_by_key: raw.name.is_some(),
            file: file.to_path_buf(),
            connectors,
            webhooks: raw.webhooks == Some(true),
        }
    }
}

/// Checks across files: duplicate site names and mirror references.
pub(crate) fn across_sites(sites: &[Outline], problems: &mut Vec<Problem>) {
    let mut by_name: BTreeMap<&str, Vec<&Outline>> = BTreeMap::new();
    for s in sites {
        by_name.entry(&s.name).or_default().push(s);
    }
    for (name, same) in by_name.iter().filter(|(_, v)| v.len() > 1) {
        for s in same {
            let others: Vec<String> = same
                .iter()
                .filter(|o| o.file != s.file)
                .map(|o| o.file.display().to_string())
                .collect();
            problems.push(Problem::new(
                &s.file,
                if s.named_by_key { "name" } else { "" },
                format!(
                    "site name `{name}` is also used by {}; site names must be unique",
                    others.join(", ")
                ),
            ));
        }
    }
    let exists: BTreeSet<ConnectorRef> = sites
        .iter()
        .flat_map(|s| {
            s.connectors.iter().map(|(c, _)| ConnectorRef {
                site: s.name.clone(),
                connector: c.clone(),
            })
        })
        .collect();
    for s in sites {
        for (c, mirrors) in &s.connectors {
            let key = format!("connector.{c}.mirror");
            for m in mirrors {
                if m.site == s.name && m.connector == *c {
                    problems.push(Problem::new(
                        &s.file,
                        &key,
                        format!("`{m}` is this connector itself; mirror names other connectors"),
                    ));
                } else if !exists.contains(m) {
                    problems.push(Problem::new(
                        &s.file,
                        &key,
                        format!("`{m}` names no configured connector; expected `site/connector` of a connector in sites.d"),
                    ));
                }
            }
        }
    }
}
