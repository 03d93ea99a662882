//! The harness every store suite shares: one test body, run on SQLite and (with
//! `TEST_DATABASE_URL`) on PostgreSQL.
#![allow(clippy::unwrap_used, dead_code)]

use std::any::Any;
use std::future::Future;

use switchboard_store::postgres as pg;
use switchboard_store::{DynStore, StoreOptions};

/// Runs `test` on a fresh SQLite store, then (with `TEST_DATABASE_URL`) on a fresh PostgreSQL
/// database. Stores are closed and databases dropped even when the test panics; the panic is
/// re-raised afterwards, naming the backend.
pub async fn for_each_backend<F, Fut>(test: F)
where
    F: Fn(DynStore) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    for_each_backend_with(&StoreOptions::default(), test).await;
}

/// [`for_each_backend`] with stores opened with `opts`.
pub async fn for_each_backend_with<F, Fut>(opts: &StoreOptions, test: F)
where
    F: Fn(DynStore) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut failures: Vec<(&str, Box<dyn Any + Send>)> = Vec::new();
    {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let store = switchboard_store::open(path.to_str().unwrap(), opts).await.unwrap();
        if let Some(panic) = run_test(store, &test).await {
            failures.push(("SQLite", panic));
        }
    }

    if let Ok(admin_url) = std::env::var("TEST_DATABASE_URL") {
        let (url, db) = pg::create_scratch_database(&admin_url, "sb_test").await.unwrap();
        match switchboard_store::open(&url, opts).await {
            Ok(store) => {
                if let Some(panic) = run_test(store, &test).await {
                    failures.push(("PostgreSQL", panic));
                }
            }
            Err(e) => failures.push(("PostgreSQL", Box::new(format!("cannot open {url}: {e}")))),
        }
        // Best effort: a leftover test database is not worth failing a test over.
        if let Err(e) = pg::drop_scratch_database(&admin_url, &db).await {
            eprintln!("could not drop test database {db}: {e}");
        }
    }

    let backends: Vec<&str> = failures.iter().map(|(b, _)| *b).collect();
    if let Some((_, panic)) = failures.into_iter().next() {
        eprintln!("test failed on: {}", backends.join(", "));
        std::panic::resume_unwind(panic);
    }
}

/// Runs one test body in its own task so that a panic can be caught, then closes the store.
async fn run_test<F, Fut>(store: DynStore, test: &F) -> Option<Box<dyn Any + Send>>
where
    F: Fn(DynStore) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let result = tokio::spawn(test(store.clone())).await;
    store.close().await;
    match result {
        Ok(()) => None,
        Err(e) if e.is_panic() => Some(e.into_panic()),
        Err(e) => Some(Box::new(format!("test task failed: {e}"))),
    }
}
