//! A parsed query resolved against one site and one caller, then run over issues.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::parse::{Clause, Expr, Field, Op, Operand, OrderBy, OrderField, Query};
use crate::model::{Issue, Site};

/// A query ready to run: names resolved to ids, dates to minutes.
#[derive(Debug, Clone)]
pub struct Compiled {
    filter: Option<Pred>,
    order: Vec<OrderBy>,
}

#[derive(Debug, Clone)]
enum Pred {
    And(Box<Pred>, Box<Pred>),
    Or(Box<Pred>, Box<Pred>),
    Not(Box<Pred>),
    Project(BTreeSet<u64>, bool),
    Issue(BTreeSet<u64>, bool),
    /// `key > "SEC-100"` (and `>=`, `<`, `<=`): keys compare by project, then number, as
    /// Jira orders them.
    IssueRange(Op, (String, u64)),
    Status(BTreeSet<String>, bool),
    Labels(BTreeSet<String>, bool),
    Creator(BTreeSet<String>, bool),
    /// Field, operator, and the literal as minutes since the epoch (UTC).
    Time(Field, Op, i64),
}

/// Resolves `query` for `caller` (an account of `site`), whose time zone reads date literals.
pub fn compile(query: &Query, site: &Site, caller: &str, tz: Tz) -> Result<Compiled, String> {
    let filter = query
        .filter
        .as_ref()
        .map(|e| pred(e, site, caller, tz))
        .transpose()?;
    Ok(Compiled {
        filter,
        order: query.order.clone(),
    })
}

impl Compiled {
    /// True when the query restricts the issues it returns (Jira refuses unbounded search).
    pub fn is_bounded(&self) -> bool {
        self.filter.is_some()
    }

    pub fn matches(&self, issue: &Issue) -> bool {
        self.filter.as_ref().is_none_or(|p| eval(p, issue))
    }

    /// Sorts by the ORDER BY fields; ties (and no ORDER BY) fall back to id, newest first
    /// when unordered as Jira's default `key DESC` does.
    pub fn sort(&self, issues: &mut [&Issue]) {
        issues.sort_by(|a, b| {
            for o in &self.order {
                let c = match o.field {
                    OrderField::Updated => a.updated.cmp(&b.updated),
                    OrderField::Created => a.created.cmp(&b.created),
                    OrderField::Id | OrderField::Key => key_order(a, b),
                };
                let c = if o.descending { c.reverse() } else { c };
                if c != Ordering::Equal {
                    return c;
                }
            }
            if self.order.is_empty() {
                b.id.cmp(&a.id)
            } else {
                a.id.cmp(&b.id)
            }
        });
    }
}

/// A key as Jira orders keys: (project key, number).
fn split_key(k: &str) -> (String, u64) {
    let (p, n) = k.rsplit_once('-').unwrap_or((k, "0"));
    (p.to_ascii_uppercase(), n.parse().unwrap_or(0))
}

fn key_order(a: &Issue, b: &Issue) -> Ordering {
    split_key(&a.key).cmp(&split_key(&b.key))
}

fn pred(e: &Expr, site: &Site, caller: &str, tz: Tz) -> Result<Pred, String> {
    Ok(match e {
        Expr::And(a, b) => Pred::And(
            Box::new(pred(a, site, caller, tz)?),
            Box::new(pred(b, site, caller, tz)?),
        ),
        Expr::Or(a, b) => Pred::Or(
            Box::new(pred(a, site, caller, tz)?),
            Box::new(pred(b, site, caller, tz)?),
        ),
        Expr::Not(a) => Pred::Not(Box::new(pred(a, site, caller, tz)?)),
        Expr::Clause(c) => clause(c, site, caller, tz)?,
    })
}

