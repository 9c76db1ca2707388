//! The Jira Cloud REST v3 client jira-sync talks to Jira through: typed operations over one
//! request loop that takes the site's rate limiter, authorizes with the site's credential
//! (one forced refresh on 401), retries by Atlassian's recipe, and reports each request.

pub mod adf; // Plain text <-> Atlassian Document Format.
mod attachments; // Files attached to an issue.
mod comments; // The comments of an issue.
pub mod decode; // Error collections and bulk-create answers.
mod error; // ClientError: what a caller can act on.
mod ops; // The typed operations.
mod request; // The request loop.
mod webhooks; // Dynamic webhooks of an OAuth 2.0 app.
mod workflow; // A workflow's definition (statuses and transitions).

pub use attachments::{Attachment, upload_name};
pub use comments::Comment;
pub use error::ClientError;
pub use ops::*;
pub use request::{Client, NoObserver, Observer, PrometheusObserver};
pub use webhooks::{AdminWebhook, AdminWebhookSpec, DynamicWebhook};
pub use workflow::{WorkflowEdge, WorkflowGraph};
