//! Every metric family of jira-sync (`../shared/DESIGN.md`, "Metrics"), declared in this one
//! file on registries created at start-up and passed down; nothing registers globally.
//! Label values are configuration names, route templates and enums: bounded, never secrets.

use std::cell::RefCell;
use std::collections::HashMap;

use prometheus::core::{Collector, MetricVec, MetricVecBuilder};
use prometheus::{
    Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};

/// The families, by the names DESIGN.md gives them (their registries add `jira_sync_`).
#[derive(Debug, Clone)]
pub struct Metrics {
    /// One registry per family, in name order: a scrape gathers and encodes one family at
    /// a time, so its transient memory is that of the largest family rather than of all
    /// of them (at 10,000 connectors, 600,000 series; README "Measured").
    families: Vec<Registry>,
    /// The process's own families under their standard names, without the `jira_sync_`
    /// prefix (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
    /// `process_open_fds`, `process_start_time_seconds`, ...; Linux only).
    process: Registry,
    /// Records a full reconcile wrote although no change had named them.
    pub reconcile_repairs_total: IntCounterVec,
    /// How late each run started after its tick was due, in seconds.
    pub run_start_lateness_seconds: HistogramVec,
    pub build_info: IntGaugeVec,
    pub sync_runs_total: IntCounterVec,
    pub sync_run_duration_seconds: HistogramVec,
    pub last_success_timestamp_seconds: GaugeVec,
    pub issues_pulled_total: IntCounterVec,
    pub issues_pushed_total: IntCounterVec,
    pub conflicts_total: IntCounterVec,
    pub push_backlog: IntGaugeVec,
    /// Writes waiting for a change after Jira refused them, by `reason` (a bounded set:
    /// `field_not_on_screen`, `value_not_allowed`, `transition_needs_field`,
    /// `no_transition`, `parent_unmapped`, `refused`).
    pub parked_writes: IntGaugeVec,
    pub runs_skipped_total: IntCounterVec,
    pub http_requests_total: IntCounterVec,
    pub http_request_duration_seconds: HistogramVec,
    pub rate_limited_total: IntCounterVec,
    pub rate_limit_wait_seconds_total: prometheus::CounterVec,
    pub credential_expiry_timestamp_seconds: GaugeVec,
    pub credential_up: IntGaugeVec,
    pub credential_state: IntGaugeVec,
    pub credential_last_check_timestamp_seconds: GaugeVec,
    /// 1 when an API token's expiry is declared (`auth.expires_at`), 0 when it is not, so
    /// no expiry alert can fire for it (beyond DESIGN.md's table: issue 20). Only for the
    /// `api_token` and `service_account` methods: OAuth grants report their own.
    pub credential_expiry_declared: IntGaugeVec,
    pub config_last_reload_success: Gauge,
    /// Bytes the state database takes on disk (`state_dir/db`), read at each scrape.
    pub store_size_bytes: IntGauge,
    /// Requests to the hub API (`/v1`) by route template and status (beyond DESIGN.md's
    /// table: the hub API's own family).
    pub api_requests_total: IntCounterVec,
    /// Webhook deliveries by site, event (Jira's `webhookEvent`, or `other`) and outcome
    /// (`accepted`, `duplicate`, `unauthorized`, `ignored`).
    pub webhook_deliveries_total: IntCounterVec,
    /// Unix time of the last authenticated delivery per site.
    pub webhook_last_delivery_timestamp_seconds: GaugeVec,
    /// Unix time the site's dynamic webhook expires (oauth2 sites with `webhooks = true`).
    pub webhook_expiry_timestamp_seconds: GaugeVec,
}

const SYNC_BUCKETS: &[f64] = &[
    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0,
];
const LATENESS_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const HTTP_BUCKETS: &[f64] = &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

