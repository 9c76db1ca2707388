//! Plain text <-> Atlassian Document Format. Paragraphs (blank-line separated) and hard
//! breaks (single newlines) round-trip; everything else of a document is flattened to its
//! text when read. ADF that goes from Jira to Jira is carried as it is, never through here.

use serde_json::{Value, json};

/// A document of paragraphs; single newlines become hard breaks.
pub fn from_text(text: &str) -> Value {
    let paragraphs: Vec<Value> = text
        .split("\n\n")
        .map(|p| {
            let mut content = Vec::new();
            for (i, line) in p.split('\n').enumerate() {
                if i > 0 {
                    content.push(json!({ "type": "hardBreak" }));
                }
                if !line.is_empty() {
                    content.push(json!({ "type": "text", "text": line }));
                }
            }
            json!({ "type": "paragraph", "content": content })
        })
        .collect();
    json!({ "version": 1, "type": "doc", "content": paragraphs })
}

/// The text of a document: paragraphs and other blocks separated by blank lines, hard
/// breaks as newlines.
pub fn to_text(doc: &Value) -> String {
    let blocks: Vec<String> = doc["content"]
        .as_array()
        .into_iter()
        .flatten()
        .map(inline_text)
        .collect();
    blocks.join("\n\n")
}

fn inline_text(node: &Value) -> String {
    match node["type"].as_str() {
        Some("text") => node["text"].as_str().unwrap_or_default().to_owned(),
        Some("hardBreak") => "\n".to_owned(),
        Some("mention") => node["attrs"]["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        _ => {
            let children: Vec<String> = node["content"]
                .as_array()
                .into_iter()
                .flatten()
                .map(inline_text)
                .collect();
            let block = matches!(
                node["type"].as_str(),
                Some("paragraph" | "heading" | "listItem" | "codeBlock" | "blockquote")
            );
            if block && node["type"] != "paragraph" {
                children.join("\n")
            } else {
                children.concat()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_and_hard_breaks_round_trip() {
        for text in [
            "one line",
            "first\nsecond line",
            "para one\n\npara two\nwith a break",
            "",
            "trailing\n",
            "a\n\n\nb",
        ] {
            assert_eq!(to_text(&from_text(text)), text, "{text:?}");
        }
    }

    #[test]
    fn documents_from_jira_read_as_text() {
        let doc = json!({ "version": 1, "type": "doc", "content": [
            { "type": "heading", "attrs": { "level": 2 }, "content": [{ "type": "text", "text": "Title" }] },
            { "type": "paragraph", "content": [{ "type": "text", "text": "Hi " }, { "type": "mention", "attrs": { "id": "x", "text": "@Ann" } }, { "type": "text", "text": "!", "marks": [{ "type": "strong" }] }] },
        ] });
        assert_eq!(to_text(&doc), "Title\n\nHi @Ann!");
    }

    #[test]
    fn no_empty_text_nodes() {
        let d = from_text("a\n\nb\n");
        assert!(!d.to_string().contains(r#""text":"""#), "{d}");
    }
}
