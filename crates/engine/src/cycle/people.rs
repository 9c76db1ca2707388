//! Assignees and reporters: a hub person written on a site, by account id or shown email.

use jira_sync_config::ConnectorRef;
use serde_json::{Value, json};

use super::{Engine, EngineError, Report, SiteCtx, locked};
use crate::mapping::{PEOPLE, Person, person_on};
use crate::plan::Refusal;

impl Engine {
    /// The Jira value that writes hub person `hub` to `field` on this connector's site, or
    /// `None` when nothing is written (an unmappable person is counted).
    pub(super) async fn person(
        &self,
        me: &ConnectorRef,
        ctx: &SiteCtx,
        field: &str,
        hub: &Value,
        report: &mut Report,
    ) -> Result<Option<Value>, EngineError> {
        if locked(&self.refused_people).contains(&(me.to_string(), field.to_owned())) {
            if !hub.is_null() {
                report.unmapped_people += 1;
            }
            return Ok(None);
        }
        let email = match person_on(&me.site, field, hub) {
            Person::Write(v) => return Ok(Some(v)),
            Person::Skip => return Ok(None),
            Person::Unmapped => {
                report.unmapped_people += 1;
                return Ok(None);
            }
            Person::Lookup(email) => email,
        };
        let id = self.account_by_email(me, ctx, &email).await?;
        match id {
            Some(id) => Ok(Some(json!({ "accountId": id }))),
            None => {
                report.unmapped_people += 1;
                Ok(None)
            }
        }
    }

    /// The Jira value of a people picker (`shape` `user` or `array/user`) for hub value
    /// `hub` on this connector's site: each person by account id, found as assignees are
    /// (by shown email). `Err(why)` when a person has no account here: the field is then
    /// parked, never written with someone left out (that would read back as a removal).
    pub(super) async fn picker(
        &self,
        me: &ConnectorRef,
        ctx: &SiteCtx,
        shape: &str,
        hub: &Value,
    ) -> Result<Result<Value, String>, EngineError> {
        if hub.is_null() {
            return Ok(Ok(Value::Null));
        }
        let people: Vec<&Value> = if shape == "array/user" {
            hub.as_array().into_iter().flatten().collect()
        } else {
            vec![hub]
        };
        let mut out = Vec::new();
        for p in people {
            match person_on(&me.site, "picker", p) {
                Person::Write(v) => out.push(v),
                Person::Skip => {}
                Person::Unmapped => {
                    return Ok(Err("a person in this field shows no email on the site it was set on, so no account here can be matched to them".into()));
                }
                Person::Lookup(email) => match self.account_by_email(me, ctx, &email).await? {
                    Some(id) => out.push(json!({ "accountId": id })),
                    None => {
                        return Ok(Err(
                            "a person in this field has no account on this site showing the same email".into(),
                        ));
                    }
                },
            }
        }
        Ok(Ok(if shape == "array/user" {
            Value::Array(out)
        } else {
            out.into_iter().next().unwrap_or(Value::Null)
        }))
    }

    /// `field` (a person) is not written by this connector again while the process runs.
    pub(super) fn refuse_person(&self, me: &ConnectorRef, field: &str, why: &str) {
        tracing::warn!(site = %me.site, connector = %me.connector, field = %field, reason = %why, "Jira's screen does not take this field here; it is left unset from now on.");
        locked(&self.refused_people).insert((me.to_string(), field.to_owned()));
    }

    /// When every error of a refused write is about `assignee` or `reporter`, those fields:
    /// the write goes on without them. A field the screen refuses (not on it, no permission
    /// to set it) is not written by this connector again while the process runs; a person
    /// who cannot be assigned is a matter of that issue only (the caller parks it there).
    pub(super) fn unsettable_people(
        &self,
        me: &ConnectorRef,
        errors: &[(String, String)],
    ) -> Option<Vec<String>> {
        if errors.is_empty() || !errors.iter().all(|(f, _)| PEOPLE.contains(&f.as_str())) {
            return None;
        }
        let fields: Vec<String> = errors.iter().map(|(f, _)| f.clone()).collect();
        let mut refused = locked(&self.refused_people);
        for (f, why) in errors {
            if Refusal::of_message(why) == Refusal::PersonUnassignable {
                continue;
            }
            tracing::warn!(site = %me.site, connector = %me.connector, field = %f, reason = %why, "Jira refuses this field here; it is left unset from now on.");
            refused.insert((me.to_string(), f.clone()));
        }
        Some(fields)
    }
}