fn clause(c: &Clause, site: &Site, caller: &str, tz: Tz) -> Result<Pred, String> {
    let negate = matches!(c.op, Op::Ne | Op::NotIn);
    let values: Vec<String> = match &c.operand {
        Operand::CurrentUser => vec![caller.to_owned()],
        Operand::Values(v) => v.clone(),
    };
    let field = c.field.name();
    let missing = |v: &str| format!("The value '{v}' does not exist for the field '{field}'.");
    Ok(match c.field {
        Field::Project => {
            let ids = values
                .iter()
                .map(|v| {
                    site.project_by_ref(v)
                        .map(|p| p.id)
                        .ok_or_else(|| missing(v))
                })
                .collect::<Result<_, _>>()?;
            Pred::Project(ids, negate)
        }
        Field::Issue if matches!(c.op, Op::Gt | Op::Ge | Op::Lt | Op::Le) => {
            let [v] = values.as_slice() else {
                return Err(format!("Operator '{:?}' takes one issue key.", c.op));
            };
            let key = match v.parse::<u64>() {
                Ok(id) => site
                    .issues()
                    .get(&id)
                    .map(|i| i.key.clone())
                    .ok_or_else(|| {
                        format!("An issue with key '{v}' does not exist for field 'key'.")
                    })?,
                Err(_) => v.clone(),
            };
            Pred::IssueRange(c.op, split_key(&key))
        }
        Field::Issue => {
            let mut ids = BTreeSet::new();
            for v in &values {
                match v.parse::<u64>() {
                    Ok(id) => {
                        ids.insert(id);
                    }
                    Err(_) => {
                        let id = site.issue_id(v).ok_or_else(|| {
                            format!("An issue with key '{v}' does not exist for field 'key'.")
                        })?;
                        ids.insert(id);
                    }
                }
            }
            Pred::Issue(ids, negate)
        }
        Field::Status => {
            let ids = values
                .iter()
                .map(|v| {
                    site.status_by_name(v)
                        .or_else(|| site.status(v))
                        .map(|s| s.id.clone())
                        .ok_or_else(|| missing(v))
                })
                .collect::<Result<_, _>>()?;
            Pred::Status(ids, negate)
        }
        Field::Labels => Pred::Labels(values.into_iter().collect(), negate),
        Field::Creator => {
            for v in &values {
                if !site.accounts.contains_key(v) {
                    return Err(missing(v));
                }
            }
            Pred::Creator(values.into_iter().collect(), negate)
        }
        Field::Created | Field::Updated => {
            let v = &values[0];
            let minute = parse_date(v, tz).ok_or_else(|| {
                format!(
                    "Date value '{v}' for field '{field}' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd' (the simulator does not support relative dates)."
                )
            })?;
            Pred::Time(c.field, c.op, minute)
        }
    })
}

/// A JQL date literal read in `tz`, as minutes since the epoch.
fn parse_date(v: &str, tz: Tz) -> Option<i64> {
    let naive = ["%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())
        .or_else(|| {
            ["%Y/%m/%d", "%Y-%m-%d"]
                .iter()
                .find_map(|f| NaiveDate::parse_from_str(v, f).ok())
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    let utc: DateTime<Utc> = match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        // An ambiguous local time (DST fall-back) reads as its first occurrence.
        LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        // A local time in a DST gap does not exist; Jira moves it forward past the gap.
        LocalResult::None => tz
            .from_local_datetime(&(naive + chrono::Duration::hours(1)))
            .earliest()?
            .with_timezone(&Utc),
    };
    Some(utc.timestamp().div_euclid(60))
}

fn minute(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(60)
}

fn eval(p: &Pred, issue: &Issue) -> bool {
    let set = |hit: bool, negate: bool| hit != negate;
    match p {
        Pred::And(a, b) => eval(a, issue) && eval(b, issue),
        Pred::Or(a, b) => eval(a, issue) || eval(b, issue),
        Pred::Not(a) => !eval(a, issue),
        Pred::Project(ids, n) => set(ids.contains(&issue.project_id), *n),
        Pred::Issue(ids, n) => set(ids.contains(&issue.id), *n),
        Pred::IssueRange(op, k) => {
            let c = split_key(&issue.key).cmp(k);
            match op {
                Op::Gt => c == Ordering::Greater,
                Op::Ge => c != Ordering::Less,
                Op::Lt => c == Ordering::Less,
                _ => c != Ordering::Greater,
            }
        }
        Pred::Status(ids, n) => set(ids.contains(&issue.status), *n),
        // As in Jira, `labels != x` and `labels not in (..)` skip issues without labels.
        Pred::Labels(ls, n) => {
            let hit = issue.labels.iter().any(|l| ls.contains(l));
            if *n {
                !issue.labels.is_empty() && !hit
            } else {
                hit
            }
        }
        Pred::Creator(ids, n) => set(ids.contains(&issue.creator), *n),
        Pred::Time(field, op, lit) => {
            let m = minute(if *field == Field::Created {
                issue.created
            } else {
                issue.updated
            });
            match op {
                Op::Eq => m == *lit,
                Op::Ne => m != *lit,
                Op::Gt => m > *lit,
                Op::Ge => m >= *lit,
                Op::Lt => m < *lit,
                Op::Le => m <= *lit,
                Op::In | Op::NotIn => false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_literals_are_read_in_the_callers_zone_at_minute_granularity() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        // 12:00 in Berlin in May (CEST, UTC+2) is 10:00 UTC.
        let m = parse_date("2026/05/07 12:00", berlin).unwrap();
        let utc = DateTime::parse_from_rfc3339("2026-05-07T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(m, minute(utc));
        assert_eq!(parse_date("2026-05-07 12:00", berlin), Some(m));
        assert_eq!(
            parse_date("2026-05-07", chrono_tz::UTC),
            Some(minute(utc) - 600)
        );
        assert_eq!(parse_date("yesterday", berlin), None);
        // 10:00:59.999 UTC is still the 12:00 minute in Berlin.
        assert_eq!(minute(utc + chrono::Duration::milliseconds(59_999)), m);
    }
}
