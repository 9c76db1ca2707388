//! A site's `webhook_secret` (issue 21): required by the admin webhooks of sites that are
//! not oauth2, refused elsewhere, and long enough not to be guessed.

use super::{Context, secret};
use crate::error::Problems;
use crate::model::Auth;
use crate::secret::{Secret, SecretRef};

/// The fewest characters a `webhook_secret` may have.
const WEBHOOK_SECRET_MIN: usize = 16;

/// The site's webhook secret: `Some(None)` when it has none (and needs none), `None` after a
/// problem was pushed. Problems name the length of a short secret, never its value.
pub(super) fn secret_of_site(
    raw: Option<&SecretRef>,
    webhooks: bool,
    auth: Option<&Auth>,
    cx: &Context<'_>,
    p: &mut Problems<'_>,
) -> Option<Option<Secret>> {
    let resolved = secret(raw, "webhook_secret", cx, p);
    let oauth2 = auth.is_some_and(|a| matches!(a, Auth::OAuth2(_)));
    match (webhooks, oauth2, raw.is_some()) {
        (false, _, true) => {
            p.push(
                "webhook_secret",
                "has no effect without `webhooks = true`; remove it or turn webhooks on",
            );
            None
        }
        (true, true, true) => {
            p.push(
                "webhook_secret",
                "is not used by oauth2 sites: Jira signs their dynamic webhooks' deliveries with the OAuth app's client secret; remove it",
            );
            None
        }
        (true, false, false) if auth.is_some() => {
            p.push(
                "webhook_secret",
                "is missing; a site that is not oauth2 receives deliveries of an admin webhook, which must have a secret (give the same one here, e.g. { file = \"secrets/NAME.webhook\" })",
            );
            None
        }
        (_, _, true) => resolved.and_then(|w| {
            // Anyone who guesses it can sign deliveries; the length only is said.
            let chars = w.expose().chars().count();
            if chars < WEBHOOK_SECRET_MIN {
                p.push(
                    "webhook_secret",
                    format!(
                        "is {chars} characters long; use at least {WEBHOOK_SECRET_MIN} random ones (e.g. `openssl rand -hex 32`)"
                    ),
                );
                return None;
            }
            Some(Some(w))
        }),
        _ => Some(None),
    }
}
