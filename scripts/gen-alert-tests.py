#!/usr/bin/env python3
"""Writes dashboards/alerts.test.yml, the promtool unit tests of dashboards/alerts.yml.

Each case below says which series exist and which alerts must (and must not) fire when;
the expected annotations are the rule's own, with the labels filled in, so a test fails if a
rule's expression, labels or `for` change. Needs PyYAML (only to regenerate; CI runs
`promtool test rules` on the committed output). Run: scripts/gen-alert-tests.py
"""

import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
RULES = yaml.safe_load((ROOT / "dashboards/alerts.yml").read_text())
ALERTS = {r["alert"]: r for g in RULES["groups"] for r in g["rules"]}
DAY = 86400
BASE = {"instance": "host:9464", "job": "jira-sync"}


def series(name, labels, values):
    labels = {**BASE, **labels}
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{inner}}}", "values": values}


def fill(text, labels):
    return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], text).strip()


def fires(alert, labels):
    rule = ALERTS[alert]
    labels = {**labels, **rule.get("labels", {})}
    return {
        "exp_labels": labels,
        "exp_annotations": {k: fill(v, labels) for k, v in rule["annotations"].items()},
    }


def case(at, alert, *firing):
    return {"eval_time": at, "alertname": alert, "exp_alerts": list(firing)}


def creds():
    expiry = "jira_sync_credential_expiry_timestamp_seconds"
    soon = {**BASE, "site": "soon", "method": "api_token"}
    close = {**BASE, "site": "close", "method": "service_account"}
    gone = {**BASE, "site": "gone", "method": "api_token"}
    far = {**BASE, "site": "far", "method": "api_token"}
    state = "jira_sync_credential_state"
    revoked = {**BASE, "site": "r", "state": "revoked"}
    scope = {**BASE, "site": "s", "state": "insufficient_scope"}
    expired = {**BASE, "site": "e", "state": "expired"}
    return {
        "interval": "1m",
        "input_series": [
            series(expiry, {"site": "soon", "method": "api_token"}, f"{20 * DAY}x60"),
            series(expiry, {"site": "close", "method": "service_account"}, f"{10 * DAY}x60"),
            series(expiry, {"site": "gone", "method": "api_token"}, "0x60"),
            series(expiry, {"site": "far", "method": "api_token"}, f"{60 * DAY}x60"),
            series(state, {"site": "r", "state": "revoked"}, "1x60"),
            series(state, {"site": "r", "state": "valid"}, "0x60"),
            series(state, {"site": "s", "state": "insufficient_scope"}, "1x60"),
            series(state, {"site": "e", "state": "expired"}, "1x60"),
            series(state, {"site": "far", "state": "revoked"}, "0x60"),
        ],
        "alert_rule_test": [
            # Not before `for` has passed.
            case("10m", "JiraSyncCredentialExpiringSoon"),
            case("10m", "JiraSyncCredentialExpiringCritical"),
            case("5m", "JiraSyncCredentialRevoked"),
            case("5m", "JiraSyncCredentialInsufficientScope"),
            # Then each on its own sites only (far: 60 days, valid).
            case("20m", "JiraSyncCredentialExpiringSoon", fires("JiraSyncCredentialExpiringSoon", soon)),
            case("20m", "JiraSyncCredentialExpiringCritical", fires("JiraSyncCredentialExpiringCritical", close)),
            case(
                "20m",
                "JiraSyncCredentialExpired",
                fires("JiraSyncCredentialExpired", gone),
                fires("JiraSyncCredentialExpired", expired),
            ),
            case("2m", "JiraSyncCredentialExpired"),
            case("20m", "JiraSyncCredentialRevoked", fires("JiraSyncCredentialRevoked", revoked)),
            case(
                "20m",
                "JiraSyncCredentialInsufficientScope",
                fires("JiraSyncCredentialInsufficientScope", scope),
            ),
        ],
    }


