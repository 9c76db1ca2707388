//! Logs on stderr: the format, the filter (`JIRA_SYNC_LOG`) and, under systemd, each line's
//! journald priority.

use std::fmt;

use jira_sync_config::LogFormat;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The environment variable holding the log filter.
pub const ENV: &str = "JIRA_SYNC_LOG";

/// Starts logging on stderr in `format`. `JIRA_SYNC_LOG` holds `tracing` filter directives
/// (`warn`, `info,jira_sync_engine=debug`, `debug,hyper=info,h2=info`); unset or empty means
/// `default` for every crate. When stderr is the journal (systemd sets `JOURNAL_STREAM` to
/// its device and inode), each line starts with its syslog priority (`<3>` error, `<4>`
/// warn, `<6>` info, `<7>` debug and trace; sd-daemon(3)), so `journalctl -p warning` shows
/// warnings and errors only, and colours are off unless stderr is a terminal.
///
/// Errors: directives `EnvFilter` cannot parse, with the reason (the caller exits 2).
pub fn init(format: LogFormat, default: Level) -> Result<(), String> {
    let filter = match std::env::var(ENV) {
        Ok(directives) if !directives.trim().is_empty() => {
            check_directives(&directives)
                .map_err(|e| format!("{ENV}={directives:?} is not a log filter: {e}"))?;
            EnvFilter::builder()
                .parse(directives.trim())
                .map_err(|e| format!("{ENV}={directives:?} is not a log filter: {e}"))?
        }
        _ => EnvFilter::new(default.as_str().to_ascii_lowercase()),
    };
    let journal = stderr_is_journal();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(!journal && std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    // A second init (tests, the demo after a run) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => {
            let inner = tracing_subscriber::fmt::format().json();
            builder
                .event_format(Prioritized { inner, journal })
                .try_init()
        }
        LogFormat::Pretty => {
            let inner = tracing_subscriber::fmt::format();
            builder
                .event_format(Prioritized { inner, journal })
                .try_init()
        }
    };
    Ok(())
}

/// Refuses directives `EnvFilter` would read as something else than meant: a bare word is
/// taken as a target at level trace, so `warning` (a journald level, not a `tracing` one)
/// or `err` silently shows nothing. Each comma-separated directive must be a level (`off`,
/// `error`, `warn`, `info`, `debug`, `trace`) or `TARGET[SPAN]=LEVEL`.
fn check_directives(directives: &str) -> Result<(), String> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    let is_level = |l: &str| LEVELS.contains(&l.trim().to_ascii_lowercase().as_str());
    for d in directives
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        match d.rsplit_once('=') {
            None if is_level(d) => {}
            None => {
                return Err(format!(
                    "`{d}` is not a level ({}); for one crate write TARGET=LEVEL, e.g. jira_sync_engine=debug",
                    LEVELS.join(", ")
                ));
            }
            Some((target, level)) if !target.trim().is_empty() && is_level(level) => {}
            Some(_) => {
                return Err(format!(
                    "`{d}` is not TARGET=LEVEL with a level of {}",
                    LEVELS.join(", ")
                ));
            }
        }
    }
    Ok(())
}

/// The syslog priority journald files a line of `level` under (sd-daemon(3) prefixes).
pub fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

/// Prints `text` (problems, one or more lines) on stderr; under systemd each line is filed
/// at priority error (`<3>`), so `ExecStartPre=jira-sync check` refusing a configuration
/// shows in `journalctl -p warning` (sd-daemon(3)).
pub fn eprint_error(text: &str) {
    if stderr_is_journal() {
        let prefixed: String = text.lines().map(|l| format!("<3>{l}\n")).collect();
        eprint!("{prefixed}");
    } else {
        eprint!("{text}");
    }
}

/// Whether stderr is connected to the journal: `JOURNAL_STREAM` (`DEVICE:INODE`, decimal)
/// names stderr's own device and inode (systemd.exec(5)). A child that inherited the
/// variable but writes elsewhere does not match.
fn stderr_is_journal() -> bool {
    let Ok(v) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = v.split_once(':') else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    rustix::fs::fstat(std::io::stderr()).is_ok_and(|st| st.st_dev == dev && st.st_ino == ino)
}

/// A line format that starts each line with `<N>`, the journald priority of its level,
/// when writing to the journal.
struct Prioritized<F> {
    inner: F,
    journal: bool,
}

impl<S, N, F> FormatEvent<S, N> for Prioritized<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        if !self.journal {
            return self.inner.format_event(ctx, writer, event);
        }
        // Every line of the event (a pretty event may span several) carries the priority,
        // or journald files the lines after the first at info.
        let mut text = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut text), event)?;
        let prefix = format!("<{}>", priority(event.metadata().level()));
        for line in text.lines() {
            writeln!(writer, "{prefix}{line}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_that_would_silence_everything_are_refused() {
        for ok in [
            "info",
            "WARN",
            "off",
            "info,jira_sync_engine=debug",
            "debug,hyper=info,h2=off",
            "warn,,",
            "jira_sync_jobs[run{connector=acme/sec}]=trace",
        ] {
            assert!(check_directives(ok).is_ok(), "{ok}");
        }
        for bad in [
            "warning",
            "err",
            "verbose",
            "debug=",
            "=debug",
            "[x]",
            "info,jira_sync",
        ] {
            let e = check_directives(bad).unwrap_err();
            assert!(e.contains("level"), "{bad}: {e}");
        }
    }
}
