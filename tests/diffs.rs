//! The diff is the lesson: each chapter from step 2 on shows the changes
//! from the previous step, generated here from the real sources and kept as
//! a snapshot. A change to a step that the book does not show yet fails this
//! test; `INSTA_UPDATE=always cargo test -p workspace-tests --test diffs`
//! (or `cargo insta review`) regenerates the diff, and the book follows.
//!
//! The diff covers `src/` and `templates/` (and `migrations/` and
//! `migrations-postgres/` where a step has them). It leaves out
//! `walkthrough.rs`, which is narration, and the `ANCHOR` comments, which
//! are the book's plumbing.

use std::fs;
use std::path::{Path, PathBuf};

use similar::{ChangeTag, TextDiff};
use testkit::workspace_root;

const STEPS: [&str; 7] = [
    "step01-raw-sqlite",
    "step02-connection-per-request",
    "step03-schema-init",
    "step04-orm",
    "step05-relationships",
    "step06-migrations",
    "step07-postgres",
];
const FOLDERS: [&str; 4] = ["src", "templates", "migrations", "migrations-postgres"];
const NARRATION: &str = "src/walkthrough.rs";

/// The lesson's files of a step, relative to the step's folder, sorted.
fn lesson_files(step: &str) -> Vec<String> {
    let root = workspace_root().join(step);
    let mut files = Vec::new();
    for folder in FOLDERS {
        collect(&root, &root.join(folder), &mut files);
    }
    files.retain(|file| file != NARRATION);
    files.sort();
    files
}

fn collect(root: &Path, folder: &Path, files: &mut Vec<String>) {
    let Ok(entries) = fs::read_dir(folder) else {
        return;
    };
    for entry in entries {
        let path: PathBuf = entry.expect("a readable folder").path();
        if path.is_dir() {
            collect(root, &path, files);
        } else {
            let relative = path.strip_prefix(root).expect("inside the step");
            files.push(relative.to_string_lossy().replace('\\', "/"));
        }
    }
}

/// A file's text without the book's `ANCHOR` lines.
fn lesson_text(step: &str, file: &str) -> String {
    let text = fs::read_to_string(workspace_root().join(step).join(file))
        .unwrap_or_else(|err| panic!("{step}/{file}: {err}"));
    text.lines()
        .filter(|line| !line.contains("ANCHOR: ") && !line.contains("ANCHOR_END: "))
        .map(|line| format!("{line}\n"))
        .collect()
}

/// What a file holds, in one line: the first sentence of its leading doc
/// comment (`//!`, `--` or `{# ... #}`).
fn summary(step: &str, file: &str) -> String {
    let text = lesson_text(step, file);
    let mut sentence = String::new();
    for line in text.lines() {
        let line = line.trim();
        let Some(words) = ["//! ", "-- ", "{# "]
            .iter()
            .find_map(|marker| line.strip_prefix(marker))
        else {
            break;
        };
        sentence.push_str(words.trim_end_matches(" #}"));
        if let Some(end) = sentence
            .find(". ")
            .or(sentence.ends_with('.').then(|| sentence.len() - 1))
        {
            sentence.truncate(end + 1);
            break;
        }
        sentence.push(' ');
    }
    match sentence.trim() {
        "" if file.ends_with(".html") => "a page template".to_owned(),
        words => words.to_owned(),
    }
}

/// The generated diff from `old` to `new`, with counts at the top.
fn step_diff(old: &str, new: &str) -> String {
    let (old_files, new_files) = (lesson_files(old), lesson_files(new));
    let shared: Vec<&String> = new_files.iter().filter(|f| old_files.contains(f)).collect();
    let added: Vec<&String> = new_files
        .iter()
        .filter(|f| !old_files.contains(f))
        .collect();
    let removed: Vec<&String> = old_files
        .iter()
        .filter(|f| !new_files.contains(f))
        .collect();

    let (mut plus, mut minus, mut hunks) = (0, 0, String::new());
    for file in &shared {
        let (before, after) = (lesson_text(old, file), lesson_text(new, file));
        let diff = TextDiff::from_lines(&before, &after);
        for change in diff.iter_all_changes() {
            match change.tag() {
                ChangeTag::Insert => plus += 1,
                ChangeTag::Delete => minus += 1,
                ChangeTag::Equal => {}
            }
        }
        let unified = diff
            .unified_diff()
            .context_radius(2)
            .header(&format!("{old}/{file}"), &format!("{new}/{file}"))
            .to_string();
        hunks.push_str(&unified);
    }
    let new_lines: usize = added
        .iter()
        .map(|f| lesson_text(new, f).lines().count())
        .sum();

    let mut text = format!(
        "# {old} -> {new}\n# shared files: +{plus} -{minus} lines; new files: {} with {new_lines} lines; removed files: {}\n",
        added.len(),
        removed.len()
    );
    for file in &added {
        text.push_str(&format!("# new:     {file}: {}\n", summary(new, file)));
    }
    for file in &removed {
        text.push_str(&format!("# removed: {file}: {}\n", summary(old, file)));
    }
    text.push_str(&hunks);
    text
}

#[test]
fn each_step_shows_its_diff_from_the_previous_one() {
    for pair in STEPS.windows(2) {
        let [old, new] = pair else { unreachable!() };
        let name = new.split('-').next().expect("stepNN-...");
        insta::assert_snapshot!(name, step_diff(old, new));
    }
}

/// The kit's public items, file by file: each one's signature under the
/// first line of its doc comment. The kit is no step, so it has no diff of
/// its own; this snapshot is how a change to what the steps can call shows
/// up in the book (chapter *The kit*) and in review.
fn kit_public_items() -> String {
    let root = workspace_root().join("stepkit");
    let mut files = Vec::new();
    collect(&root, &root.join("src"), &mut files);
    files.sort();
    let mut text = String::from("# stepkit: the public items of each file\n");
    for file in files {
        text.push_str(&format!("\n## {file}\n"));
        let source = lesson_text("stepkit", &file);
        let mut doc = String::new();
        let mut lines = source.lines().map(str::trim);
        while let Some(line) = lines.next() {
            if let Some(words) = line.strip_prefix("///") {
                doc.push_str(words);
                continue;
            }
            if line.starts_with("pub ") && !line.starts_with("pub mod ") {
                let mut signature = line.to_owned();
                while !signature.ends_with(['{', ';']) {
                    match lines.next() {
                        Some(more) => signature.push_str(&format!(" {more}")),
                        None => break,
                    }
                }
                if let Some(sentence) = first_sentence(&doc) {
                    text.push_str(&format!("/// {sentence}\n"));
                }
                text.push_str(signature.trim_end_matches(['{', ' ']));
                text.push('\n');
            }
            if !line.starts_with("#[") {
                doc.clear();
            }
        }
    }
    text
}

/// The first sentence of a doc comment's text, if it has one.
fn first_sentence(doc: &str) -> Option<String> {
    let doc = doc.split_whitespace().collect::<Vec<_>>().join(" ");
    let end = doc.find(". ").map_or(doc.len(), |at| at + 1);
    (!doc.is_empty()).then(|| doc[..end].to_owned())
}

#[test]
fn the_kit_shows_its_public_items() {
    insta::assert_snapshot!("stepkit", kit_public_items());
}
