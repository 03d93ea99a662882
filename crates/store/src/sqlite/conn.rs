//! SQLite connections: one writer thread that group-commits write jobs, a pool of readers, and a
//! checkpointer thread so WAL checkpoints never stall the writer.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, oneshot};

use crate::{Result, StoreError, migrations};

/// Most write jobs committed in one transaction.
const MAX_JOBS_PER_COMMIT: usize = 512;
/// A group commit slower than this is logged.
const SLOW_COMMIT: Duration = Duration::from_millis(250);
/// WAL frames (pages) above which an idle log is truncated.
const WAL_TRUNCATE_FRAMES: i64 = 16 * 1024;
/// Checkpointer rounds (50 ms each) without writes before the log counts as idle.
const IDLE_ROUNDS: u32 = 20;
/// How long the trigram indexes may lag behind committed rows while writes keep queueing. An idle
/// writer indexes in the same transaction as the rows; a busy one defers it to a later commit
/// (the rows to index are kept in `fts_pending`, in the same transaction as the rows themselves),
/// so one large index flush replaces many small ones: indexing each group commit separately cost
/// a fifth of the writer's time under ingest load.
const FTS_MAX_LAG: Duration = Duration::from_millis(250);

type Finish = Box<dyn FnOnce(Result<(), String>) + Send>;
/// A write job; it gets `None` when the batch's transaction already failed.
type Job = Box<dyn FnOnce(Option<&Connection>) -> (bool, Finish) + Send>;

/// Handles to the writer thread and the reader pool.
pub(crate) struct Connections {
    path: PathBuf,
    writer: Mutex<Option<mpsc::UnboundedSender<Job>>>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    readers: Arc<Mutex<Vec<Connection>>>,
    /// One permit per reader connection: a read waits for a pooled connection instead of
    /// opening a fresh one, which would parse the whole schema again on its first statement
    /// (with 64 concurrent webhook reads that was 19 % of the process's CPU).
    reader_permits: Arc<tokio::sync::Semaphore>,
    stop: Arc<AtomicBool>,
    checkpointer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

fn configure(conn: &Connection, sync_full: bool) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", if sync_full { "FULL" } else { "NORMAL" })?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "cache_size", -32_000)?;
    // Statement journals stay at SQLite's default: in memory up to 64 KiB, then a temporary file.
    // `temp_store=MEMORY` keeps them in memory whatever their size, and SQLite truncates an
    // in-memory statement journal at the end of every statement by walking it from the start:
    // a large write job (a history import, a backlogged pipeline batch) became quadratic (83 %
    // of an import's time was that walk).
    Ok(())
}

pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
    )?;
    for m in migrations::SQLITE {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let done: bool =
            tx.query_row("SELECT EXISTS(SELECT 1 FROM schema_migrations WHERE version = ?1)", [m.version], |r| {
                r.get(0)
            })?;
        if !done {
            tracing::info!(version = m.version, name = m.name, "applying SQLite migration");
            tx.execute_batch(m.sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                rusqlite::params![m.version, m.name, chrono::Utc::now().timestamp_micros()],
            )?;
        }
        tx.commit()?;
    }
    // Rows noted for indexing by a write that did not go through the writer's commit.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    index_pending(&tx)?;
    tx.commit()?;
    Ok(())
}

