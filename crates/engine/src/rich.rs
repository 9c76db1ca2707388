//! Rich text across sites: the media and mentions of an Atlassian Document Format body
//! (descriptions, paragraph fields, comments), which name things of one site (reference
//! jira-cloud-api.md section 11.10).
//!
//! - A `media` node's `id` names a file in one site's media store; on another site it shows
//!   as a broken file. So in the hub each media and mention node carries the site it was
//!   read on ([`SITE_ATTR`], never sent to Jira), and a body written to another site shows
//!   each of that site's media blocks as a visible placeholder naming the file and linking
//!   to the source issue ([`for_site`]).
//! - Read back from the mirror, a placeholder is the media node again, and a body edited on
//!   a mirror, or replaced through the hub API, keeps every media node of other sites
//!   ([`to_hub`], [`keep_media`]): Jira deletes an attachment whose node a rewrite drops,
//!   with no restore.
//! - A mention names an Atlassian account; on a site where the person's email maps to an
//!   account it names that account, elsewhere it is the display name as plain text
//!   ([`Mentions`]).

use std::collections::{BTreeMap, VecDeque};

use serde_json::{Value, json};

/// The attribute on a hub `media`, `mediaInline` or `mention` node that names the site it
/// was read on. It is never written to Jira.
pub const SITE_ATTR: &str = "jiraSyncSite";

/// Where each site's media live for one record: site -> (issue key, browse URL of the
/// record's issue there, e.g. `https://acme.atlassian.net/browse/SEC-1`).
pub type Sources = BTreeMap<String, (String, String)>;

/// Resolved mentions for one write: (site read on, account id) -> the account to name on
/// the target, or `None` where the person has no account there (written as plain text).
pub type Mentions = BTreeMap<(String, String), Option<String>>;

/// Each mirrored file's Media Services ids by site (its source's and its copies'): a media
/// node of one site is written as the same file's copy on another, and read back as the
/// original (see [`for_site_with`], [`to_hub_with`]). An empty id is an unknown one.
pub type Copies = Vec<BTreeMap<String, String>>;

/// Whether `v` is an ADF document.
pub fn is_doc(v: &Value) -> bool {
    v.get("type").and_then(Value::as_str) == Some("doc") && v.get("content").is_some()
}

fn is_media_block(node: &Value) -> bool {
    // A well-formed block holds `media` nodes only; anything else is walked like any other
    // container (Jira would refuse it, but a read never trusts that).
    matches!(node["type"].as_str(), Some("mediaSingle" | "mediaGroup"))
        && node["content"]
            .as_array()
            .is_some_and(|c| !c.is_empty() && c.iter().all(|m| m["type"] == "media"))
}

/// The site a media block (its first `media` child) or an inline node was read on.
fn site_of(node: &Value) -> Option<&str> {
    if is_media_block(node) {
        return node["content"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|m| m["attrs"][SITE_ATTR].as_str());
    }
    node["attrs"][SITE_ATTR].as_str()
}

/// The media ids of a media unit (see [`media_units`]).
fn media_ids(unit: &Value) -> Vec<String> {
    if !is_media_block(unit) {
        return unit["attrs"]["id"]
            .as_str()
            .map(str::to_owned)
            .into_iter()
            .collect();
    }
    unit["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["attrs"]["id"].as_str().map(str::to_owned))
        .collect()
}

/// The media units of `v`, in document order: each media block (`mediaSingle`,
/// `mediaGroup`, whose `media` children go with it) and each inline file (`mediaInline`, or
/// a `media` node outside a block).
fn media_units<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    for child in v["content"].as_array().into_iter().flatten() {
        if is_media_block(child) || matches!(child["type"].as_str(), Some("mediaInline" | "media"))
        {
            out.push(child);
        } else {
            media_units(child, out);
        }
    }
}

/// Applies `f` to every node of `v` (children first), replacing each by what it returns.
fn map_nodes(v: &Value, f: &mut dyn FnMut(Value) -> Vec<Value>) -> Value {
    let mut out = v.clone();
    if let Some(content) = v.get("content").and_then(Value::as_array) {
        let mut children = Vec::new();
        for child in content {
            let mapped = map_nodes(child, f);
            children.extend(f(mapped));
        }
        out["content"] = Value::Array(children);
    }
    out
}

