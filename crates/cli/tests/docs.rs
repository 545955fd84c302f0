//! The documentation, run: every command example of README.md and examples/README.md, and
//! every command synopsis checked against the program's `--help`.
//!
//! A ```` ```console ```` block holds commands (`$ …`, run by `sh` in a scratch directory where
//! `examples/` is the repository's and `trainscope` is the binary under test; each file's
//! commands run in order in one directory) each followed by its expected standard output.
//! A line `> …` right after a command continues it. In an expected line `…` stands for any text, and a line that is only `…` for any number of
//! lines. Times are redacted on both sides: a number followed by `s` or `ms`, and the columns
//! named by `time-columns=I,J` on the block's opening line (0-based, whitespace-separated).
//! A command is expected to succeed unless the block's opening line says `fails`.
//!
//! A changed output fails this test until the documentation shows it.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use regex::Regex;
use support::root;

struct Example {
    doc: &'static str,
    line: usize,
    command: String,
    expected: Vec<String>,
    time_columns: Vec<usize>,
    fails: bool,
}

/// The console examples of a Markdown file, in order.
fn examples(doc: &'static str) -> Vec<Example> {
    let text = std::fs::read_to_string(root().join(doc)).unwrap();
    let mut out: Vec<Example> = Vec::new();
    // Inside a fence: `Some(None)` for a block of another kind, `Some(Some(options))` for a
    // console block.
    let mut block: Option<Option<(Vec<usize>, bool)>> = None;
    // The indentation of the open fence, removed from the lines inside (a block in a list item).
    let mut indent = 0;
    for (i, line) in text.lines().enumerate() {
        let line = if block.is_some() {
            line.get(indent..)
                .filter(|_| line[..indent].trim().is_empty())
                .unwrap_or(line)
        } else {
            line
        };
        let fence = line.trim_start();
        if let Some(info) = fence.strip_prefix("```") {
            if block.is_none() {
                indent = line.len() - fence.len();
            }
            if block.is_some() {
                block = None;
                continue;
            }
            let mut words = info.split_whitespace();
            if words.next() != Some("console") {
                block = Some(None);
                continue;
            }
            let mut time_columns = Vec::new();
            let mut fails = false;
            for w in words {
                if let Some(cols) = w.strip_prefix("time-columns=") {
                    time_columns = cols.split(',').map(|c| c.parse().unwrap()).collect();
                } else if w == "fails" {
                    fails = true;
                } else {
                    panic!("{doc}:{}: unknown block option {w:?}", i + 1);
                }
            }
            block = Some(Some((time_columns, fails)));
            continue;
        }
        let Some(Some((cols, fails))) = &block else {
            continue;
        };
        if let Some(more) = line.strip_prefix("> ") {
            // A continuation of the command above (a shell loop, say).
            let last = out
                .last_mut()
                .filter(|e| e.expected.is_empty())
                .unwrap_or_else(|| panic!("{doc}:{}: `> ` not after a command", i + 1));
            last.command.push('\n');
            last.command.push_str(more);
        } else if let Some(cmd) = line.strip_prefix("$ ") {
            out.push(Example {
                doc,
                line: i + 1,
                command: cmd.to_string(),
                expected: Vec::new(),
                time_columns: cols.clone(),
                fails: *fails,
            });
        } else {
            let last = out
                .last_mut()
                .unwrap_or_else(|| panic!("{doc}:{}: output before a `$ ` command", i + 1));
            last.expected.push(line.to_string());
        }
    }
    out
}

/// Times redacted, trailing blanks dropped.
fn normalize(text: &str, time_columns: &[usize], scratch: &Path) -> Vec<String> {
    let time = Regex::new(r"\b\d+(?:\.\d+)?(?:e-?\d+)? ?(?:ms|s)\b").unwrap();
    let scratch = scratch.display().to_string();
    text.lines()
        .map(|line| {
            let line = line.replace(&scratch, ".");
            let mut line = time.replace_all(&line, "<time>").trim_end().to_string();
            if !time_columns.is_empty() {
                let words: Vec<&str> = line.split_whitespace().collect();
                let numeric = |w: &str| w.parse::<f64>().is_ok();
                if time_columns
                    .iter()
                    .all(|&c| words.get(c).is_some_and(|w| numeric(w)))
                {
                    line = words
                        .iter()
                        .enumerate()
                        .map(|(i, w)| {
                            if time_columns.contains(&i) {
                                "<time>"
                            } else {
                                w
                            }
                        })
                        .collect::<Vec<_>>()
                        .join(" ");
                } else {
                    line = words.join(" ");
                }
            }
            line
        })
        .collect()
}

