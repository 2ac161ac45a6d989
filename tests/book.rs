//! The book never lies: every `{{#include}}` names a file that exists and an
//! anchor that file defines, a snapshot is included without insta's header,
//! and every link between chapters lands on a chapter (and heading) that
//! exists. `mdbook build` alone would only log these and carry on.

use std::fs;
use std::path::{Path, PathBuf};

use testkit::workspace_root;

/// One `{{#include path:selector}}` found in a chapter.
#[derive(Debug)]
struct Include {
    chapter: PathBuf,
    target: PathBuf,
    selector: Option<String>,
}

fn book_src() -> PathBuf {
    workspace_root().join("book/src")
}

fn chapters() -> Vec<PathBuf> {
    let mut chapters: Vec<PathBuf> = fs::read_dir(book_src())
        .expect("book/src exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    chapters.sort();
    chapters
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn includes() -> Vec<Include> {
    let mut found = Vec::new();
    for chapter in chapters() {
        let text = read(&chapter);
        for piece in text.split("{{#include ").skip(1) {
            let argument = piece.split("}}").next().expect("split yields one piece");
            let (file, selector) = match argument.split_once(':') {
                Some((file, selector)) => (file, Some(selector.to_owned())),
                None => (argument, None),
            };
            let target = chapter.parent().expect("in book/src").join(file.trim());
            found.push(Include {
                chapter: chapter.clone(),
                target,
                selector,
            });
        }
    }
    found
}

/// The 1-based line where a snapshot's text starts, after insta's `---` header.
fn snapshot_body_start(snapshot: &str) -> usize {
    let header_end = snapshot
        .lines()
        .enumerate()
        .filter(|(_, line)| *line == "---")
        .nth(1)
        .map(|(index, _)| index)
        .expect("a snapshot starts with a --- header");
    header_end + 2
}

#[test]
fn every_include_names_a_file_and_anchor_that_exist() {
    let includes = includes();
    assert!(!includes.is_empty(), "the book includes nothing");
    for include in includes {
        let where_ = format!(
            "{} includes {}",
            include.chapter.display(),
            include.target.display()
        );
        assert!(include.target.is_file(), "{where_}: no such file");
        let text = read(&include.target);
        let Some(selector) = include.selector else {
            continue;
        };
        let first = selector.split(':').next().unwrap_or_default();
        if let Ok(line) = first.parse::<usize>() {
            assert!(
                line <= text.lines().count(),
                "{where_}: it has no line {line}"
            );
        } else {
            for marker in [
                format!("ANCHOR: {selector}"),
                format!("ANCHOR_END: {selector}"),
            ] {
                let present = text.lines().any(|line| line.trim_end().ends_with(&marker));
                assert!(present, "{where_}: no `{marker}` line");
            }
        }
    }
}

#[test]
fn snapshots_are_included_from_their_first_line_of_output() {
    for include in includes()
        .iter()
        .filter(|i| i.target.extension().is_some_and(|e| e == "snap"))
    {
        let expected = format!("{}:", snapshot_body_start(&read(&include.target)));
        assert_eq!(
            include.selector.as_deref(),
            Some(expected.as_str()),
            "{} must include {} as `:{expected}` (its output without insta's header)",
            include.chapter.display(),
            include.target.display()
        );
    }
}

/// mdBook's id for a heading: lower case, spaces to dashes, punctuation dropped.
fn heading_id(heading: &str) -> String {
    heading
        .trim()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '_' || c == '-' => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

/// The lines of a chapter outside fenced code blocks.
fn prose_lines(text: &str) -> Vec<&str> {
    let mut in_code = false;
    let mut lines = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        } else if !in_code {
            lines.push(line);
        }
    }
    lines
}

fn heading_ids(chapter: &Path) -> Vec<String> {
    prose_lines(&read(chapter))
        .into_iter()
        .filter_map(|line| line.strip_prefix('#'))
        .map(|heading| heading_id(heading.trim_start_matches('#')))
        .collect()
}

/// Every `](target)` in a chapter's prose that points inside the book.
fn local_links(text: &str) -> Vec<String> {
    let mut links = Vec::new();
    for line in prose_lines(text) {
        for piece in line.split("](").skip(1) {
            let target = piece.split(')').next().unwrap_or_default();
            if !target.contains("://") && !target.starts_with("mailto:") {
                links.push(target.to_owned());
            }
        }
    }
    links
}

#[test]
fn every_link_between_chapters_resolves() {
    for chapter in chapters() {
        for link in local_links(&read(&chapter)) {
            let (file, fragment) = link.split_once('#').unwrap_or((&link, ""));
            let target = if file.is_empty() {
                chapter.clone()
            } else {
                chapter.parent().expect("in book/src").join(file)
            };
            let where_ = format!("{} links to `{link}`", chapter.display());
            assert!(target.is_file(), "{where_}: no such chapter");
            if !fragment.is_empty() {
                assert!(
                    heading_ids(&target).iter().any(|id| id == fragment),
                    "{where_}: no such heading"
                );
            }
        }
    }
}

#[test]
fn every_chapter_is_listed_in_the_summary() {
    let summary = read(&book_src().join("SUMMARY.md"));
    let listed = local_links(&summary);
    for chapter in chapters() {
        let name = chapter
            .file_name()
            .expect("a file")
            .to_string_lossy()
            .into_owned();
        if name != "SUMMARY.md" {
            assert!(
                listed.contains(&name),
                "{name} is not in SUMMARY.md, so mdBook would skip it"
            );
        }
    }
}

/// The files whose `ANCHOR` comments the book may include: every step's
/// sources and the workspace manifest.
fn anchored_files() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut files = vec![root.join("Cargo.toml")];
    let mut folders: Vec<PathBuf> = fs::read_dir(root)
        .expect("the workspace root reads")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| {
            path.file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with("step"))
        })
        .collect();
    while let Some(folder) = folders.pop() {
        for entry in fs::read_dir(&folder).expect("a step folder reads") {
            let path = entry.expect("readable entry").path();
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if path.is_dir() && name != "snapshots" && name != "target" {
                folders.push(path);
            } else if path.is_file() {
                files.push(path);
            }
        }
    }
    files
}

