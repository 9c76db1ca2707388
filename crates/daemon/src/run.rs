//! `jira-sync run`: the daemon. HTTP endpoints, the jobs, systemd notify, reload on
//! `SIGHUP`, graceful stop on `SIGTERM`/`SIGINT`.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jira_sync_config::Config;
use jira_sync_jobs::{Daemon, Options};
use jira_sync_metrics::Metrics;
use jira_sync_store::Store;
use sd_notify::NotifyState;
use tokio::signal::unix::{SignalKind, signal};

use crate::cli::RunArgs;

/// What the endpoints read.
#[derive(Clone)]
struct App {
    metrics: Metrics,
    store: Store,
    daemon: Daemon,
    ready: Arc<AtomicBool>,
}

pub fn run(args: &RunArgs) -> ExitCode {
    let (config, shard) = match crate::load_placed(&args.config.config, args.shard, "run") {
        Ok(placed) => placed,
        Err(code) => return code,
    };
    if let Err(code) = crate::state_owner_ok(&config.daemon.state_dir, "run") {
        return code;
    }
    if let Err(e) = crate::logs::init(config.daemon.log_format, tracing::Level::INFO) {
        crate::logs::eprint_error(&format!("jira-sync run: {e}\n"));
        return ExitCode::from(crate::EXIT_CONFIG);
    }
    let serving = serve(config, shard, Metrics::new(), |_, _| {});
    match crate::runtime().block_on(serving) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "jira-sync stopped.");
            crate::logs::eprint_error(&format!("jira-sync run: {e}\n"));
            ExitCode::from(crate::EXIT_FAILURE)
        }
    }
}