impl Connections {
    pub(crate) fn open(path: &Path, max_readers: usize, sync_full: bool) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Backend(format!("cannot create {}: {e}", dir.display())))?;
        }
        let mut conn = Connection::open(path)?;
        configure(&conn, sync_full)?;
        migrate(&mut conn)?;
        // The checkpointer thread does this work off the write path.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;

        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        let writer_thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(conn, &mut rx))
            .map_err(|e| StoreError::Backend(format!("cannot start writer thread: {e}")))?;

        let stop = Arc::new(AtomicBool::new(false));
        let checkpointer = {
            let ck = Connection::open(path)?;
            ck.busy_timeout(Duration::from_secs(1))?;
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("sqlite-checkpoint".into())
                .spawn(move || checkpoint_loop(ck, &stop))
                .map_err(|e| StoreError::Backend(format!("cannot start checkpointer: {e}")))?
        };

        Ok(Self {
            path: path.to_owned(),
            writer: Mutex::new(Some(tx)),
            writer_thread: Mutex::new(Some(writer_thread)),
            readers: Arc::new(Mutex::new(Vec::new())),
            reader_permits: Arc::new(tokio::sync::Semaphore::new(max_readers.max(1))),
            stop,
            checkpointer: Mutex::new(Some(checkpointer)),
        })
    }

    /// Runs `f` inside the writer's next transaction (in its own savepoint) and returns its
    /// result once that transaction has committed.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T>>();
        let job: Job = Box::new(move |conn| {
            let r = match conn {
                Some(conn) => f(conn),
                None => Err(StoreError::Backend("transaction aborted".into())),
            };
            let ok = r.is_ok();
            let finish: Finish = Box::new(move |commit| {
                let out = match commit {
                    Ok(()) => r,
                    Err(e) => r.and(Err(StoreError::Backend(format!("commit failed: {e}")))),
                };
                let _ = tx.send(out);
            });
            (ok, finish)
        });
        {
            let guard = self.writer.lock().map_err(|_| StoreError::Closed)?;
            let sender = guard.as_ref().ok_or(StoreError::Closed)?;
            sender.send(job).map_err(|_| StoreError::Closed)?;
        }
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `f` on a read-only connection on the blocking pool.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        if self.stop.load(Ordering::Relaxed) {
            return Err(StoreError::Closed);
        }
        let readers = self.readers.clone();
        let path = self.path.clone();
        let permit = self.reader_permits.clone().acquire_owned().await.map_err(|_| StoreError::Closed)?;
        tokio::task::spawn_blocking(move || {
            // Holding a permit, there is a pooled connection or room for one more.
            let pooled = readers.lock().ok().and_then(|mut v| v.pop());
            let conn = match pooled {
                Some(c) => c,
                None => {
                    let c = Connection::open_with_flags(
                        &path,
                        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                    )?;
                    c.busy_timeout(Duration::from_secs(10))?;
                    c
                }
            };
            let out = f(&conn);
            if let Ok(mut v) = readers.lock() {
                v.push(conn);
            }
            drop(permit);
            out
        })
        .await
        .map_err(|e| StoreError::Backend(format!("reader task failed: {e}")))?
    }

    /// Stops accepting writes, lets the writer finish what is queued, stops the checkpointer.
    pub(crate) fn close(&self) {
        if let Ok(mut w) = self.writer.lock() {
            w.take();
        }
        if let Some(h) = self.writer_thread.lock().ok().and_then(|mut h| h.take()) {
            let _ = h.join();
        }
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.checkpointer.lock().ok().and_then(|mut h| h.take()) {
            let _ = h.join();
        }
        if let Ok(mut r) = self.readers.lock() {
            r.clear();
        }
    }
}

impl Drop for Connections {
    fn drop(&mut self) {
        self.close();
    }
}