/// Visits every node of `v`.
fn each_node<'a>(v: &'a Value, f: &mut dyn FnMut(&'a Value)) {
    for child in v["content"].as_array().into_iter().flatten() {
        f(child);
        each_node(child, f);
    }
}

/// A document read on `site` with its `media`, `mediaInline` and `mention` nodes tagged
/// with that site (nodes already tagged keep their tag).
pub fn tag(doc: &Value, site: &str) -> Value {
    if !is_doc(doc) {
        return doc.clone();
    }
    map_nodes(doc, &mut |mut node| {
        if matches!(
            node["type"].as_str(),
            Some("media" | "mediaInline" | "mention")
        ) && node["attrs"].is_object()
            && node["attrs"].get(SITE_ATTR).is_none()
        {
            node["attrs"][SITE_ATTR] = json!(site);
        }
        vec![node]
    })
}

/// `attrs` without the hub's site tag.
fn untagged(mut node: Value) -> Value {
    if let Some(a) = node.get_mut("attrs").and_then(Value::as_object_mut) {
        a.remove(SITE_ATTR);
    }
    node
}

/// The file names of a media block or inline node: each `media` node's `alt`, else "an
/// image" (in a `mediaSingle`) or "a file".
fn names(node: &Value) -> String {
    let unnamed = if node["type"] == "mediaSingle" {
        "an image"
    } else {
        "a file"
    };
    let alt = |m: &Value| {
        m["attrs"]["alt"]
            .as_str()
            .filter(|a| !a.trim().is_empty())
            .unwrap_or(unnamed)
            .to_owned()
    };
    if !is_media_block(node) {
        return alt(node);
    }
    let all: Vec<String> = node["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["type"] == "media")
        .map(alt)
        .collect();
    if all.is_empty() {
        unnamed.to_owned()
    } else {
        all.join(", ")
    }
}

/// The text nodes naming where a media node's file is: a link to the source issue, or the
/// site's name when the record has no issue known there.
fn where_from(site: &str, sources: &Sources) -> Vec<Value> {
    match sources.get(site) {
        Some((key, url)) => vec![
            json!({ "type": "text", "text": " (attached to " }),
            json!({ "type": "text", "text": key, "marks": [{ "type": "link", "attrs": { "href": url } }] }),
            json!({ "type": "text", "text": ", not copied here)" }),
        ],
        None => vec![
            json!({ "type": "text", "text": format!(" (attached on {site}, not copied here)") }),
        ],
    }
}

/// Numbers the placeholders of one document: the second file of a site shown under the same
/// name is `name #2`, and so on, so that each placeholder names one media unit.
#[derive(Default)]
struct Labels(BTreeMap<(bool, String, String), usize>);

impl Labels {
    /// The name a placeholder shows for media unit `unit` of site `from`.
    fn of(&mut self, unit: &Value, from: &str) -> String {
        let name = names(unit);
        let n = self
            .0
            .entry((is_media_block(unit), from.to_owned(), name.clone()))
            .or_default();
        *n += 1;
        if *n == 1 {
            name
        } else {
            format!("{name} #{n}")
        }
    }
}

/// The placeholder a mirror shows for media unit `unit` of site `from`, named `label`: a
/// paragraph naming the files and linking to the source issue (a block), or the name linked
/// to it (an inline file).
fn placeholder(unit: &Value, from: &str, label: &str, sources: &Sources) -> Value {
    if is_media_block(unit) {
        let mut content = vec![json!({ "type": "text", "text": format!("📎 {label}") })];
        content.extend(where_from(from, sources));
        return json!({ "type": "paragraph", "content": content });
    }
    match sources.get(from) {
        Some((_, url)) => json!({
            "type": "text",
            "text": format!("📎 {label}"),
            "marks": [{ "type": "link", "attrs": { "href": url } }],
        }),
        None => json!({ "type": "text", "text": format!("📎 {label} (on {from})") }),
    }
}

/// Media unit `unit` of site `from` as `site`'s copies of the same files, when each of its
/// files has a copy there with a known id.
fn as_copy(unit: &Value, from: &str, site: &str, copies: &Copies) -> Option<Value> {
    let target = |id: &str| {
        copies
            .iter()
            .find(|f| f.get(from).map(String::as_str) == Some(id))
            .and_then(|f| f.get(site))
            .filter(|t| !t.is_empty())
            .cloned()
    };
    let renamed = |m: &Value| -> Option<Value> {
        let mut n = untagged(m.clone());
        n["attrs"]["id"] = json!(target(m["attrs"]["id"].as_str()?)?);
        Some(n)
    };
    if !is_media_block(unit) {
        return renamed(unit);
    }
    let mut out = unit.clone();
    let children = unit["content"].as_array()?;
    let mut mapped = Vec::with_capacity(children.len());
    for c in children {
        mapped.push(if c["type"] == "media" {
            renamed(c)?
        } else {
            c.clone()
        });
    }
    out["content"] = Value::Array(mapped);
    Some(out)
}

/// The placeholders of the other sites' media of `doc` as `site` shows them (those without
/// copies there), in document order: (placeholder, media unit).
fn placeholders(
    doc: &Value,
    site: &str,
    sources: &Sources,
    copies: &Copies,
) -> Vec<(Value, Value)> {
    let mut labels = Labels::default();
    foreign_media(doc, site)
        .into_iter()
        .filter(|unit| as_copy(unit, site_of(unit).unwrap_or_default(), site, copies).is_none())
        .map(|unit| {
            let from = site_of(unit).unwrap_or_default();
            let label = labels.of(unit, from);
            (placeholder(unit, from, &label, sources), unit.clone())
        })
        .collect()
}

/// The mention (or text) that names the person of mention `node` on the target.
fn mention_on(node: Value, mentions: &Mentions) -> Value {
    let site = node["attrs"][SITE_ATTR].as_str().map(str::to_owned);
    let id = node["attrs"]["id"].as_str().unwrap_or_default().to_owned();
    let found = site.and_then(|s| mentions.get(&(s, id.clone())).cloned());
    match found {
        // Not a foreign mention (same site, or untagged): as it is.
        None => untagged(node),
        Some(Some(target)) => {
            let mut n = untagged(node);
            n["attrs"]["id"] = json!(target);
            n
        }
        Some(None) => {
            let text = node["attrs"]["text"]
                .as_str()
                .filter(|t| !t.is_empty())
                .unwrap_or("@someone");
            json!({ "type": "text", "text": text })
        }
    }
}

/// The hub document `doc` as written on `site`: that site's own media and mentions as they
/// are (without the hub's tag), another site's media blocks and inline media as
/// placeholders linking to the source issue, another site's mentions as `mentions` says.
/// Untagged media (a document given through the hub API) are written as they are.
pub fn for_site(doc: &Value, site: &str, sources: &Sources, mentions: &Mentions) -> Value {
    for_site_with(doc, site, sources, mentions, &Copies::new())
}

/// [`for_site`], where a file copied to `site` (`copies`) is shown as that copy, not as a
/// placeholder.
pub fn for_site_with(
    doc: &Value,
    site: &str,
    sources: &Sources,
    mentions: &Mentions,
    copies: &Copies,
) -> Value {
    if !is_doc(doc) {
        return doc.clone();
    }
    let mut out = Written {
        site,
        sources,
        mentions,
        copies,
        labels: Labels::default(),
    };
    out.node(doc)
}

/// How a hub document is written on one site.
struct Written<'a> {
    site: &'a str,
    sources: &'a Sources,
    mentions: &'a Mentions,
    copies: &'a Copies,
    labels: Labels,
}