impl Metrics {
    /// Every family, registered and empty.
    pub fn new() -> Metrics {
        let families: RefCell<Vec<(String, Registry)>> = RefCell::default();
        let register = |name: &str, c: Box<dyn Collector>| {
            let registry =
                Registry::new_custom(Some("jira_sync".into()), None).expect("a valid prefix");
            registry.register(c).expect("registered once");
            families.borrow_mut().push((name.to_owned(), registry));
        };
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let m = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            register(name, Box::new(m.clone()));
            m
        };
        let int_gauge = |name: &str, help: &str, labels: &[&str]| {
            let m = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
            register(name, Box::new(m.clone()));
            m
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            let m = GaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
            register(name, Box::new(m.clone()));
            m
        };
        let histogram = |name: &str, help: &str, labels: &[&str], buckets: &[f64]| {
            let m = HistogramVec::new(
                HistogramOpts::new(name, help).buckets(buckets.to_vec()),
                labels,
            )
            .expect("valid metric");
            register(name, Box::new(m.clone()));
            m
        };
        let rate_limit_wait_seconds_total = prometheus::CounterVec::new(
            Opts::new(
                "rate_limit_wait_seconds_total",
                "Seconds requests waited for the site's rate, concurrency cap and 429 cooldowns.",
            ),
            &["site"],
        )
        .expect("valid metric");
        register(
            "rate_limit_wait_seconds_total",
            Box::new(rate_limit_wait_seconds_total.clone()),
        );
        let config_last_reload_success = Gauge::with_opts(Opts::new(
            "config_last_reload_success",
            "1 if the last configuration (re)load succeeded, else 0.",
        ))
        .expect("valid metric");
        register(
            "config_last_reload_success",
            Box::new(config_last_reload_success.clone()),
        );
        let store_size_bytes = IntGauge::with_opts(Opts::new(
            "store_size_bytes",
            "Bytes the state database takes on disk.",
        ))
        .expect("valid metric");
        register("store_size_bytes", Box::new(store_size_bytes.clone()));
        let process = Registry::new();
        #[cfg(target_os = "linux")]
        process
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("registered once");
        let mut m = Metrics {
            families: Vec::new(),
            process,
            reconcile_repairs_total: counter(
                "reconcile_repairs_total",
                "Records a daily full reconcile wrote although no change had named them.",
                &["site", "connector"],
            ),
            run_start_lateness_seconds: histogram(
                "run_start_lateness_seconds",
                "How late runs started after their tick was due.",
                &["site", "connector"],
                LATENESS_BUCKETS,
            ),
            store_size_bytes,
            build_info: int_gauge(
                "build_info",
                "Always 1; the version label says which build runs.",
                &["version"],
            ),
            sync_runs_total: counter(
                "sync_runs_total",
                "Sync runs by outcome.",
                &["site", "connector", "outcome"],
            ),
            sync_run_duration_seconds: histogram(
                "sync_run_duration_seconds",
                "How long sync runs take.",
                &["site", "connector"],
                SYNC_BUCKETS,
            ),
            last_success_timestamp_seconds: gauge(
                "last_success_timestamp_seconds",
                "Unix time of the connector's last successful run.",
                &["site", "connector"],
            ),
            issues_pulled_total: counter(
                "issues_pulled_total",
                "Issues read from Jira.",
                &["site", "connector"],
            ),
            issues_pushed_total: counter(
                "issues_pushed_total",
                "Writes to Jira by operation.",
                &["site", "connector", "op"],
            ),
            conflicts_total: counter(
                "conflicts_total",
                "Fields both sides changed differently.",
                &["site", "connector"],
            ),
            parked_writes: int_gauge(
                "parked_writes",
                "Writes Jira refused that wait for a change, by reason.",
                &["site", "connector", "reason"],
            ),
            push_backlog: int_gauge(
                "push_backlog",
                "Records waiting to be written to Jira.",
                &["site", "connector"],
            ),
            runs_skipped_total: counter(
                "runs_skipped_total",
                "Ticks skipped because the previous run still went on.",
                &["site", "connector"],
            ),
            http_requests_total: counter(
                "http_requests_total",
                "HTTP requests to Jira by route template and status (error: no response).",
                &["site", "endpoint", "status"],
            ),
            http_request_duration_seconds: histogram(
                "http_request_duration_seconds",
                "HTTP request latency by route template.",
                &["site", "endpoint"],
                HTTP_BUCKETS,
            ),
            rate_limited_total: counter(
                "rate_limited_total",
                "429 responses from Jira.",
                &["site"],
            ),
            rate_limit_wait_seconds_total,
            credential_expiry_timestamp_seconds: gauge(
                "credential_expiry_timestamp_seconds",
                "Unix time the site's credential expires, when known.",
                &["site", "method"],
            ),
            credential_up: int_gauge(
                "credential_up",
                "1 if the site's credential is usable.",
                &["site"],
            ),
            credential_state: int_gauge(
                "credential_state",
                "1 for the credential's current state, 0 for the others.",
                &["site", "state"],
            ),
            credential_expiry_declared: int_gauge(
                "credential_expiry_declared",
                "1 if the API token's expiry is declared (auth.expires_at), 0 if not: no expiry alert can fire for it.",
                &["site", "method"],
            ),
            credential_last_check_timestamp_seconds: gauge(
                "credential_last_check_timestamp_seconds",
                "Unix time of the last credential probe.",
                &["site"],
            ),
            config_last_reload_success,
            api_requests_total: counter(
                "api_requests_total",
                "Hub API (/v1) requests by route template and status.",
                &["route", "status"],
            ),
            webhook_deliveries_total: counter(
                "webhook_deliveries_total",
                "Webhook deliveries by site, event and outcome (accepted, duplicate, unauthorized, ignored).",
                &["site", "event", "outcome"],
            ),
            webhook_last_delivery_timestamp_seconds: gauge(
                "webhook_last_delivery_timestamp_seconds",
                "Unix time of the site's last authenticated webhook delivery.",
                &["site"],
            ),
            webhook_expiry_timestamp_seconds: gauge(
                "webhook_expiry_timestamp_seconds",
                "Unix time the site's dynamic webhook expires.",
                &["site"],
            ),
        };
        let mut families = families.into_inner();
        families.sort_by(|a, b| a.0.cmp(&b.0));
        m.families = families.into_iter().map(|(_, r)| r).collect();
        m
    }

    /// Removes the webhook series of `site` (its `webhooks` was turned off; the site
    /// stays): `JiraSyncWebhookSilent` and `JiraSyncWebhookExpiring` must not fire on them.
    pub fn forget_webhooks(&self, site: &str) {
        let gone = |labels: &HashMap<&str, &str>| labels.get("site") == Some(&site);
        remove_series(&self.webhook_deliveries_total, &gone);
        remove_series(&self.webhook_last_delivery_timestamp_seconds, &gone);
        remove_series(&self.webhook_expiry_timestamp_seconds, &gone);
    }

    /// Removes every series whose labels (name to value) satisfy `gone`, in every labelled
    /// family: what a removed site or connector leaves must not go on being exported (a
    /// stale `last_success_timestamp_seconds` would fire `JiraSyncStalled` for a connector
    /// that no longer exists). One pass over each family, whatever the number removed.
    pub fn forget(&self, gone: impl Fn(&HashMap<&str, &str>) -> bool) {
        let gone = &gone;
        remove_series(&self.reconcile_repairs_total, gone);
        remove_series(&self.run_start_lateness_seconds, gone);
        remove_series(&self.sync_runs_total, gone);
        remove_series(&self.sync_run_duration_seconds, gone);
        remove_series(&self.last_success_timestamp_seconds, gone);
        remove_series(&self.issues_pulled_total, gone);
        remove_series(&self.issues_pushed_total, gone);
        remove_series(&self.conflicts_total, gone);
        remove_series(&self.push_backlog, gone);
        remove_series(&self.parked_writes, gone);
        remove_series(&self.runs_skipped_total, gone);
        remove_series(&self.http_requests_total, gone);
        remove_series(&self.http_request_duration_seconds, gone);
        remove_series(&self.rate_limited_total, gone);
        remove_series(&self.rate_limit_wait_seconds_total, gone);
        remove_series(&self.credential_expiry_timestamp_seconds, gone);
        remove_series(&self.credential_up, gone);
        remove_series(&self.credential_state, gone);
        remove_series(&self.credential_last_check_timestamp_seconds, gone);
        remove_series(&self.webhook_deliveries_total, gone);
        remove_series(&self.webhook_last_delivery_timestamp_seconds, gone);
        remove_series(&self.webhook_expiry_timestamp_seconds, gone);
        remove_series(&self.credential_expiry_declared, gone);
    }

    /// The registries, one per family, in name order (the process's own families apart).
    pub fn families(&self) -> &[Registry] {
        &self.families
    }

    /// The Prometheus text exposition of every family.
    pub fn encode(&self) -> String {
        let mut out = Vec::new();
        for registry in self.families.iter().chain([&self.process]) {
            TextEncoder::new()
                .encode(&registry.gather(), &mut out)
                .expect("text encoding cannot fail");
        }
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Removes the series of `family` whose labels (name to value) satisfy `gone`.
fn remove_series<T: MetricVecBuilder>(
    family: &MetricVec<T>,
    gone: &dyn Fn(&HashMap<&str, &str>) -> bool,
) {
    for collected in family.collect() {
        for series in collected.get_metric() {
            let labels: HashMap<&str, &str> = series
                .get_label()
                .iter()
                .map(|l| (l.name(), l.value()))
                .collect();
            if gone(&labels) {
                let _ = family.remove(&labels);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_of_the_design_is_exported_with_its_labels() {
        let m = Metrics::new();
        m.build_info.with_label_values(&["0.1.0"]).set(1);
        m.sync_runs_total
            .with_label_values(&["acme", "sec", "success"])
            .inc();
        m.sync_run_duration_seconds
            .with_label_values(&["acme", "sec"])
            .observe(1.0);
        m.last_success_timestamp_seconds
            .with_label_values(&["acme", "sec"])
            .set(1.0);
        m.issues_pulled_total
            .with_label_values(&["acme", "sec"])
            .inc();
        m.issues_pushed_total
            .with_label_values(&["acme", "sec", "create"])
            .inc();
        m.conflicts_total.with_label_values(&["acme", "sec"]).inc();
        m.reconcile_repairs_total
            .with_label_values(&["acme", "sec"])
            .inc();
        m.run_start_lateness_seconds
            .with_label_values(&["acme", "sec"])
            .observe(0.02);
        m.push_backlog.with_label_values(&["acme", "sec"]).set(0);
        m.runs_skipped_total
            .with_label_values(&["acme", "sec"])
            .inc();
        m.http_requests_total
            .with_label_values(&["acme", "/rest/api/3/myself", "200"])
            .inc();
        m.http_request_duration_seconds
            .with_label_values(&["acme", "/rest/api/3/myself"])
            .observe(0.1);
        m.rate_limited_total.with_label_values(&["acme"]).inc();
        m.rate_limit_wait_seconds_total
            .with_label_values(&["acme"])
            .inc_by(1.5);
        m.credential_expiry_timestamp_seconds
            .with_label_values(&["acme", "api_token"])
            .set(1.0);
        m.credential_up.with_label_values(&["acme"]).set(1);
        m.credential_state
            .with_label_values(&["acme", "valid"])
            .set(1);
        m.credential_last_check_timestamp_seconds
            .with_label_values(&["acme"])
            .set(1.0);
        m.config_last_reload_success.set(1.0);
        let text = m.encode();
        for (name, labels) in [
            ("jira_sync_build_info", "version"),
            ("jira_sync_sync_runs_total", "site,connector,outcome"),
            (
                "jira_sync_sync_run_duration_seconds_bucket",
                "site,connector",
            ),
            ("jira_sync_last_success_timestamp_seconds", "site,connector"),
            ("jira_sync_issues_pulled_total", "site,connector"),
            ("jira_sync_issues_pushed_total", "site,connector,op"),
            ("jira_sync_conflicts_total", "site,connector"),
            ("jira_sync_push_backlog", "site,connector"),
            ("jira_sync_runs_skipped_total", "site,connector"),
            ("jira_sync_http_requests_total", "site,endpoint,status"),
            (
                "jira_sync_http_request_duration_seconds_bucket",
                "site,endpoint",
            ),
            ("jira_sync_rate_limited_total", "site"),
            ("jira_sync_rate_limit_wait_seconds_total", "site"),
            (
                "jira_sync_credential_expiry_timestamp_seconds",
                "site,method",
            ),
            ("jira_sync_credential_up", "site"),
            ("jira_sync_credential_state", "site,state"),
            ("jira_sync_credential_last_check_timestamp_seconds", "site"),
            ("jira_sync_reconcile_repairs_total", "site,connector"),
            (
                "jira_sync_run_start_lateness_seconds_bucket",
                "site,connector",
            ),
        ] {
            let line = text
                .lines()
                .find(|l| l.starts_with(&format!("{name}{{")))
                .unwrap_or_else(|| panic!("{name} missing:\n{text}"));
            for label in labels.split(',') {
                assert!(
                    line.contains(&format!("{label}=\"")),
                    "{name} lacks {label}: {line}"
                );
            }
        }
        assert!(
            text.lines()
                .any(|l| l == "jira_sync_config_last_reload_success 1")
        );
    }

    /// The process's families carry their standard names, without jira-sync's prefix, so
    /// the usual dashboards and alerts for any process work.
    #[cfg(target_os = "linux")]
    #[test]
    fn process_metrics_have_their_standard_names() {
        let text = Metrics::new().encode();
        for name in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_open_fds",
            "process_start_time_seconds",
        ] {
            assert!(
                text.lines().any(|l| l.starts_with(&format!("{name} "))),
                "{name} missing:\n{text}"
            );
        }
        assert!(!text.contains("jira_sync_process_"));
    }
}
