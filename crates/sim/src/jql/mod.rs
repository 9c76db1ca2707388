//! The subset of JQL a sync engine uses, parsed for real and evaluated against issues.
//!
//! Supported: `project`, `key`/`issuekey`, `id`, `status`, `labels` with `=`, `!=`, `in`,
//! `not in`; `key`/`issuekey`/`id` also with `>`, `>=`, `<`, `<=` (project, then number, as
//! Jira's "Issue key" field takes them); `creator = currentUser()`; `created`/`updated` compared with `= != > >= < <=`
//! against `"yyyy/MM/dd HH:mm"`, `"yyyy-MM-dd HH:mm"` or date-only literals, read in the
//! caller's time zone at minute granularity; `AND`, `OR`, `NOT`, parentheses; `ORDER BY`.
//! Anything else is an error naming the clause, which the API answers with 400.

mod eval;
mod lex;
mod parse;

pub use eval::{Compiled, compile};
pub use parse::{Clause, Expr, Field, Op, Operand, OrderBy, Query, parse};