/// Runs the daemon on `config` until `SIGTERM` or `SIGINT`; `on_ready` learns the
/// endpoints' address and the jobs once they are up.
pub async fn serve(
    config: Config,
    placement: Option<crate::shard::Placement>,
    metrics: Metrics,
    on_ready: impl FnOnce(std::net::SocketAddr, &Daemon),
) -> Result<(), String> {
    let shard = placement.map(|p| p.shard);
    let store = Store::open(&config.daemon.state_dir).map_err(|e| e.to_string())?;
    metrics.config_last_reload_success.set(1.0);
    let listener = tokio::net::TcpListener::bind(config.daemon.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.daemon.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let webhook_listener = match config.daemon.webhook_listen {
        None => None,
        Some(a) => {
            let l = tokio::net::TcpListener::bind(a)
                .await
                .map_err(|e| format!("cannot listen for webhooks on {a}: {e}"))?;
            let bound = l.local_addr().map_err(|e| e.to_string())?;
            println!("jira-sync: webhooks on {bound}");
            Some(l)
        }
    };
    let opts = Options {
        shard,
        run_timeout: config.daemon.run_timeout,
        grace: config.daemon.shutdown_grace,
        health_schedule: config.daemon.health_schedule.as_str().to_owned(),
        census_schedule: config.daemon.census_schedule.as_str().to_owned(),
        logins: Some(crate::shard::logins_dir(&config, shard)),
        max_runs_in_flight: config.daemon.max_runs_in_flight.get(),
        ..Options::default()
    };
    let config_dir = config.dir.clone();
    let hooks_at_start = HooksAtStart {
        listen: config.daemon.webhook_listen,
        url: config.daemon.webhook_url.as_ref().map(|u| u.to_string()),
        placement,
    };
    let daemon = Daemon::start(config, &store, metrics.clone(), opts)
        .await
        .map_err(|e| e.to_string())?;
    let app = App {
        metrics: metrics.clone(),
        store: store.clone(),
        daemon: daemon.clone(),
        ready: Default::default(),
    };
    let router = Router::new()
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/status", get(status))
        .with_state(app.clone())
        .merge(crate::api::router(crate::api::Api {
            hub: store.hub().map_err(|e| e.to_string())?,
            daemon: daemon.clone(),
            metrics: metrics.clone(),
        }));
    let http_stop = Arc::new(tokio::sync::Notify::new());
    let server = {
        let stop = http_stop.clone();
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move { stop.notified().await })
                .await
        })
    };
    // Deliveries on their own listener (read at start only), so the rest can stay on
    // loopback behind no proxy.
    let hooks = match webhook_listener {
        None => None,
        Some(l) => {
            let router = crate::webhook::router(crate::webhook::Receiver::new(
                daemon.clone(),
                metrics.clone(),
            ));
            let stop = http_stop.clone();
            let l = crate::bounded::Bounded::new(
                l,
                crate::webhook::MAX_CONNECTIONS,
                crate::webhook::CONNECTION_LIFETIME,
            );
            Some(tokio::spawn(async move {
                axum::serve(l, router)
                    .with_graceful_shutdown(async move { stop.notified().await })
                    .await
            }))
        }
    };
    app.ready.store(true, Ordering::SeqCst);
    // Tests and operators find the address here (`listen` may use port 0).
    println!("jira-sync: listening on {addr}");
    tracing::info!(%addr, connectors = daemon.connectors().len(), shard = ?shard.map(|s| s.to_string()), "jira-sync running.");
    on_ready(addr, &daemon);
    let _ = sd_notify::notify(&[NotifyState::Ready]);
    let watchdog = sd_notify::watchdog_enabled().map(|every| {
        let d = daemon.clone();
        let store = store.clone();
        tokio::spawn(async move { watchdog(d, store, every / 2).await })
    });

    let mut hup = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    loop {
        tokio::select! {
            _ = hup.recv() => reload(&daemon, &metrics, &config_dir, &hooks_at_start).await,
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    tracing::info!("Stopping: letting running cycles commit.");
    let _ = sd_notify::notify(&[NotifyState::Stopping]);
    app.ready.store(false, Ordering::SeqCst);
    if let Some(w) = watchdog {
        w.abort();
    }
    let finished = daemon.shutdown().await;
    if !finished {
        tracing::warn!(
            "Some cycles did not finish within the grace period; their write intents make the next start safe."
        );
    }
    http_stop.notify_waiters();
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    if let Some(h) = hooks {
        let _ = tokio::time::timeout(Duration::from_secs(5), h).await;
    }
    store.flush().await.map_err(|e| e.to_string())?;
    tracing::info!("Stopped.");
    Ok(())
}

/// The webhook listener and URL the daemon started with: the listener is bound once, and
/// every webhook registered and removed is of that URL.
struct HooksAtStart {
    listen: Option<std::net::SocketAddr>,
    url: Option<String>,
    /// Where this process runs: a reloaded configuration is placed the same way (shards on
    /// one host listen on `webhook_listen`'s port plus their index) before comparing.
    placement: Option<crate::shard::Placement>,
}

impl HooksAtStart {
    /// Why `config` cannot be reloaded into this daemon: it changes `webhook_listen` or
    /// `webhook_url`, which take a restart (applied halfway, webhooks would be registered
    /// at a URL nobody listens on, and the old ones left behind).
    fn refusal(&self, config: &Config) -> Option<String> {
        let mut placed = config.clone();
        let same_listen = crate::shard::apply(&mut placed, self.placement).is_ok()
            && placed.daemon.webhook_listen == self.listen;
        let key = if !same_listen {
            "webhook_listen"
        } else if config.daemon.webhook_url.as_ref().map(|u| u.to_string()) != self.url {
            "webhook_url"
        } else {
            return None;
        };
        Some(format!(
            "jira-sync.toml: {key}: changed; it takes a restart of jira-sync (`systemctl restart jira-sync`), which also registers the site's webhooks at the new URL and removes those of the old one"
        ))
    }
}

/// `SIGHUP`: validate the new configuration first; a bad one keeps the old running.
async fn reload(daemon: &Daemon, metrics: &Metrics, dir: &std::path::Path, hooks: &HooksAtStart) {
    let _ = sd_notify::notify(&[
        NotifyState::Reloading,
        NotifyState::monotonic_usec_now().unwrap_or(NotifyState::Reloading),
    ]);
    match jira_sync_config::load(dir) {
        Ok(config) if let Some(problem) = hooks.refusal(&config) => {
            metrics.config_last_reload_success.set(0.0);
            tracing::error!(problems = %problem, "The new configuration is invalid; the previous one keeps running.");
        }
        Ok(config) => match daemon.reload(config).await {
            Ok(()) => {
                metrics.config_last_reload_success.set(1.0);
                tracing::info!(
                    connectors = daemon.connectors().len(),
                    "Configuration reloaded."
                );
            }
            Err(e) => {
                metrics.config_last_reload_success.set(0.0);
                tracing::error!(error = %e, "Reload failed; the previous configuration keeps running.");
            }
        },
        Err(e) => {
            metrics.config_last_reload_success.set(0.0);
            tracing::error!(problems = %e, "The new configuration is invalid; the previous one keeps running.");
        }
    }
    let _ = sd_notify::notify(&[NotifyState::Ready]);
}

/// `WATCHDOG=1` while the store answers and the scheduler keeps ticking (a stuck runtime or
/// database stops the pings, and systemd restarts the service).
async fn watchdog(daemon: Daemon, store: Store, every: Duration) {
    let mut last_ticks = daemon.ticks();
    let mut quiet = Duration::ZERO;
    loop {
        tokio::time::sleep(every).await;
        let ticks = daemon.ticks();
        if ticks == last_ticks {
            quiet += every;
        } else {
            quiet = Duration::ZERO;
            last_ticks = ticks;
        }
        let store_ok = store.hub().is_ok_and(|h| h.watermark("", "").is_ok());
        // Connectors tick at least every few minutes; an hour of silence is a stuck scheduler.
        let scheduler_ok = daemon.connectors().is_empty() || quiet < Duration::from_secs(3600);
        if store_ok && scheduler_ok {
            let _ = sd_notify::notify(&[NotifyState::Watchdog]);
        } else {
            tracing::error!(store_ok, scheduler_ok, "Not petting the watchdog.");
        }
    }
}

async fn metrics_text(State(app): State<App>) -> Response {
    if let Ok(bytes) = app.store.size_on_disk() {
        app.metrics
            .store_size_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.encode(),
    )
        .into_response()
}

async fn readyz(State(app): State<App>) -> Response {
    if app.ready.load(Ordering::SeqCst) {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting or stopping\n").into_response()
    }
}

async fn status(State(app): State<App>) -> Response {
    axum::Json(app.daemon.status()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::Placement;
    use jira_sync_harness::config_dir::{Fixture, SITE};

    fn config(hooks: &str) -> Config {
        let f = Fixture::new();
        f.daemon(&format!(
            "listen = \"127.0.0.1:9464\"\nwebhook_listen = \"{hooks}\"\nwebhook_url = \"https://hooks.example/jira\"\n"
        ));
        f.site(
            "acme",
            &format!("webhooks = true\nwebhook_secret = {{ env = \"FAKE_TOKEN\" }}\n{SITE}"),
        );
        f.ok()
    }

    #[test]
    fn a_reload_may_not_move_the_webhook_listener_of_a_shard_either() {
        // Shard 1 of 2 on one host started on webhook_listen 9470, so it listens on 9471.
        let placement = Some(Placement {
            shard: "1/2".parse().unwrap(),
            shares_host: true,
        });
        let mut started = config("127.0.0.1:9470");
        crate::shard::apply(&mut started, placement).unwrap();
        let hooks = HooksAtStart {
            listen: started.daemon.webhook_listen,
            url: started.daemon.webhook_url.as_ref().map(|u| u.to_string()),
            placement,
        };
        assert_eq!(hooks.listen.unwrap().port(), 9471);
        assert_eq!(hooks.refusal(&config("127.0.0.1:9470")), None, "unchanged");
        let moved = hooks.refusal(&config("127.0.0.1:9471"));
        assert!(
            moved
                .as_deref()
                .is_some_and(|m| m.contains("webhook_listen")),
            "9471 would listen on 9472: {moved:?}"
        );
        let mut other_url = config("127.0.0.1:9470");
        other_url.daemon.webhook_url = Some("https://hooks.example/v2".parse().unwrap());
        assert!(
            hooks
                .refusal(&other_url)
                .is_some_and(|m| m.contains("webhook_url"))
        );
    }
}