impl Written<'_> {
    /// One node of the document (top-down, in document order: a media block is replaced
    /// whole, with its `media` children).
    fn node(&mut self, node: &Value) -> Value {
        let foreign = site_of(node).filter(|s| *s != self.site);
        match (node["type"].as_str(), foreign) {
            (Some("mediaSingle" | "mediaGroup" | "mediaInline" | "media"), Some(from)) => {
                if let Some(copy) = as_copy(node, from, self.site, self.copies) {
                    return copy;
                }
                let label = self.labels.of(node, from);
                placeholder(node, from, &label, self.sources)
            }
            (Some("mention"), Some(_)) => mention_on(node.clone(), self.mentions),
            (Some("media" | "mediaInline" | "mention"), None) => untagged(node.clone()),
            _ => {
                let mut out = node.clone();
                if let Some(content) = node.get("content").and_then(Value::as_array) {
                    out["content"] = content.iter().map(|c| self.node(c)).collect();
                }
                out
            }
        }
    }
}

/// `v` without the hub's site tags anywhere.
fn untag_all(v: &Value) -> Value {
    let mut out = untagged(v.clone());
    if let Some(content) = v.get("content").and_then(Value::as_array) {
        out["content"] = content.iter().map(untag_all).collect();
    }
    out
}

/// The mentions of `doc` read on a site other than `site`: (site, account id), to resolve
/// before [`for_site`].
pub fn foreign_mentions(doc: &Value, site: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    each_node(doc, &mut |n| {
        if n["type"] == "mention"
            && let (Some(s), Some(id)) = (n["attrs"][SITE_ATTR].as_str(), n["attrs"]["id"].as_str())
            && s != site
            && !out.iter().any(|(a, b)| a == s && b == id)
        {
            out.push((s.to_owned(), id.to_owned()));
        }
    });
    out
}

