//! What only the SQLite store has: a file that says what it is, and
//! foreign, damaged and newer files refused untouched. Everything else is
//! tested on both backends in store.rs.

use crate::support;

use rusqlite::Connection;
use std::path::{Path, PathBuf};
use support::mission::run_small_mission;
use techlead_store::sqlite::{APPLICATION_ID, SCHEMA_VERSION, SqliteStore};
use techlead_store::{Error, Store};

#[test]
fn the_file_says_what_it_is_and_how_it_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".techlead").join("techlead.db");
    drop(SqliteStore::open(&path).unwrap());
    assert!(path.exists(), "the parent directories are created");
    let _store = SqliteStore::open(&path).unwrap();
    let conn = Connection::open(&path).unwrap();
    let pragma = |name: &str| -> i64 { conn.pragma_query_value(None, name, |r| r.get(0)).unwrap() };
    assert_eq!(pragma("application_id"), i64::from(APPLICATION_ID));
    assert_eq!(pragma("user_version"), SCHEMA_VERSION);
    let journal: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
}

fn assert_refused_untouched(path: &Path, check: impl Fn(&Error) -> bool) {
    let before = std::fs::read(path).unwrap();
    let siblings = |p: &Path| -> Vec<PathBuf> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        entries
    };
    let listing = siblings(path);
    let error = SqliteStore::open(path).unwrap_err();
    assert!(check(&error), "{error:?}");
    assert!(error.hint().is_some());
    assert!(
        error.to_string().contains(&path.display().to_string()),
        "{error}"
    );
    assert_eq!(std::fs::read(path).unwrap(), before, "the file was changed");
    assert_eq!(siblings(path), listing, "files were left beside it");
}

#[test]
fn a_file_that_is_not_sqlite_is_foreign_and_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.db");
    let bytes: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&path, &bytes).unwrap();
    assert_refused_untouched(&path, |e| matches!(e, Error::Foreign { .. }));

    std::fs::write(&path, "name: ship\ntasks: []\n").unwrap();
    assert_refused_untouched(&path, |e| matches!(e, Error::Foreign { .. }));
}

#[test]
fn another_programs_sqlite_database_is_foreign_and_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE recipes (name TEXT); INSERT INTO recipes VALUES ('soup');",
        )
        .unwrap();
    }
    assert_refused_untouched(&path, |e| matches!(e, Error::Foreign { .. }));

    // Even an empty one that carries another application ID.
    let path = dir.path().join("tagged.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "application_id", 0x1234_5678)
            .unwrap();
    }
    assert_refused_untouched(&path, |e| matches!(e, Error::Foreign { .. }));
}

#[test]
fn a_damaged_database_is_corrupt_and_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.db");
    {
        let mut store = SqliteStore::open(&path).unwrap();
        run_small_mission(&mut store);
    }
    // Keep SQLite's header, overwrite the rest of the first page.
    let mut bytes = std::fs::read(&path).unwrap();
    for b in &mut bytes[16..4096] {
        *b = 0xA5;
    }
    std::fs::write(&path, &bytes).unwrap();
    assert_refused_untouched(&path, |e| matches!(e, Error::Corrupt { .. }));
}

#[test]
fn a_database_from_a_newer_techlead_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newer.db");
    {
        let mut store = SqliteStore::open(&path).unwrap();
        run_small_mission(&mut store);
    }
    {
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 7)
            .unwrap();
    }
    assert_refused_untouched(&path, |e| {
        matches!(e, Error::TooNew { found, supported, .. }
            if *found == SCHEMA_VERSION + 7 && *supported == SCHEMA_VERSION)
    });
}

#[test]
fn databases_created_at_once_by_many_threads_are_one_database_that_keeps_every_mission() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    let ids: Vec<String> = std::thread::scope(|scope| {
        let runs: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    let mut store = SqliteStore::open(&path).unwrap();
                    run_small_mission(&mut store)
                })
            })
            .collect();
        runs.into_iter().map(|run| run.join().unwrap()).collect()
    });
    let store = SqliteStore::open(&path).unwrap();
    let mut kept: Vec<String> = store
        .missions()
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    let mut made = ids.clone();
    kept.sort();
    made.sort();
    assert_eq!(kept, made, "no creation replaced another's database");
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
}

#[test]
fn what_a_creation_that_died_left_is_removed_and_never_taken_for_the_database() {
    let dir = tempfile::tempdir().unwrap();
    // A process ID no process has (above the kernel's limit), and one that
    // runs (this one): only the first is a stray.
    let dead = dir.path().join(".new.db.creating-4294967295-0");
    let alive = dir
        .path()
        .join(format!(".new.db.creating-{}-99", std::process::id()));
    for stray in [&dead, &alive] {
        std::fs::write(stray, b"half a schema").unwrap();
    }
    let path = dir.path().join("new.db");
    let mut store = SqliteStore::open(&path).unwrap();
    run_small_mission(&mut store);
    assert!(!dead.exists(), "the dead creation's file is removed");
    assert!(alive.exists(), "a live creation's file is left to it");
    assert_eq!(store.missions().unwrap().len(), 1);
}

/// Files in `dir` other than the database, its log and its locks.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with("new.db"))
        .collect()
}
