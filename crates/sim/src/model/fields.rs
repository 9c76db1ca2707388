//! Custom fields of a site: the type that decides what each accepts, and option ids that
//! belong to one site.

/// The type of a custom field, which decides the values it accepts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "options")]
pub enum FieldKind {
    /// Single-line text: a string.
    Text,
    /// Multi-line text: an ADF document.
    Textarea,
    /// A number.
    Number,
    /// A date, `YYYY-MM-DD`.
    Date,
    /// One option of a list: `{"value": ".."}` or `{"id": ".."}`.
    Select(Vec<String>),
    /// Several options of a list: `[{"value": ".."}, ...]` (or ids).
    MultiSelect(Vec<String>),
    /// An instant: written `yyyy-MM-ddTHH:mm:ss.SSS+hhmm`, read in the site's time zone.
    DateTime,
    /// A cascading select: parent options, each with its child options. Written
    /// `{"value": parent, "child": {"value": child}}` (or ids), read with `self` and `id` on
    /// both.
    Cascading(Vec<(String, Vec<String>)>),
    /// A list of labels.
    Labels,
    /// Jira Software's Sprint field: written as a bare sprint id (a number), read as the
    /// sprints with their boards (reference jira-cloud-api.md section 11.7). Sprint ids
    /// belong to one site's boards.
    Sprint,
    /// A user picker: written `{"accountId"}`, read as the user.
    User,
    /// A multi-user picker: `[{"accountId"}]`.
    MultiUser,
    /// A group picker: written `{"name"}` or `{"groupId"}` (a bare string is refused), read
    /// as `{"name", "groupId", "self"}`.
    Group,
    /// A multi-group picker: `[{"name"}]`.
    MultiGroup,
    /// A version picker: one of the project's versions, `{"name"}` or `{"id"}`.
    Version,
    /// A multi-version picker: `[{"name"}]`.
    MultiVersion,
}

impl FieldKind {
    /// The options of a select or multi-select field.
    pub fn options(&self) -> &[String] {
        match self {
            FieldKind::Select(o) | FieldKind::MultiSelect(o) => o,
            _ => &[],
        }
    }
}

#[derive(Debug, Clone)]
pub struct CustomField {
    pub id: String,
    pub name: String,
    pub kind: FieldKind,
    /// The id of its first option. Option ids belong to one site (options live in the
    /// field's context, reference jira-cloud-api.md section 11.7), so two sites' ids for
    /// the same option value differ.
    pub option_base: u64,
    /// Its schema's (`type`, `custom`) where it differs from what `kind` says: radio
    /// buttons and checkboxes store like selects, a URL field like text, and a third-party
    /// app's field has a type and key of its own.
    pub schema: Option<(&'static str, &'static str)>,
}

impl CustomField {
    /// The id of option `i`.
    pub fn option_id(&self, i: usize) -> String {
        (self.option_base + i as u64).to_string()
    }

    /// The id of child option `j` of a cascading select's parent `i`.
    pub fn child_id(&self, i: usize, j: usize) -> String {
        (self.option_base + 50 + (i * 10 + j) as u64).to_string()
    }
}
