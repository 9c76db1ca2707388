//! The sync algorithm: one connector run pulls changed issues, merges them per field into
//! hub records against each link's base, pushes what the hub has that Jira lacks (to this
//! connector's issues, creating mirrors of records from peer connectors), and commits.

mod cycle; // Engine::run: pull, merge, push, commit.
pub mod mapping; // Jira fields <-> hub fields.
pub mod plan;
pub mod rich; // Media and mentions of rich text across sites. // Pure decisions of the push: refusals read per field, transitions planned.

pub use cycle::{Engine, EngineError, PROPERTY, Rebuilt, Report, SiteCtx, jql_date};