fn writer_loop(conn: Connection, rx: &mut mpsc::UnboundedReceiver<Job>) {
    let mut jobs: Vec<Job> = Vec::with_capacity(MAX_JOBS_PER_COMMIT);
    let mut finishers: Vec<Finish> = Vec::with_capacity(MAX_JOBS_PER_COMMIT);
    let mut indexed_at = std::time::Instant::now();
    // Rows noted in `fts_pending` by a commit that deferred indexing them.
    let mut deferred = false;
    loop {
        let first = match rx.try_recv() {
            Ok(j) => j,
            Err(mpsc::error::TryRecvError::Disconnected) => break,
            Err(mpsc::error::TryRecvError::Empty) => {
                // Idle: catch the indexes up before waiting.
                if deferred {
                    deferred = !index_alone(&conn);
                    indexed_at = std::time::Instant::now();
                }
                match rx.blocking_recv() {
                    Some(j) => j,
                    None => break,
                }
            }
        };
        jobs.push(first);
        while jobs.len() < MAX_JOBS_PER_COMMIT {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        let n = jobs.len();
        // Decided after the jobs ran: when more work queued meanwhile, a later commit indexes
        // these rows with its own, unless they have waited long enough.
        let index = || rx.is_empty() || indexed_at.elapsed() >= FTS_MAX_LAG;
        let outcome = run_batch(&conn, &mut jobs, &mut finishers, index);
        match outcome {
            Ok(true) => {
                deferred = false;
                indexed_at = std::time::Instant::now();
            }
            Ok(false) => deferred = true,
            Err(_) => {}
        }
        if started.elapsed() > SLOW_COMMIT {
            tracing::warn!(jobs = n, ms = started.elapsed().as_millis() as u64, "slow SQLite group commit");
        }
        if let Err(e) = &outcome {
            tracing::error!(error = %e, jobs = finishers.len(), "SQLite group commit failed");
            let _ = conn.execute_batch("ROLLBACK");
        }
        let outcome = outcome.map(|_| ());
        for f in finishers.drain(..) {
            f(outcome.clone());
        }
    }
    if deferred {
        index_alone(&conn);
    }
    tracing::debug!("SQLite writer stopped");
}

/// Indexes the deferred rows in a transaction of their own; false when that failed (the rows
/// stay noted, and the next commit or start-up indexes them).
fn index_alone(conn: &Connection) -> bool {
    let r = conn
        .execute_batch("BEGIN IMMEDIATE")
        .and_then(|()| index_pending(conn))
        .and_then(|()| conn.execute_batch("COMMIT"));
    if let Err(e) = r {
        tracing::warn!(error = %e, "deferred full-text indexing failed; retrying with the next commit");
        let _ = conn.execute_batch("ROLLBACK");
        return false;
    }
    true
}

/// Runs the jobs in one transaction and commits it; `Ok(true)` when the trigram indexes were
/// brought up to date in it (`index` is asked after the jobs ran).
fn run_batch(
    conn: &Connection,
    jobs: &mut Vec<Job>,
    finishers: &mut Vec<Finish>,
    index: impl FnOnce() -> bool,
) -> Result<bool, String> {
    let mut result = conn.execute_batch("BEGIN IMMEDIATE").map_err(|e| e.to_string());
    for job in jobs.drain(..) {
        if result.is_err() {
            // The transaction is gone: run nothing, fail everyone with the same reason.
            let (_, fin) = job(None);
            finishers.push(fin);
            continue;
        }
        if let Err(e) = conn.execute_batch("SAVEPOINT job") {
            result = Err(e.to_string());
            let (_, fin) = job(None);
            finishers.push(fin);
            continue;
        }
        let (ok, fin) = job(Some(conn));
        let end = if ok { "RELEASE job" } else { "ROLLBACK TO job; RELEASE job" };
        if let Err(e) = conn.execute_batch(end) {
            result = Err(e.to_string());
        }
        finishers.push(fin);
    }
    result?;
    let index = index();
    if index {
        index_pending(conn).map_err(|e| format!("full-text indexing before commit failed: {e}"))?;
    }
    conn.execute_batch("COMMIT").map_err(|e| e.to_string())?;
    Ok(index)
}

/// Adds the rows the transaction inserted or edited to the trigram indexes, one statement per
/// index (migration 16: indexing row by row wrote one index segment per row), and to the
/// short-search indexes (migration 18), a few hundred rows per statement.
pub(crate) fn index_pending(conn: &Connection) -> rusqlite::Result<()> {
    let pending: bool =
        conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM fts_pending)")?.query_row([], |r| r.get(0))?;
    if !pending {
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT INTO messages_fts (rowid, text) SELECT m.rowid, m.text FROM fts_pending p \
         JOIN messages m ON m.rowid = p.rid WHERE p.tbl = 1",
    )?
    .execute([])?;
    conn.prepare_cached(
        "INSERT INTO contacts_fts (rowid, name) SELECT k.rowid, k.name FROM fts_pending p \
         JOIN contacts k ON k.rowid = p.rid WHERE p.tbl = 2",
    )?
    .execute([])?;
    super::short_index::index_pending(conn)?;
    conn.prepare_cached("DELETE FROM fts_pending")?.execute([])?;
    Ok(())
}

