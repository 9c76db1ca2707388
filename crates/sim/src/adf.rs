//! Atlassian Document Format: the checks Jira applies to rich-text bodies.

use serde_json::{Value, json};

/// Node types of the ADF schema that Jira Cloud accepts.
const NODE_TYPES: &[&str] = &[
    "blockCard",
    "blockquote",
    "bodiedExtension",
    "bulletList",
    "codeBlock",
    "date",
    "decisionItem",
    "decisionList",
    "embedCard",
    "emoji",
    "expand",
    "extension",
    "hardBreak",
    "heading",
    "inlineCard",
    "inlineExtension",
    "layoutColumn",
    "layoutSection",
    "listItem",
    "media",
    "mediaGroup",
    "mediaInline",
    "mediaSingle",
    "mention",
    "nestedExpand",
    "orderedList",
    "panel",
    "paragraph",
    "placeholder",
    "rule",
    "status",
    "table",
    "tableCell",
    "tableHeader",
    "tableRow",
    "taskItem",
    "taskList",
    "text",
];

/// The attributes the ADF schema gives the nodes that name things of a site (media and
/// people); any other attribute is refused (reference jira-cloud-api.md section 11.10).
const ATTRS: &[(&str, &[&str])] = &[
    (
        "media",
        &[
            "id",
            "type",
            "collection",
            "width",
            "height",
            "alt",
            "occurrenceKey",
            "url",
            "localId",
        ],
    ),
    (
        "mediaInline",
        &[
            "id",
            "type",
            "collection",
            "width",
            "height",
            "alt",
            "localId",
            "data",
        ],
    ),
    (
        "mention",
        &["id", "text", "accessLevel", "userType", "localId"],
    ),
];

/// Checks a document: `{"version": 1, "type": "doc", "content": [...]}`, known node types,
/// no empty text nodes, marks and attrs of the right shape.
pub fn validate(doc: &Value) -> Result<(), String> {
    let obj = doc.as_object().ok_or("the document is not an object")?;
    if obj.get("type").and_then(Value::as_str) != Some("doc") {
        return Err("the root node must have type \"doc\"".into());
    }
    if obj.get("version").and_then(Value::as_i64) != Some(1) {
        return Err("the document must have version 1".into());
    }
    let content = obj
        .get("content")
        .and_then(Value::as_array)
        .ok_or("the document has no content array")?;
    for node in content {
        validate_node(node, 1)?;
    }
    Ok(())
}

fn validate_node(node: &Value, depth: usize) -> Result<(), String> {
    if depth > 64 {
        return Err("the document nests too deeply".into());
    }
    let obj = node.as_object().ok_or("a node is not an object")?;
    let ty = obj
        .get("type")
        .and_then(Value::as_str)
        .ok_or("a node has no type")?;
    if !NODE_TYPES.contains(&ty) {
        return Err(format!("unknown node type `{ty}`"));
    }
    if ty == "text" {
        match obj.get("text").and_then(Value::as_str) {
            Some(t) if !t.is_empty() => {}
            _ => return Err("empty text nodes are not permitted".into()),
        }
    }
    if let Some(marks) = obj.get("marks") {
        let marks = marks.as_array().ok_or("marks must be an array")?;
        if marks
            .iter()
            .any(|m| m.get("type").and_then(Value::as_str).is_none())
        {
            return Err("every mark needs a type".into());
        }
    }
    if obj.get("attrs").is_some_and(|a| !a.is_object()) {
        return Err("attrs must be an object".into());
    }
    if let Some((_, known)) = ATTRS.iter().find(|(t, _)| *t == ty)
        && let Some(a) = obj.get("attrs").and_then(Value::as_object)
        && let Some(k) = a.keys().find(|k| !known.contains(&k.as_str()))
    {
        return Err(format!("`{ty}` has no attribute `{k}`"));
    }
    if let Some(content) = obj.get("content") {
        for child in content.as_array().ok_or("content must be an array")? {
            validate_node(child, depth + 1)?;
        }
    }
    Ok(())
}

/// A document of one paragraph per line of `text` (empty lines become empty paragraphs).
pub fn from_text(text: &str) -> Value {
    let paragraphs: Vec<Value> = text
        .lines()
        .map(|line| {
            if line.is_empty() {
                json!({ "type": "paragraph", "content": [] })
            } else {
                json!({ "type": "paragraph", "content": [{ "type": "text", "text": line }] })
            }
        })
        .collect();
    json!({ "version": 1, "type": "doc", "content": paragraphs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_documents_and_refuses_what_jira_refuses() {
        assert!(validate(&from_text("hello\n\nworld")).is_ok());
        let bad = [
            json!("plain text"),
            json!({"type": "doc", "version": 2, "content": []}),
            json!({"type": "paragraph", "version": 1, "content": []}),
            json!({"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": ""}]}]}),
            json!({"type": "doc", "version": 1, "content": [{"type": "blink"}]}),
            json!({"type": "doc", "version": 1, "content": [{"type": "mediaSingle", "content": [{"type": "media", "attrs": {"id": "x", "type": "file", "jiraSyncSite": "a"}}]}]}),
            json!({"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "mention", "attrs": {"id": "x", "site": "a"}}]}]}),
            json!({"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "x", "marks": [{}]}]}]}),
        ];
        for b in bad {
            assert!(validate(&b).is_err(), "{b}");
        }
    }
}
