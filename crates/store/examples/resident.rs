//! How much memory sled keeps once a database has been read: opens a copy of a state
//! database (`STATE_DIR/db`) with a chosen cache capacity, reads every tree in full, and
//! prints the process's resident memory (from `/proc/self/status`) at each step.
//!
//! ```text
//! cargo run --release -p jira-sync-store --example resident -- /tmp/copy-of-state/db [CACHE_BYTES]
//! ```
//!
//! Run it on a copy: sled takes the database's lock. It measures sled alone (README
//! "Measured", issue 19): resident memory after a full read follows the bytes read, whatever
//! `cache_capacity` is.

use std::path::PathBuf;

fn resident_mb() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (kb("VmRSS:") / 1024.0, kb("VmHWM:") / 1024.0)
}

fn report(step: &str) {
    let (now, peak) = resident_mb();
    println!("{step:<28} RSS {now:>8.1} MB  peak {peak:>8.1} MB");
}

fn main() -> Result<(), sled::Error> {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next().map(PathBuf::from) else {
        eprintln!("usage: resident DB_DIR [CACHE_BYTES]");
        std::process::exit(2);
    };
    let cache = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(jira_sync_store::CACHE_BYTES);
    report("start");
    let db = sled::Config::new()
        .path(&path)
        .cache_capacity(cache)
        .mode(sled::Mode::LowSpace)
        .open()?;
    report("opened");
    let mut total = 0usize;
    for name in db.tree_names() {
        let tree = db.open_tree(&name)?;
        let (mut entries, mut bytes) = (0usize, 0usize);
        for kv in tree.iter() {
            let (k, v) = kv?;
            entries += 1;
            bytes += k.len() + v.len();
        }
        total += bytes;
        println!(
            "  tree {:<20} {entries:>8} entries {:>10.1} MB",
            String::from_utf8_lossy(&name),
            bytes as f64 / 1048576.0
        );
    }
    println!(
        "read {:.1} MB of keys and values, cache_capacity {cache} bytes",
        total as f64 / 1048576.0
    );
    report("after reading everything");
    for kv in db.iter() {
        kv?;
    }
    for name in db.tree_names() {
        for kv in db.open_tree(&name)?.iter() {
            kv?;
        }
    }
    report("after reading it again");
    drop(db);
    report("after closing");
    Ok(())
}