fn checkpoint_loop(conn: Connection, stop: &AtomicBool) {
    // PASSIVE never takes the write lock, so commits go on while pages are copied back; once a
    // checkpoint has copied everything, the next commit rewinds the log. Shrinking the file
    // (TRUNCATE, or journal_size_limit) stalls a commit for as long as the filesystem takes to
    // cut a large file (200-400 ms measured here), so it is only done after a second of idleness.
    let mut last_frames = -1;
    let mut idle = 0u32;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
        let r: rusqlite::Result<(i64, i64)> =
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get(1)?, r.get(2)?)));
        match r {
            Ok((frames, done)) => {
                idle = if frames == last_frames { idle + 1 } else { 0 };
                last_frames = frames;
                if idle >= IDLE_ROUNDS && frames > WAL_TRUNCATE_FRAMES && frames == done {
                    let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
                    idle = 0;
                }
            }
            Err(e) => tracing::debug!(error = %e, "WAL checkpoint skipped"),
        }
    }
    let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().expect("in-memory database");
        migrate(&mut c).expect("migrations");
        // Bare rows, without the conversations and contacts they would belong to.
        c.pragma_update(None, "foreign_keys", "OFF").expect("pragma");
        c
    }

    fn hits(c: &Connection, table: &str, q: &str) -> Vec<i64> {
        let sql = format!("SELECT rowid FROM {table} WHERE {table} MATCH ?1 ORDER BY rowid");
        let mut st = c.prepare(&sql).expect("query");
        st.query_map([format!("\"{q}\"")], |r| r.get(0)).expect("rows").collect::<rusqlite::Result<_>>().expect("rows")
    }

    /// Rows of `table` (`messages_grams` or `contacts_grams`) holding the short query `q`.
    fn short(c: &Connection, table: &str, q: &str) -> Vec<i64> {
        let sql = format!("SELECT rowid FROM {table} WHERE {table} MATCH ?1 ORDER BY rowid");
        let mut st = c.prepare(&sql).expect("query");
        st.query_map([super::super::short_index::query(q)], |r| r.get(0))
            .expect("rows")
            .collect::<rusqlite::Result<_>>()
            .expect("rows")
    }

    fn check(c: &Connection) {
        c.execute_batch(
            "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1); \
             INSERT INTO contacts_fts (contacts_fts, rank) VALUES ('integrity-check', 1);",
        )
        .expect("the indexes match their tables");
        let left: i64 = c.query_row("SELECT COUNT(*) FROM fts_pending", [], |r| r.get(0)).expect("count");
        assert_eq!(left, 0, "nothing left to index after a commit");
    }

    fn message(c: &Connection, id: u8, text: &str) -> i64 {
        c.execute(
            "INSERT INTO messages (id, conversation_id, direction, visibility, text, sent_at, created_at) \
             VALUES (?1, x'00', 'inbound', 'private', ?2, 0, 0)",
            rusqlite::params![vec![id], text],
        )
        .expect("insert");
        c.last_insert_rowid()
    }

    #[test]
    fn rows_are_indexed_once_per_transaction_with_edits_and_deletes_in_between() {
        let c = db();
        c.execute_batch("BEGIN IMMEDIATE").unwrap();
        let a = message(&c, 1, "my parcel is late");
        let b = message(&c, 2, "refund please");
        c.execute("UPDATE messages SET text = 'invoice now' WHERE rowid = ?1", [b]).unwrap();
        let gone = message(&c, 3, "deleted before commit");
        c.execute("DELETE FROM messages WHERE rowid = ?1", [gone]).unwrap();
        c.execute("INSERT INTO contacts (id, name, created_at) VALUES (x'01', 'Zoë Ångström', 0)", []).unwrap();
        assert!(hits(&c, "messages_fts", "parcel").is_empty(), "indexed at commit, not per row");
        index_pending(&c).unwrap();
        c.execute_batch("COMMIT").unwrap();
        check(&c);
        assert_eq!(hits(&c, "messages_fts", "parcel"), vec![a]);
        assert_eq!(hits(&c, "messages_fts", "invoice"), vec![b]);
        assert!(hits(&c, "messages_fts", "refund").is_empty(), "the edited-away text is not found");
        assert!(hits(&c, "messages_fts", "deleted").is_empty());
        assert_eq!(hits(&c, "contacts_fts", "ngstr").len(), 1);
        assert_eq!(short(&c, "messages_grams", "Pa"), vec![a]);
        assert_eq!(short(&c, "messages_grams", "vo"), vec![b]);
        assert_eq!(short(&c, "messages_grams", "v"), vec![b]);
        assert!(short(&c, "messages_grams", "fu").is_empty(), "the edited-away text is not found");
        assert!(short(&c, "messages_grams", "de").is_empty());
        assert_eq!(short(&c, "contacts_grams", "Å").len(), 1);

        // Rows indexed by an earlier commit: edits and deletes update the index.
        c.execute_batch("BEGIN IMMEDIATE").unwrap();
        c.execute("UPDATE messages SET text = 'box lost' WHERE rowid = ?1", [a]).unwrap();
        c.execute("UPDATE messages SET text = 'box found' WHERE rowid = ?1", [a]).unwrap();
        c.execute("DELETE FROM messages WHERE rowid = ?1", [b]).unwrap();
        c.execute("UPDATE contacts SET name = 'Kim' WHERE id = x'01'", []).unwrap();
        index_pending(&c).unwrap();
        c.execute_batch("COMMIT").unwrap();
        check(&c);
        assert_eq!(hits(&c, "messages_fts", "found"), vec![a]);
        assert!(hits(&c, "messages_fts", "parcel").is_empty());
        assert!(hits(&c, "messages_fts", "lost").is_empty());
        assert!(hits(&c, "messages_fts", "invoice").is_empty());
        assert!(hits(&c, "contacts_fts", "ngstr").is_empty());
        assert_eq!(hits(&c, "contacts_fts", "Kim").len(), 1);
        assert_eq!(short(&c, "messages_grams", "bo"), vec![a]);
        assert!(short(&c, "messages_grams", "lo").is_empty());
        assert!(short(&c, "messages_grams", "pa").is_empty());
        assert!(short(&c, "messages_grams", "vo").is_empty());
        assert!(short(&c, "contacts_grams", "ån").is_empty());
        assert_eq!(short(&c, "contacts_grams", "KI").len(), 1);

        // A rolled-back job leaves nothing to index.
        c.execute_batch("BEGIN IMMEDIATE; SAVEPOINT job").unwrap();
        message(&c, 4, "never committed");
        c.execute_batch("ROLLBACK TO job; RELEASE job").unwrap();
        index_pending(&c).unwrap();
        c.execute_batch("COMMIT").unwrap();
        check(&c);
        assert!(hits(&c, "messages_fts", "never").is_empty());

        // Rows stored before migration 18 (noted as tbl 3 and 4) go into the short-search
        // indexes alone: the trigram indexes, which hold them already, stay exact.
        c.execute_batch(
            "INSERT INTO messages_grams (messages_grams) VALUES ('delete-all'); \
             INSERT INTO contacts_grams (contacts_grams) VALUES ('delete-all'); \
             BEGIN IMMEDIATE; \
             INSERT INTO fts_pending (tbl, rid) SELECT 3, rowid FROM messages; \
             INSERT INTO fts_pending (tbl, rid) SELECT 4, rowid FROM contacts;",
        )
        .unwrap();
        assert!(short(&c, "messages_grams", "bo").is_empty());
        index_pending(&c).unwrap();
        c.execute_batch("COMMIT").unwrap();
        check(&c);
        assert_eq!(short(&c, "messages_grams", "bo"), vec![a]);
        assert_eq!(short(&c, "contacts_grams", "m").len(), 1);
    }

    async fn contact_hits(conns: &Connections, q: &'static str) -> usize {
        conns.read(move |c| Ok(hits(c, "contacts_fts", q).len())).await.expect("search")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_idle_writer_indexes_at_once_and_a_busy_one_catches_up_when_the_queue_drains() {
        let dir = tempfile::tempdir().unwrap();
        let conns = std::sync::Arc::new(Connections::open(&dir.path().join("t.db"), 2, false).unwrap());
        let add = |conns: std::sync::Arc<Connections>, i: u32| async move {
            conns
                .write(move |c| {
                    c.execute(
                        "INSERT INTO contacts (id, name, created_at) VALUES (?1, ?2, 0)",
                        rusqlite::params![i.to_be_bytes().to_vec(), format!("Kunde Nummer {i} Ümlaut")],
                    )?;
                    Ok(())
                })
                .await
                .unwrap();
        };
        // Nothing else queued: the row is searchable as soon as its write returns.
        add(conns.clone(), 0).await;
        assert_eq!(contact_hits(&conns, "Nummer 0 ").await, 1);

        // A burst keeps the queue full, so commits defer indexing; once it drains, every row is
        // indexed without another write.
        let burst: Vec<_> = (1..=2000).map(|i| tokio::spawn(add(conns.clone(), i))).collect();
        for t in burst {
            t.await.unwrap();
        }
        let mut found = 0;
        for _ in 0..200 {
            found = contact_hits(&conns, "Ümlaut").await;
            if found == 2001 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(found, 2001, "every committed row ends up indexed");
        conns.close();
        let c = Connection::open(dir.path().join("t.db")).unwrap();
        check(&c);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_reads_share_the_pooled_connections_instead_of_opening_more() {
        let dir = tempfile::tempdir().unwrap();
        let conns = std::sync::Arc::new(Connections::open(&dir.path().join("t.db"), 3, false).unwrap());
        // A connection's first read finds no temp table of its own: that counts the connections.
        let reads = (0..48).map(|_| {
            let conns = conns.clone();
            tokio::spawn(async move {
                conns
                    .read(|c| {
                        let fresh: bool = c.query_row(
                            "SELECT NOT EXISTS (SELECT 1 FROM temp.sqlite_master WHERE name = 'seen')",
                            [],
                            |r| r.get(0),
                        )?;
                        c.execute_batch("CREATE TEMP TABLE IF NOT EXISTS seen (x)")?;
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        Ok(fresh)
                    })
                    .await
                    .unwrap()
            })
        });
        let mut opened = 0;
        for r in reads.collect::<Vec<_>>() {
            opened += usize::from(r.await.unwrap());
        }
        assert!((1..=3).contains(&opened), "{opened} connections for 48 concurrent reads");
        conns.close();
    }
}