/// Does `actual` match the pattern line `expected` (`…` = any text)?
fn line_matches(expected: &str, actual: &str) -> bool {
    let parts: Vec<&str> = expected.split('…').collect();
    if parts.len() == 1 {
        return expected == actual;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !actual.starts_with(first) || actual.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &actual[first.len()..];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// Does the output match the expected lines (a line `…` = any lines)?
fn matches(expected: &[String], actual: &[String]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((e, rest)) if e == "…" => (0..=actual.len()).any(|k| matches(rest, &actual[k..])),
        Some((e, rest)) => actual
            .split_first()
            .is_some_and(|(a, more)| line_matches(e, a) && matches(rest, more)),
    }
}

fn scratch_for(doc: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix(&format!("docs-{}-", doc.replace('/', "-")))
        .tempdir()
        .unwrap();
    let path = dir.path().to_path_buf();
    std::os::unix::fs::symlink(root().join("examples"), path.join("examples")).unwrap();
    (dir, path)
}

fn run_examples(doc: &'static str) {
    let examples = examples(doc);
    assert!(!examples.is_empty(), "{doc} has no console examples");
    let (_keep, scratch) = scratch_for(doc);
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_trainscope"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut failures = Vec::new();
    for ex in &examples {
        let out = Command::new("sh")
            .arg("-c")
            .arg(&ex.command)
            .current_dir(&scratch)
            .env("PATH", &path)
            .env("COLUMNS", "100")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() == ex.fails {
            failures.push(format!(
                "{}:{}: `{}` exited with {:?}\nstderr:\n{stderr}",
                ex.doc,
                ex.line,
                ex.command,
                out.status.code()
            ));
            continue;
        }
        let actual = normalize(&stdout, &ex.time_columns, &scratch);
        let expected = normalize(&ex.expected.join("\n"), &ex.time_columns, &scratch);
        if !matches(&expected, &actual) {
            failures.push(format!(
                "{}:{}: the output of `{}` is not what the documentation shows\n--- documented\n{}\n--- printed now\n{}\n---",
                ex.doc,
                ex.line,
                ex.command,
                ex.expected.join("\n"),
                stdout.trim_end()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} examples differ:\n\n{}",
        failures.len(),
        examples.len(),
        failures.join("\n\n")
    );
}

#[test]
fn readme_examples_print_what_they_show() {
    run_examples("README.md");
}

#[test]
fn examples_readme_examples_print_what_they_show() {
    run_examples("examples/README.md");
}

/// The long flags of `text` (`--name`), in order of first appearance.
fn flags(text: &str) -> Vec<String> {
    let re = Regex::new(r"--[a-z][a-z0-9-]*").unwrap();
    let mut out: Vec<String> = Vec::new();
    for m in re.find_iter(text) {
        if !out.iter().any(|f| f == m.as_str()) {
            out.push(m.as_str().to_string());
        }
    }
    out
}

/// Each `trainscope SUBCOMMAND …` synopsis line of README.md names exactly the flags the
/// subcommand's `--help` lists.
#[test]
fn readme_synopses_name_every_flag_of_the_help() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut synopses: Vec<(String, Vec<String>)> = Vec::new();
    let mut last: Option<String> = None;
    for line in readme.lines() {
        // A synopsis may go on over indented lines.
        let (sub, rest) = match (line.strip_prefix("trainscope "), &last) {
            (Some(rest), _) => (rest.split_whitespace().next().unwrap().to_string(), rest),
            (None, Some(sub)) if line.starts_with("    ") && line.trim_start().starts_with('[') => {
                (sub.clone(), line)
            }
            _ => {
                last = None;
                continue;
            }
        };
        last = Some(sub.clone());
        let f = flags(rest);
        match synopses.iter_mut().find(|(s, _)| *s == sub) {
            Some((_, all)) => all.extend(f),
            None => synopses.push((sub, f)),
        }
    }
    let help = support::ok(&support::trainscope(&["--help"]));
    let commands: Vec<String> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect();
    assert!(commands.len() >= 10, "{help}");
    let mut problems = Vec::new();
    for c in &commands {
        let Some((_, documented)) = synopses.iter().find(|(s, _)| s == c) else {
            problems.push(format!(
                "`trainscope {c}` has no synopsis line in README.md"
            ));
            continue;
        };
        let help = support::ok(&support::trainscope(&[c, "--help"]));
        let actual: Vec<String> = flags(&help)
            .into_iter()
            .filter(|f| f != "--help" && f != "--version")
            .collect();
        for f in &actual {
            // A flag named only inside another flag's help text (`… with --mode iterative`) is
            // still a flag of this command; every flag has its own line in the help.
            if !documented.contains(f) {
                problems.push(format!("README.md's synopsis of `{c}` lacks {f}"));
            }
        }
        for f in documented {
            if !actual.contains(f) {
                problems.push(format!(
                    "`trainscope {c}` has no flag {f}, README.md shows it"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Each flag of each subcommand's `--help` states its default at most once, and a small one
/// as `1e-6`, not `0.000001`.
#[test]
fn help_states_each_default_once() {
    let help = support::ok(&support::trainscope(&["--help"]));
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    let mut problems = Vec::new();
    for c in commands {
        let text = support::ok(&support::trainscope(&[c, "--help"]));
        // One entry per flag: from a line that starts with `-` to the next such line.
        let mut entries: Vec<String> = Vec::new();
        for line in text.lines() {
            let t = line.trim_start();
            if t.starts_with('-') && line.starts_with("  ") {
                entries.push(t.to_string());
            } else if let Some(e) = entries.last_mut() {
                e.push(' ');
                e.push_str(t);
            }
        }
        for e in entries {
            let n = e.matches("[default:").count() + e.to_lowercase().matches("(default").count();
            if n > 1 {
                problems.push(format!("`{c} --help` states a default twice: {e}"));
            }
            if e.contains("[default: 0.0000") {
                problems.push(format!("`{c} --help` spells a small default out: {e}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_matcher_elides_text_and_lines() {
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert!(line_matches("loss … in …", "loss 0.1 in 3 epochs"));
    assert!(!line_matches("loss … in …", "gain 0.1 in 3 epochs"));
    assert!(line_matches("a…", "a"));
    assert!(!line_matches("a…b", "ab c"));
    assert!(matches(&v(&["x", "…", "z"]), &v(&["x", "1", "2", "z"])));
    assert!(matches(&v(&["x", "…", "z"]), &v(&["x", "z"])));
    assert!(!matches(&v(&["x", "z"]), &v(&["x", "y", "z"])));
    let t = normalize("trained in 0.3 s, 12ms", &[], Path::new("/nowhere"));
    assert_eq!(t, v(&["trained in <time>, <time>"]));
    let t = normalize(
        "    8   50   0.0364   0.00109   0.01361",
        &[3, 4],
        Path::new("/x"),
    );
    assert_eq!(t, v(&["8 50 0.0364 <time> <time>"]));
}

/// Three significant digits, as the result table shows numbers.
fn sig3(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let digits = (2 - x.abs().log10().floor() as i32).max(0) as usize;
    format!("{x:.digits$}")
}

fn percent(x: f64) -> String {
    format!("{:.1} %", 100.0 * x)
}

/// One row of examples/README.md's result table: what training `config` gives, from the run's
/// resolved `config.toml` and `train --json`.
fn result_row(name: &str, json: &serde_json::Value, config: &toml::Table) -> (String, f64) {
    let get = |path: &str| -> Option<&toml::Value> {
        let mut v: Option<&toml::Value> = None;
        for (i, k) in path.split('.').enumerate() {
            v = if i == 0 { config.get(k) } else { v?.get(k) };
        }
        v
    };
    let model: Vec<String> = json["model"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["layer"].as_str().unwrap().to_string())
        .collect();
    let params = json["parameters"].as_u64().unwrap().to_string();
    // Thousands separated by commas.
    let grouped: Vec<String> = params
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    let model = format!("{} ({} parameters)", model.join(" · "), grouped.join(","));
    let mut training = vec![format!("{} loss", json["loss"].as_str().unwrap())];
    let opt = get("optimizer.kind").and_then(|v| v.as_str()).unwrap();
    let lr = get("optimizer.lr").and_then(|v| v.as_float()).unwrap();
    let mut o = format!("{opt} (lr {lr}");
    if let Some(wd) = get("optimizer.weight_decay")
        .and_then(|v| v.as_float())
        .filter(|w| *w > 0.0)
    {
        o += &format!(", weight decay {wd}");
    }
    o += ")";
    training.push(o);
    if let Some(kind) = get("schedule.kind").and_then(|v| v.as_str()) {
        training.push(format!("{kind} schedule"));
    }
    let batch = match get("training.batch_size").unwrap() {
        toml::Value::Integer(n) => format!("batches of {n}"),
        v => format!("batch {}", v.as_str().unwrap_or("?")),
    };
    training.push(batch);
    training.push(format!(
        "{} epochs",
        get("training.epochs").and_then(|v| v.as_integer()).unwrap()
    ));
    if let Some(p) = get("training.early_stopping_patience").and_then(|v| v.as_integer()) {
        training.push(format!("early stopping (patience {p})"));
    }
    if let Some(f) = get("data.validation_fraction").and_then(|v| v.as_float()) {
        let stratified = get("data.stratify").and_then(|v| v.as_bool()) == Some(true);
        training.push(format!(
            "{}{} % validation",
            if stratified { "stratified " } else { "" },
            f * 100.0
        ));
    }
    let num = |k: &str| json[k].as_f64();
    let loss = json["loss"].as_str().unwrap().to_uppercase();
    let classification = num("val_accuracy").is_some() || num("test_accuracy").is_some();
    let baseline = match (classification, num("baseline_val_loss")) {
        (true, Some(l)) => format!(
            "val accuracy {}, loss {}",
            percent(num("baseline_val_accuracy").unwrap()),
            sig3(l)
        ),
        (false, Some(l)) => format!("val {loss} {}", sig3(l)),
        // Without validation rows: the trivial model on the training rows.
        (_, None) => format!("train loss {}", sig3(num("baseline_train_loss").unwrap())),
    };
    let mut result = match (classification, num("val_loss")) {
        (true, Some(l)) => format!(
            "val accuracy {}, loss {}",
            percent(num("val_accuracy").unwrap()),
            sig3(l)
        ),
        (false, Some(l)) => format!(
            "val {loss} {} (train {})",
            sig3(l),
            sig3(num("train_loss").unwrap())
        ),
        (_, None) => format!("train loss {}", sig3(num("train_loss").unwrap())),
    };
    if let Some(t) = num("test_accuracy") {
        result = format!("test accuracy {}; {result}", percent(t));
    }
    if json["stopped_early"].as_bool() == Some(true) {
        result += &format!(
            "; stopped at epoch {}, best {}",
            json["epochs"].as_u64().unwrap(),
            json["best_epoch"].as_u64().unwrap()
        );
    }
    let seconds = num("seconds").unwrap();
    (
        format!(
            "| [`{name}.toml`]({name}.toml) | {model} | {} | {baseline} | {result} |",
            training.join(", ")
        ),
        seconds,
    )
}

const TABLE_BEGIN: &str = "<!-- results: written by scripts/update-docs.sh; do not edit -->";
const TABLE_END: &str = "<!-- end of results -->";

/// The result table of examples/README.md is what training each bundled configuration gives
/// now (all but the time column). `scripts/update-docs.sh` rewrites it, times included.
#[test]
fn examples_readme_result_table_is_what_the_examples_give() {
    let fashion = Path::new("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz");
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(
        fashion.exists() || !ci,
        "Fashion-MNIST is missing (apt-get install dataset-fashion-mnist); CI must check its row"
    );
    let mut names: Vec<String> = std::fs::read_dir(root().join("examples"))
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            (p.extension()? == "toml").then(|| p.file_stem()?.to_str().map(str::to_string))?
        })
        .filter(|n| n != "playground")
        // Half an hour of training: checked by cli.rs's ignored
        // example_fashion_mnist_cnn_reaches_91_percent_on_the_test_set instead.
        .filter(|n| n != "fashion_mnist_cnn")
        .filter(|n| n != "fashion_mnist" || fashion.exists())
        .collect();
    names.sort();
    let scratch = tempfile::tempdir().unwrap();
    let mut rows = Vec::new();
    for name in &names {
        let out_dir = scratch.path().join(name);
        let o = support::trainscope(&[
            "train",
            &format!("examples/{name}.toml"),
            "--json",
            "--quiet",
            "--out",
            out_dir.to_str().unwrap(),
        ]);
        let json = support::ok_json(&o);
        let config: toml::Table =
            toml::from_str(&std::fs::read_to_string(out_dir.join("config.toml")).unwrap()).unwrap();
        rows.push(result_row(name, &json, &config));
    }
    let path = root().join("examples/README.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let (Some(b), Some(e)) = (text.find(TABLE_BEGIN), text.find(TABLE_END)) else {
        panic!("examples/README.md has no result table between {TABLE_BEGIN} and {TABLE_END}");
    };
    let header = "| configuration | model | training | baseline (trivial model) | result | time |\n|---|---|---|---|---|---|\n";
    let table: String = rows
        .iter()
        .map(|(row, s)| format!("{row} {} s |\n", sig3(*s)))
        .collect();
    let current = &text[b + TABLE_BEGIN.len()..e];
    if std::env::var("TRAINSCOPE_UPDATE_DOCS").is_ok_and(|v| v == "1") {
        let new = format!("{}{TABLE_BEGIN}\n{header}{table}{}", &text[..b], &text[e..]);
        std::fs::write(&path, new).unwrap();
        return;
    }
    // Compare all but the time column.
    let untimed = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| l.starts_with("| ["))
            .map(|l| {
                l.trim_end_matches('|')
                    .rsplit_once('|')
                    .unwrap()
                    .0
                    .to_string()
            })
            .collect()
    };
    let want: Vec<String> = rows
        .iter()
        .map(|(r, _)| r.trim_end_matches('|').to_string())
        .collect();
    let mut documented = untimed(current);
    if !fashion.exists() {
        documented.retain(|l| !l.contains("fashion_mnist"));
    }
    assert_eq!(
        documented,
        want,
        "examples/README.md's result table is not what the examples give now; run scripts/update-docs.sh"
    );
}
