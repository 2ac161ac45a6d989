//! Redraws every table and chart of the "Measured" appendix from
//! `book/src/measured/results.json`, without measuring anything: run it
//! after changing how they are drawn.
//!
//! ```console
//! cargo run -p workspace-tests --example redraw
//! ```

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let dir = measured::measured_dir();
    let redrawn = measured::load(&dir).and_then(|results| {
        results.comparisons.into_iter().try_for_each(|comparison| {
            let id = comparison.id.clone();
            measured::record(&dir, comparison)?;
            // A closed stdout (`| head`) is no reason to stop redrawing.
            let _ = writeln!(std::io::stdout(), "redrew {id}");
            Ok(())
        })
    });
    match redrawn {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("redraw: {err}");
            ExitCode::FAILURE
        }
    }
}
