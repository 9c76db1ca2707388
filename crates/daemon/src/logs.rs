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
        Ok(directives) if !directives.trim().is_empty() => EnvFilter::builder()
            .parse(directives.trim())
            .map_err(|e| format!("{ENV}={directives:?} is not a log filter: {e}"))?,
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

/// The syslog priority journald files a line of `level` under (sd-daemon(3) prefixes).
pub fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
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
        if self.journal {
            write!(writer, "<{}>", priority(event.metadata().level()))?;
        }
        self.inner.format_event(ctx, writer, event)
    }
}