def runs():
    last = "jira_sync_last_success_timestamp_seconds"
    total = "jira_sync_sync_runs_total"
    stuck = {**BASE, "site": "a", "connector": "stuck"}
    fine = {**BASE, "site": "a", "connector": "fine"}
    never = {**BASE, "site": "b", "connector": "never"}
    failing = {**BASE, "site": "a", "connector": "failing"}
    return {
        "interval": "1m",
        "input_series": [
            # Last success at 0 and never again; another connector succeeds every minute.
            series(last, {"site": "a", "connector": "stuck"}, "0x90"),
            series(last, {"site": "a", "connector": "fine"}, "0+60x90"),
            series(total, {"site": "a", "connector": "fine", "outcome": "success"}, "0+1x90"),
            series(total, {"site": "a", "connector": "stuck", "outcome": "credential"}, "0+1x90"),
            # Runs, but never a success since the daemon started.
            series(total, {"site": "b", "connector": "never", "outcome": "credential"}, "0+1x90"),
            # Errors on every run but one in ten.
            series(last, {"site": "a", "connector": "failing"}, "0+600x90"),
            series(total, {"site": "a", "connector": "failing", "outcome": "error"}, "0+1x90"),
            series(total, {"site": "a", "connector": "failing", "outcome": "success"}, "0+0.1x90"),
        ],
        "alert_rule_test": [
            case("3m", "JiraSyncStalled"),
            case("30m", "JiraSyncStalled", fires("JiraSyncStalled", never)),
            case("40m", "JiraSyncStalled", fires("JiraSyncStalled", stuck), fires("JiraSyncStalled", never)),
            case("10m", "JiraSyncPersistentErrors"),
            case("60m", "JiraSyncPersistentErrors", fires("JiraSyncPersistentErrors", failing)),
        ],
    }


def limits_and_backlog():
    limited = {**BASE, "site": "busy"}
    growing = {**BASE, "site": "a", "connector": "growing"}
    return {
        "interval": "1m",
        "input_series": [
            series("jira_sync_rate_limited_total", {"site": "busy"}, "0+5x120"),
            series("jira_sync_rate_limited_total", {"site": "calm"}, "0+0.1x120"),
            series("jira_sync_push_backlog", {"site": "a", "connector": "growing"}, "0+1x200"),
            series("jira_sync_push_backlog", {"site": "a", "connector": "steady"}, "3x200"),
        ],
        "alert_rule_test": [
            case("30m", "JiraSyncRateLimited"),
            case("60m", "JiraSyncRateLimited", fires("JiraSyncRateLimited", limited)),
            case("30m", "JiraSyncPushBacklogGrowing"),
            case("150m", "JiraSyncPushBacklogGrowing", fires("JiraSyncPushBacklogGrowing", growing)),
        ],
    }


def watch():
    """The credential probe that cannot reach Jira, the token without a declared expiry and
    the refused reload: each fires on its own series only, and only after its `for`."""
    state = "jira_sync_credential_state"
    declared = "jira_sync_credential_expiry_declared"
    away = {**BASE, "site": "away", "state": "unreachable"}
    blind = {**BASE, "site": "blind", "method": "api_token"}
    return {
        "interval": "1m",
        "input_series": [
            series(state, {"site": "away", "state": "unreachable"}, "1x120"),
            # Unreachable for 50 minutes, then valid again: never an hour.
            series(state, {"site": "blip", "state": "unreachable"}, "1x50 0x70"),
            series(state, {"site": "blip", "state": "valid"}, "0x50 1x70"),
            # Unreachable by its last probe, but its runs succeed: the probe met a blip.
            series(state, {"site": "syncing", "state": "unreachable"}, "1x120"),
            series(
                "jira_sync_sync_runs_total",
                {"site": "syncing", "connector": "c", "outcome": "success"},
                "0+1x120",
            ),
            series(declared, {"site": "blind", "method": "api_token"}, "0x60"),
            series(declared, {"site": "known", "method": "service_account"}, "1x60"),
            # One daemon refused a reload at 20 m and took a good one at 40 m; another never.
            series("jira_sync_config_last_reload_success", {"instance": "a:9464"}, "1x20 0x20 1x20"),
            series("jira_sync_config_last_reload_success", {"instance": "b:9464"}, "1x60"),
        ],
        "alert_rule_test": [
            case("50m", "JiraSyncCredentialUnreachable"),
            case("70m", "JiraSyncCredentialUnreachable", fires("JiraSyncCredentialUnreachable", away)),
            case("5m", "JiraSyncCredentialExpiryUndeclared"),
            case("15m", "JiraSyncCredentialExpiryUndeclared", fires("JiraSyncCredentialExpiryUndeclared", blind)),
            case("20m", "JiraSyncConfigReloadFailed"),
            case(
                "25m",
                "JiraSyncConfigReloadFailed",
                fires("JiraSyncConfigReloadFailed", {**BASE, "instance": "a:9464"}),
            ),
            case("45m", "JiraSyncConfigReloadFailed"),
        ],
    }


