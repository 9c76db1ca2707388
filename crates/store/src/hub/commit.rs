//! A run's commit: records, links, the watermark and finished intents in one sled
//! transaction, writing only what differs from what is stored, and marking changed records
//! for the connectors that must look at them.

use std::collections::{BTreeMap, BTreeSet};

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::{Commit, Hub, MARK_KEY, Record, RecordId, SEQ_KEY, scoped, with_id};
use crate::{StoreError, decode, encode};

/// `mine`, a record as a writer changed it from an older version, on top of `theirs`, the
/// version another writer committed meanwhile: per field the later change wins (a field
/// only they changed keeps their value), comments are the union, and of the parked writes
/// only the committer's own entry is the committer's to set.
fn rebase(mut mine: Record, theirs: &Record, committer: Option<&str>) -> Record {
    for (f, v) in &theirs.fields {
        let their_time = theirs.field_times.get(f);
        let newer = match (their_time, mine.field_times.get(f)) {
            (Some(t), Some(m)) => t > m,
            (Some(_), None) => true,
            (None, _) => !mine.fields.contains_key(f),
        };
        if newer {
            mine.fields.insert(f.clone(), v.clone());
            if let Some(t) = their_time {
                mine.field_times.insert(f.clone(), *t);
            }
        }
    }
    for c in &theirs.comments {
        if !mine.comments.iter().any(|m| m.id == c.id) {
            mine.comments.push(c.clone());
        }
    }
    mine.comments.sort_by_key(|c| c.created);
    let mut parked = theirs.parked.clone();
    // A writer outside the engine (the hub API) never parks: the stored entries stand.
    if let Some(me) = committer {
        parked.remove(me);
        if let Some(p) = mine.parked.get(me) {
            parked.insert(me.to_owned(), p.clone());
        }
    }
    mine.parked = parked;
    mine
}

impl Hub {
    /// Applies a run's results in one transaction, then waits until they are on disk.
    /// Returns the records as stored (with their change sequence numbers: new for those
    /// that changed). The transaction runs on a blocking thread, never on an async worker.
    ///
    /// Every record that changed (or whose links did) is marked for the connectors that must
    /// look at it: those linked to it, those it was made for through the hub API, and
    /// [`Commit::notify`]; not the committer for what it looked at ([`Commit::looked_at`]).
    ///
    /// # Errors
    /// [`StoreError::ExternalIdTaken`] when a new record's external id belongs to another;
    /// sled's errors.
    pub async fn commit(&self, c: Commit) -> Result<Vec<Record>, StoreError> {
        if c.is_empty() {
            return Ok(vec![]);
        }
        let hub = self.clone();
        let stored = tokio::task::spawn_blocking(move || hub.commit_now(&c))
            .await
            .map_err(|e| StoreError::Db(sled::Error::Io(std::io::Error::other(e))))??;
        self.durable.flush().await?;
        Ok(stored)
    }

    /// The connectors linked to each record (read from the link keys, not the links).
    fn linked(
        &self,
        ids: impl IntoIterator<Item = RecordId>,
    ) -> Result<BTreeMap<RecordId, BTreeSet<(String, String)>>, StoreError> {
        let mut out = BTreeMap::new();
        for id in ids {
            let mut set = BTreeSet::new();
            for kv in self.by_record.scan_prefix(id.to_be_bytes()) {
                let (_, key) = kv?;
                let mut parts = key.split(|b| *b == 0);
                if let (Some(site), Some(conn)) = (parts.next(), parts.next()) {
                    set.insert((
                        String::from_utf8_lossy(site).into_owned(),
                        String::from_utf8_lossy(conn).into_owned(),
                    ));
                }
            }
            out.insert(id, set);
        }
        Ok(out)
    }