#[test]
fn every_anchor_is_included_by_some_chapter() {
    let included: Vec<(PathBuf, String)> = includes()
        .into_iter()
        .filter_map(|include| {
            let target = fs::canonicalize(&include.target).ok()?;
            Some((target, include.selector?))
        })
        .collect();
    for file in anchored_files() {
        let Ok(text) = fs::read_to_string(&file) else {
            continue;
        };
        let file = fs::canonicalize(&file).expect("the file exists");
        for line in text.lines() {
            let Some((_, anchor)) = line.split_once("ANCHOR: ") else {
                continue;
            };
            let anchor = anchor.trim();
            assert!(
                included
                    .iter()
                    .any(|(target, selector)| *target == file && selector == anchor),
                "{}: no chapter includes the anchor `{anchor}`; include it or remove it",
                file.display()
            );
        }
    }
}

#[test]
fn every_listing_names_the_file_it_comes_from() {
    for chapter in chapters() {
        let text = read(&chapter);
        let lines: Vec<&str> = text.lines().collect();
        for (index, line) in lines.iter().enumerate() {
            let Some(rest) = line.strip_prefix("{{#include ../../") else {
                continue;
            };
            let path = rest.split([':', '}']).next().unwrap_or_default();
            if path.contains("/snapshots/") || index < 2 || !lines[index - 1].starts_with("```") {
                continue;
            }
            let caption = lines[..index - 1]
                .iter()
                .rev()
                .find(|line| !line.trim().is_empty())
                .copied()
                .unwrap_or_default();
            assert!(
                caption.contains(path),
                "{}: the listing of {path} has no caption naming it (found {caption:?})",
                chapter.display()
            );
        }
    }
}

/// Every `compile_fail` doc test in the steps names the error it expects
/// (`compile_fail,E0425`), and is followed by a passing twin: the same code
/// spelled right, which must build. Stable rustdoc does not check the code
/// itself, so the twin is what shows that the example fails for the reason
/// it names and no other.
#[test]
fn every_compile_fail_names_its_error_and_has_a_passing_twin() {
    let mut found = 0;
    for entry in fs::read_dir(workspace_root()).expect("the workspace") {
        let src = entry.expect("an entry").path().join("src");
        let Ok(files) = fs::read_dir(&src) else {
            continue;
        };
        for file in files {
            let path = file.expect("a file").path();
            if path.extension().is_none_or(|ext| ext != "rs") {
                continue;
            }
            let text = read(&path);
            let lines: Vec<&str> = text.lines().map(str::trim).collect();
            for (at, line) in lines.iter().enumerate() {
                let Some(flags) = line.strip_prefix("/// ```compile_fail") else {
                    continue;
                };
                found += 1;
                let where_ = format!("{}:{}", path.display(), at + 1);
                let code = flags.strip_prefix(",E").unwrap_or_default();
                assert!(
                    code.len() == 4 && code.chars().all(|c| c.is_ascii_digit()),
                    "{where_}: a compile_fail must name its error code, as compile_fail,E0425"
                );
                let fences: Vec<usize> = (at + 1..lines.len())
                    .filter(|&n| lines[n].starts_with("/// ```"))
                    .take(2)
                    .collect();
                let twin = fences.get(1).map(|&n| lines[n]);
                assert_eq!(
                    twin,
                    Some("/// ```"),
                    "{where_}: a compile_fail needs a passing twin right after it"
                );
            }
        }
    }
    assert!(found > 0, "no compile_fail doc test found");
}