def webhooks():
    hooked = lambda site: {"site": site, "event": "jira:issue_updated", "outcome": "accepted"}
    return {
        "interval": "1m",
        "input_series": [
            # Polls find changes on both sites; only "fine" gets deliveries.
            series("jira_sync_issues_pulled_total", {"site": "quiet", "connector": "c"}, "0+1x120"),
            series("jira_sync_webhook_deliveries_total", hooked("quiet"), "0x120"),
            series("jira_sync_issues_pulled_total", {"site": "fine", "connector": "c"}, "0+1x120"),
            series("jira_sync_webhook_deliveries_total", hooked("fine"), "0+1x120"),
            # Refused deliveries start after an hour.
            series(
                "jira_sync_webhook_deliveries_total",
                {"site": "fine", "event": "other", "outcome": "unauthorized"},
                "0x60 1+1x60",
            ),
            series("jira_sync_webhook_expiry_timestamp_seconds", {"site": "fine"}, f"{30 * DAY}x120"),
            series("jira_sync_webhook_expiry_timestamp_seconds", {"site": "lapsing"}, f"{DAY}x120"),
            series("jira_sync_webhook_expiry_timestamp_seconds", {"site": "none"}, "0x120"),
        ],
        "alert_rule_test": [
            case("10m", "JiraSyncWebhookSilent"),
            case("90m", "JiraSyncWebhookSilent", fires("JiraSyncWebhookSilent", {**BASE, "site": "quiet"})),
            case("30m", "JiraSyncWebhookUnauthorized"),
            case(
                "80m",
                "JiraSyncWebhookUnauthorized",
                fires("JiraSyncWebhookUnauthorized", {**BASE, "site": "fine"}),
            ),
            case("30m", "JiraSyncWebhookExpiring"),
            case(
                "90m",
                "JiraSyncWebhookExpiring",
                fires("JiraSyncWebhookExpiring", {**BASE, "site": "lapsing"}),
            ),
        ],
    }


def down():
    return [
        {
            "interval": "1m",
            "input_series": [series("up", {}, "1x10 0x20")],
            "alert_rule_test": [
                case("10m", "JiraSyncDown"),
                case("20m", "JiraSyncDown", fires("JiraSyncDown", BASE)),
            ],
        },
        {
            # Not scraped at all: absent() has only the job label.
            "interval": "1m",
            "input_series": [series("jira_sync_build_info", {"version": "0.1.0"}, "1x20")],
            "alert_rule_test": [
                case("10m", "JiraSyncDown", fires("JiraSyncDown", {"job": "jira-sync"})),
            ],
        },
    ]


def main():
    doc = {
        "rule_files": ["alerts.yml"],
        "evaluation_interval": "1m",
        "tests": [creds(), runs(), limits_and_backlog(), watch(), webhooks(), *down()],
    }
    header = (
        "# promtool unit tests of alerts.yml: `promtool test rules dashboards/alerts.test.yml`.\n"
        "# Generated by scripts/gen-alert-tests.py; edit the cases there.\n"
    )
    out = ROOT / "dashboards/alerts.test.yml"
    out.write_text(header + yaml.safe_dump(doc, sort_keys=False, width=1000))


if __name__ == "__main__":
    main()