/// The media units (see [`media_units`]) of sites other than `site` in `doc`.
fn foreign_media<'a>(doc: &'a Value, site: &str) -> Vec<&'a Value> {
    let mut all = Vec::new();
    media_units(doc, &mut all);
    all.retain(|n| site_of(n).is_some_and(|s| s != site));
    all
}

/// The hub form of document `read` (already [`tag`]ged) as read on `site`, given the hub's
/// forms of the same body: `previous[0]` the hub's current value, `previous[1]` (if any)
/// what this site last showed. Each placeholder of another site's media in the current
/// value is that media node again; a placeholder of media since deleted by its own site
/// goes; a mention written here as the person's name is the mention again; and the other
/// sites' media of the current value that the body no longer holds are kept (see
/// [`keep_media`]).
pub fn to_hub(read: &Value, site: &str, previous: &[&Value], sources: &Sources) -> Value {
    to_hub_with(read, site, previous, sources, &Copies::new())
}

/// [`to_hub`], where this site's copy of a file (`copies`) reads as the original media node.
pub fn to_hub_with(
    read: &Value,
    site: &str,
    previous: &[&Value],
    sources: &Sources,
    copies: &Copies,
) -> Value {
    let current = previous.first().copied();
    if !is_doc(read) {
        // Cleared (null): still not this site's to drop another site's media.
        return match current {
            Some(current) if read.is_null() => keep_media(read, current, Some(site)),
            _ => read.clone(),
        };
    }
    let restored = restore(read, site, previous, sources, copies);
    match current {
        Some(current) => keep_media(&restored, current, Some(site)),
        None => restored,
    }
}

/// Whether `shown` (what `site` shows, [`tag`]ged) reads as hub value `hub`: its
/// placeholders and copies are `hub`'s media, nothing added or missing. Then the site is in
/// step with the hub, whatever form the body was written in.
pub fn reads_as(
    shown: &Value,
    site: &str,
    hub: &Value,
    sources: &Sources,
    copies: &Copies,
) -> bool {
    if !is_doc(shown) {
        return shown == hub;
    }
    restore(shown, site, &[hub], sources, copies) == *hub
}

