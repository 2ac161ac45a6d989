//! Benchmark 2: SQLite's rollback journal (`DELETE`, the default) against
//! write-ahead logging (`WAL`), with 1, 4 and 16 writers at once and a
//! reader beside them, each with and without a busy timeout.
//!
//! One iteration: every writer inserts [`WRITES`] rows, one transaction
//! each, while the reader reads by primary key until the writers are done.
//! Without a busy timeout an operation that finds the database locked fails
//! at once (`SQLITE_BUSY`, "database is locked"), as it would reach a user;
//! it is counted, not retried. With one, SQLite waits up to 5 s for the lock.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, SamplingMode};
use measured::{Comparison, Row, figure};
use rusqlite::{Connection, ErrorCode};

/// Rows each writer inserts per iteration.
const WRITES: usize = 5;
const WRITERS: [usize; 3] = [1, 4, 16];
const MODES: [&str; 2] = ["DELETE", "WAL"];
const TIMEOUT: Duration = Duration::from_secs(5);

/// One configuration: its bench name, and what it counted over the run.
struct Setup {
    mode: &'static str,
    writers: usize,
    timeout: bool,
    writes: AtomicUsize,
    writes_busy: AtomicUsize,
    reads: AtomicUsize,
    reads_busy: AtomicUsize,
    read_latencies: std::sync::Mutex<Vec<Duration>>,
}

impl Setup {
    fn name(&self) -> String {
        let wait = if self.timeout {
            "timeout"
        } else {
            "no_timeout"
        };
        format!("{}_{}_{wait}", self.mode.to_lowercase(), self.writers)
    }
}

fn main() {
    let setups: Vec<Setup> = MODES
        .iter()
        .flat_map(|mode| WRITERS.iter().map(move |writers| (mode, writers)))
        .flat_map(|(mode, writers)| {
            [false, true].map(|timeout| Setup {
                mode,
                writers: *writers,
                timeout,
                writes: AtomicUsize::new(0),
                writes_busy: AtomicUsize::new(0),
                reads: AtomicUsize::new(0),
                reads_busy: AtomicUsize::new(0),
                read_latencies: std::sync::Mutex::default(),
            })
        })
        .collect();
    let folder = common::scratch();
    let since = SystemTime::now();
    let mut criterion = common::criterion();
    for setup in &setups {
        measure(&mut criterion, folder.path(), setup);
    }
    criterion.final_summary();
    let names: Vec<String> = setups.iter().map(Setup::name).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    common::record("journal", &names, since, |means| comparison(&setups, means));
}

/// A database of its own for `setup`, in its journal mode, and one
/// connection per writer and for the reader.
fn connections(folder: &Path, setup: &Setup) -> (Vec<Connection>, Connection) {
    let path = folder.join(format!("{}.sqlite", setup.name()));
    let first = Connection::open(&path).expect("open");
    first
        .pragma_update(None, "journal_mode", setup.mode)
        .expect("the journal mode");
    first
        .execute_batch(
            "CREATE TABLE IF NOT EXISTS note (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
             INSERT INTO note (body) VALUES ('the row the reader reads');",
        )
        .expect("the table");
    let open = || {
        let conn = Connection::open(&path).expect("open");
        // rusqlite waits 5 s by default; "no timeout" must say so.
        let wait = if setup.timeout {
            TIMEOUT
        } else {
            Duration::ZERO
        };
        conn.busy_timeout(wait).expect("the busy timeout");
        conn
    };
    ((0..setup.writers).map(|_| open()).collect(), open())
}

fn is_busy(err: &rusqlite::Error) -> bool {
    err.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)
}

fn measure(criterion: &mut Criterion, folder: &Path, setup: &Setup) {
    let (mut writers, mut reader) = connections(folder, setup);
    let mut group = criterion.benchmark_group("journal");
    group.sampling_mode(SamplingMode::Flat);
    group.bench_function(setup.name(), |bencher| {
        bencher.iter_custom(|iterations| {
            let started = Instant::now();
            for _ in 0..iterations {
                one_round(&mut writers, &mut reader, setup);
            }
            started.elapsed()
        })
    });
    group.finish();
}

