//! Why every SQLite call goes through `spawn_blocking`: a scene you can run.
//!
//! A SQLite call blocks its thread: reading a page from disk, or waiting
//! (up to the busy timeout) for a lock another connection holds. On one of
//! tokio's worker threads, that wait stops every other task on the thread,
//! including, here, the very task that would have released the lock.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use crate::Error;

/// How long the waiting connection waits for the lock before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_millis(500);

/// Where the waiting INSERT runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Straight in async code, on the runtime's only worker thread.
    WorkerThread,
    /// Inside `tokio::task::spawn_blocking`.
    BlockingPool,
}

// ANCHOR: scene
/// One connection holds the write lock; a task is ready to commit it. A
/// second connection then INSERTs, which must wait for that lock. Returns
/// how the INSERT ended. Runs on a runtime with a single worker thread.
pub fn insert_while_locked(
    path: &Path,
    placement: Placement,
) -> Result<rusqlite::Result<usize>, Error> {
    let holder = Connection::open(path)?;
    holder.execute_batch("BEGIN IMMEDIATE")?; // takes the write lock
    let waiter = Connection::open(path)?;
    waiter.busy_timeout(BUSY_TIMEOUT)?;
    let email = format!("{placement:?}@example.com").to_lowercase();
    let insert = move || {
        waiter.execute(
            "INSERT INTO users (name, email) VALUES ('Late', ?)",
            (email,),
        )
    };

    let scene = async move {
        let release = tokio::spawn(async move {
            tokio::task::spawn_blocking(move || holder.execute_batch("COMMIT")).await
        });
        let inserted = match placement {
            Placement::WorkerThread => insert(), // blocks the only worker
            Placement::BlockingPool => tokio::task::spawn_blocking(insert).await?,
        };
        release.await???;
        Ok(inserted)
    };
    // A fresh thread: a runtime cannot be started inside another one.
    let one_worker = std::thread::spawn(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(Error::Runtime)?;
        runtime.block_on(scene)
    });
    one_worker
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}
// ANCHOR_END: scene