/// [`to_hub_with`] without keeping anything: placeholders and copies of `previous[0]`'s
/// media are those media again, placeholders of media since deleted go.
pub fn restore(
    read: &Value,
    site: &str,
    previous: &[&Value],
    sources: &Sources,
    copies: &Copies,
) -> Value {
    let current = previous.first().copied();
    // Placeholder -> the nodes it stands for, in document order (a node shown twice is
    // queued twice).
    let mut restore: BTreeMap<String, VecDeque<Option<Value>>> = BTreeMap::new();
    let mut current_ids = Vec::new();
    if let Some(current) = current.filter(|c| is_doc(c)) {
        for unit in foreign_media(current, site) {
            let from = site_of(unit).unwrap_or_default();
            if let Some(copy) = as_copy(unit, from, site, copies) {
                current_ids.extend(media_ids(unit));
                restore
                    .entry(untag_all(&copy).to_string())
                    .or_default()
                    .push_back(Some(unit.clone()));
            }
        }
        for (shown, unit) in placeholders(current, site, sources, copies) {
            current_ids.extend(media_ids(&unit));
            restore
                .entry(shown.to_string())
                .or_default()
                .push_back(Some(unit));
        }
        each_node(current, &mut |n| {
            if n["type"] == "mention" && site_of(n).is_some_and(|s| s != site) {
                let text = n["attrs"]["text"]
                    .as_str()
                    .filter(|t| !t.is_empty())
                    .unwrap_or("@someone");
                let shown = json!({ "type": "text", "text": text });
                restore
                    .entry(shown.to_string())
                    .or_default()
                    .push_back(Some(n.clone()));
            }
        });
    }
    // What this site last showed, for media its own site has deleted since: those
    // placeholders go.
    for prev in previous.iter().skip(1).filter(|p| is_doc(p)) {
        for (shown, unit) in placeholders(prev, site, sources, copies) {
            if media_ids(&unit).iter().all(|id| !current_ids.contains(id)) {
                restore
                    .entry(shown.to_string())
                    .or_default()
                    .push_back(None);
            }
        }
    }
    map_nodes(read, &mut |node| {
        let key = match node["type"].as_str() {
            Some("paragraph" | "text") => node.to_string(),
            // This site's copy of another site's file.
            Some("mediaSingle" | "mediaGroup" | "mediaInline") => untag_all(&node).to_string(),
            _ => return vec![node],
        };
        match restore.get_mut(&key).and_then(VecDeque::pop_front) {
            Some(Some(unit)) => vec![unit],
            Some(None) => vec![],
            None => vec![node],
        }
    })
}

/// How many times each media id is named by the media units of `doc`.
fn id_counts(doc: &Value) -> BTreeMap<String, usize> {
    let mut units = Vec::new();
    if is_doc(doc) {
        media_units(doc, &mut units);
    }
    let mut out = BTreeMap::new();
    for id in units.into_iter().flat_map(media_ids) {
        *out.entry(id).or_default() += 1;
    }
    out
}

/// `new` with the media units of `old` that `new` lacks (by media id, counting repeats)
/// appended at its end, for the units `keep` selects by their site.
fn keep_units(new: &Value, old: &Value, keep: &dyn Fn(&str) -> bool) -> Value {
    if !is_doc(old) {
        return new.clone();
    }
    let mut have = id_counts(new);
    let mut units = Vec::new();
    media_units(old, &mut units);
    let mut missing_blocks = Vec::new();
    let mut missing_inline = Vec::new();
    for unit in units {
        if !site_of(unit).is_some_and(keep) {
            continue;
        }
        let mut lost = false;
        for id in media_ids(unit) {
            match have.get_mut(&id) {
                Some(n) if *n > 0 => *n -= 1,
                _ => lost = true,
            }
        }
        if !lost {
            continue;
        }
        if is_media_block(unit) {
            missing_blocks.push(unit.clone());
        } else {
            missing_inline.push(unit.clone());
        }
    }
    if missing_blocks.is_empty() && missing_inline.is_empty() {
        return new.clone();
    }
    let mut out = if is_doc(new) {
        new.clone()
    } else {
        json!({ "version": 1, "type": "doc", "content": [] })
    };
    let content = out["content"]
        .as_array_mut()
        .expect("a document has content");
    content.extend(missing_blocks);
    if !missing_inline.is_empty() {
        content.push(json!({ "type": "paragraph", "content": missing_inline }));
    }
    out
}

/// `new` with every media unit of `old` that `new` lacks appended at its end, except
/// those of `editor`'s own site, which that site may delete. A rewrite that comes from a
/// mirror or the hub API (`editor` `None`) thus never drops a site's media: Jira would
/// delete the attachment for good.
pub fn keep_media(new: &Value, old: &Value, editor: Option<&str>) -> Value {
    keep_units(new, old, &|s| Some(s) != editor)
}

/// `new` with `site`'s own media units of `old` (what `site` shows now) that `new` lacks
/// appended: what is written on `site` never drops that site's own files, whichever edit
/// won elsewhere (only an edit on `site` itself removes them).
pub fn keep_own(new: &Value, old: &Value, site: &str) -> Value {
    keep_units(new, old, &|s| s == site)
}

/// The fingerprint of a body as a site shows it, to know a read of what jira-sync wrote.
pub fn print(v: &Value) -> u64 {
    crate::plan::fnv1a(v.to_string().as_bytes())
}

#[cfg(test)]
mod tests;
