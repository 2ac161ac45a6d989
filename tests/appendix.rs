//! The "Measured" appendix shows what the benchmarks measured and nothing
//! else: each of its tables and charts is exactly what `measured` draws from
//! the results file the benchmarks wrote, and every comparison in that file
//! is in the appendix, table and chart.

use std::fs;

use testkit::workspace_root;

const REDRAW: &str = "cargo run -p workspace-tests --example redraw";

#[test]
fn every_table_and_chart_is_drawn_from_the_results_file() {
    let dir = measured::measured_dir();
    let results = measured::load(&dir).expect("the results file reads");
    assert!(
        !results.comparisons.is_empty(),
        "book/src/measured/results.json holds no comparison"
    );
    for comparison in &results.comparisons {
        let id = &comparison.id;
        let drawn = [
            (format!("{id}.md"), measured::table(comparison)),
            (
                format!("{id}.svg"),
                measured::chart(comparison).expect("a chart"),
            ),
        ];
        for (file, expected) in drawn {
            let on_disk = fs::read_to_string(dir.join(&file))
                .unwrap_or_else(|err| panic!("book/src/measured/{file}: {err}"));
            assert!(
                on_disk == expected,
                "book/src/measured/{file} is not what results.json draws; \
                 redraw it with `{REDRAW}`, or measure again"
            );
        }
    }
}

#[test]
fn the_appendix_shows_every_comparison_and_only_those() {
    let appendix = fs::read_to_string(workspace_root().join("book/src/measured.md"))
        .expect("book/src/measured.md reads");
    let results = measured::load(&measured::measured_dir()).expect("the results file reads");
    let ids: Vec<&str> = results.comparisons.iter().map(|c| c.id.as_str()).collect();
    for id in &ids {
        for shown in [
            format!("{{{{#include measured/{id}.md}}}}"),
            format!("(measured/{id}.svg)"),
        ] {
            assert!(
                appendix.contains(&shown),
                "the appendix does not show `{shown}`, which results.json holds"
            );
        }
    }
    let images = appendix.split("](measured/").skip(1);
    let tables = appendix.split("{{#include measured/").skip(1);
    let shown = images.chain(tables);
    for piece in shown {
        let Some((id, _)) = piece.split_once('.') else {
            continue;
        };
        assert!(
            ids.contains(&id),
            "the appendix shows measured/{id}, which no benchmark recorded"
        );
    }
}