    fn commit_now(&self, c: &Commit) -> Result<Vec<Record>, StoreError> {
        // Read outside the transaction (it cannot scan): links another writer adds meanwhile
        // are its to mark.
        let linked = self.linked(
            c.records
                .iter()
                .map(|r| r.id)
                .chain(c.links.iter().map(|l| l.record)),
        )?;
        let committer = c
            .watermark
            .as_ref()
            .map(|(site, connector, _)| (site.clone(), connector.clone()));
        let result = (
            &self.records,
            &self.links,
            &self.by_record,
            &self.watermarks,
            &self.intents,
            &self.changes,
            &self.meta,
            &self.targets,
            &self.external,
            &self.marks,
        )
            .transaction(
                |(
                    records,
                    links,
                    by_record,
                    watermarks,
                    intents,
                    changes,
                    meta,
                    targets,
                    external,
                    marks,
                )| {
                    let who = committer.as_ref().map(|(s, n)| format!("{s}/{n}"));
                    let read_u64 = |v: Option<sled::IVec>| {
                        v.map_or(0, |b| {
                            u64::from_be_bytes(b.as_ref().try_into().unwrap_or([0; 8]))
                        })
                    };
                    let mut seq = read_u64(meta.get(SEQ_KEY)?);
                    let first_seq = seq;
                    // Records changed, with who else must look at them (their targets).
                    let mut changed: BTreeMap<RecordId, BTreeSet<String>> = BTreeMap::new();
                    // Records another writer committed after this one read them: what this
                    // run pushed was an older version, so it must look at them again.
                    let mut stale: BTreeSet<RecordId> = BTreeSet::new();
                    let mut stored = Vec::with_capacity(c.records.len());
                    for r in &c.records {
                        let mut r = r.clone();
                        let old = records.get(r.id.to_be_bytes())?;
                        if let Some(old_bytes) = &old {
                            let old: Record = decode("records", old_bytes)
                                .map_err(ConflictableTransactionError::Abort)?;
                            if old.seq != r.seq {
                                // Committed by another writer since this one read it (another
                                // connector's run, the hub API): keep what is newer there.
                                r = rebase(r, &old, who.as_deref());
                                stale.insert(r.id);
                            }
                            r.seq = old.seq;
                            if encode(&r) == old_bytes.as_ref() {
                                // Nothing changed: no new sequence number, nothing in the feed.
                                stored.push(r);
                                continue;
                            }
                            // The previous change entry of this record is superseded.
                            changes.remove(&old.seq.to_be_bytes())?;
                        }
                        if let Some(ext) = &r.external_id {
                            match external.get(ext.as_bytes())? {
                                Some(id) if id.as_ref() != r.id.to_be_bytes() => {
                                    let id = u64::from_be_bytes(
                                        id.as_ref().try_into().unwrap_or([0; 8]),
                                    );
                                    return Err(ConflictableTransactionError::Abort(
                                        StoreError::ExternalIdTaken(id),
                                    ));
                                }
                                Some(_) => {}
                                None => {
                                    external.insert(ext.as_bytes(), &r.id.to_be_bytes())?;
                                }
                            }
                        }
                        for t in &r.targets {
                            let mut k = t.replace('/', "\0").into_bytes();
                            k.push(0);
                            k.extend_from_slice(&r.id.to_be_bytes());
                            targets.insert(k, &[])?;
                        }
                        seq += 1;
                        r.seq = seq;
                        records.insert(&r.id.to_be_bytes(), encode(&r))?;
                        changes.insert(&seq.to_be_bytes(), &r.id.to_be_bytes())?;
                        changed.insert(r.id, r.targets.clone());
                        stored.push(r);
                    }
                    if seq != first_seq {
                        meta.insert(SEQ_KEY, &seq.to_be_bytes())?;
                    }
                    let mut link_owners: BTreeMap<RecordId, BTreeSet<(String, String)>> =
                        BTreeMap::new();
                    for l in &c.links {
                        let key = scoped(&[&l.site, &l.connector, &l.issue_id]);
                        link_owners
                            .entry(l.record)
                            .or_default()
                            .insert((l.site.clone(), l.connector.clone()));
                        let bytes = encode(l);
                        if links.get(key.as_slice())?.as_deref() == Some(bytes.as_slice()) {
                            continue;
                        }
                        links.insert(key.as_slice(), bytes)?;
                        let mut rk = l.record.to_be_bytes().to_vec();
                        rk.extend_from_slice(&key);
                        by_record.insert(rk, key)?;
                        changed.entry(l.record).or_default();
                    }
                    let mut mark = read_u64(meta.get(MARK_KEY)?);
                    let first_mark = mark;
                    for (id, targeted) in &changed {
                        let mut who_looks: BTreeSet<(String, String)> = c
                            .notify
                            .iter()
                            .cloned()
                            .chain(linked.get(id).into_iter().flatten().cloned())
                            .chain(link_owners.get(id).into_iter().flatten().cloned())
                            .chain(targeted.iter().filter_map(|t| {
                                let (s, n) = t.split_once('/')?;
                                Some((s.to_owned(), n.to_owned()))
                            }))
                            .collect();
                        if let Some(me) = &committer
                            && c.looked_at.contains(id)
                        {
                            who_looks.remove(me);
                        }
                        for (site, connector) in who_looks {
                            mark += 1;
                            marks
                                .insert(with_id(&[&site, &connector], *id), &mark.to_be_bytes())?;
                        }
                    }
                    if let Some((site, connector)) = &committer {
                        for id in &stale {
                            mark += 1;
                            marks.insert(with_id(&[site, connector], *id), &mark.to_be_bytes())?;
                        }
                    }
                    if mark != first_mark {
                        meta.insert(MARK_KEY, &mark.to_be_bytes())?;
                    }
                    if let Some((site, connector)) = &committer {
                        for (id, taken) in &c.taken {
                            let key = with_id(&[site, connector], *id);
                            if read_u64(marks.get(&key)?) == *taken {
                                marks.remove(key)?;
                            }
                        }
                    }
                    if let Some((site, connector, w)) = &c.watermark {
                        let key = scoped(&[site, connector]);
                        let bytes = encode(w);
                        if watermarks.get(&key)?.as_deref() != Some(bytes.as_slice()) {
                            watermarks.insert(key, bytes)?;
                        }
                    }
                    for (site, connector, id) in &c.done {
                        intents.remove(with_id(&[site, connector], *id))?;
                    }
                    Ok(stored)
                },
            );
        result.map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => StoreError::Db(e),
        })
    }

    /// The records marked for `site/connector` (record, mark number): they or their links
    /// changed since it last looked. Pass them back in [`Commit::taken`] once looked at.
    pub fn marked(&self, site: &str, connector: &str) -> Result<Vec<(RecordId, u64)>, StoreError> {
        let mut prefix = scoped(&[site, connector]);
        prefix.push(0);
        let bad = || StoreError::Corrupt {
            key: "marks".into(),
            reason: "bad key or value".into(),
        };
        self.marks
            .scan_prefix(&prefix)
            .map(|kv| {
                let (k, v) = kv?;
                let id = k[prefix.len()..].try_into().map_err(|_| bad())?;
                let mark = v.as_ref().try_into().map_err(|_| bad())?;
                Ok((u64::from_be_bytes(id), u64::from_be_bytes(mark)))
            })
            .collect()
    }
}
