//! Redraws every table and chart of the "Measured" appendix from
//! `book/src/measured/results.json`, without measuring anything: run it
//! after changing how they are drawn.
//!
//! ```console
//! cargo run -p workspace-tests --example redraw
//! ```

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let dir = measured::measured_dir();
    for comparison in measured::load(&dir)?.comparisons {
        measured::record(&dir, comparison)?;
    }
    Ok(())
}