/// Every writer inserts its rows while the reader reads, until they are done.
fn one_round(writers: &mut [Connection], reader: &mut Connection, setup: &Setup) {
    let writing = AtomicBool::new(true);
    std::thread::scope(|scope| {
        let handles: Vec<_> = writers
            .iter_mut()
            .map(|conn| scope.spawn(|| write(conn, setup)))
            .collect();
        let writing = &writing;
        scope.spawn(move || read(reader, setup, writing));
        for handle in handles {
            handle.join().expect("a writer");
        }
        writing.store(false, Ordering::SeqCst);
    });
}

fn write(conn: &mut Connection, setup: &Setup) {
    for _ in 0..WRITES {
        setup.writes.fetch_add(1, Ordering::Relaxed);
        match conn.execute("INSERT INTO note (body) VALUES ('a note')", []) {
            Ok(_) => {}
            Err(err) if is_busy(&err) => {
                setup.writes_busy.fetch_add(1, Ordering::Relaxed);
            }
            Err(err) => panic!("a write failed: {err}"),
        }
    }
}

fn read(conn: &Connection, setup: &Setup, writing: &AtomicBool) {
    let mut latencies = Vec::new();
    while writing.load(Ordering::SeqCst) {
        setup.reads.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let read = conn.query_row("SELECT body FROM note WHERE id = 1", [], |row| {
            row.get::<_, String>(0)
        });
        match read {
            Ok(_) => latencies.push(started.elapsed()),
            Err(err) if is_busy(&err) => {
                setup.reads_busy.fetch_add(1, Ordering::Relaxed);
            }
            Err(err) => panic!("a read failed: {err}"),
        }
    }
    let mut all = setup.read_latencies.lock().expect("the latencies");
    all.extend(latencies);
}

/// The latency below which 99 % of the reads finished.
fn p99(setup: &Setup) -> Duration {
    let mut latencies = setup.read_latencies.lock().expect("the latencies").clone();
    latencies.sort();
    let index = (latencies.len() * 99).div_ceil(100).saturating_sub(1);
    latencies.get(index).copied().unwrap_or_default()
}

fn comparison(setups: &[Setup], means: &[f64]) -> Comparison {
    let share = |part: &AtomicUsize, whole: &AtomicUsize| {
        let (part, whole) = (part.load(Ordering::SeqCst), whole.load(Ordering::SeqCst));
        format!("{part} of {whole}")
    };
    let rows = setups
        .iter()
        .zip(means)
        .map(|(setup, nanos)| {
            let (writes, busy) = (
                setup.writes.load(Ordering::SeqCst),
                setup.writes_busy.load(Ordering::SeqCst),
            );
            let committed = 1.0 - busy as f64 / writes.max(1) as f64;
            let per_second = (setup.writers * WRITES) as f64 * committed / (nanos / 1e9);
            let wait = if setup.timeout {
                "5 s timeout"
            } else {
                "no timeout"
            };
            let writers = match setup.writers {
                1 => "1 writer".to_string(),
                many => format!("{many} writers"),
            };
            Row {
                label: format!("{}, {writers}, {wait}", setup.mode),
                value: per_second,
                cells: vec![
                    figure(per_second),
                    share(&setup.writes_busy, &setup.writes),
                    share(&setup.reads_busy, &setup.reads),
                    format!("{:.2} ms", p99(setup).as_secs_f64() * 1000.0),
                ],
            }
        })
        .collect();
    Comparison {
        id: "journal".into(),
        title: "Rows committed per second, by journal mode, writers and busy timeout".into(),
        measure: "rows committed per second (longer is faster)".into(),
        machine: measured::machine(),
        command: common::command("journal"),
        columns: vec![
            "rows committed per second".into(),
            "writes that hit SQLITE_BUSY".into(),
            "reads that hit SQLITE_BUSY".into(),
            "read p99".into(),
        ],
        rows,
    }
}
