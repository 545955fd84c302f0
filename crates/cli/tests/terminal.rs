//! What a user sees on a terminal: the binary runs under a pseudo-terminal (`script`, from
//! util-linux) of a given size, and a terminal emulator (vt100) renders its output, so the
//! test reads the screen as the user would, after every carriage return and line erase.

mod support;

use std::process::Command;

use support::root;

/// The screen after running `args` on a `cols`-column terminal, one string per line, trailing
/// blank lines dropped. The screen is tall enough that nothing scrolls away.
fn screen(args: &[&str], cols: u16) -> Vec<String> {
    let bin = env!("CARGO_BIN_EXE_trainscope");
    let quoted: Vec<String> = std::iter::once(bin)
        .chain(args.iter().copied())
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect();
    let rows: u16 = 1000;
    let inner = format!("stty cols {cols} rows {rows}; {}", quoted.join(" "));
    let out = Command::new("script")
        .args(["-qefc", &inner, "/dev/null"])
        .current_dir(root())
        .env("TERM", "xterm")
        .output()
        .expect("`script` (util-linux) runs");
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout)
    );
    let mut parser = vt100::Parser::new(rows, cols, 0);
    parser.process(&out.stdout);
    // Physical rows: a line that overflowed shows as two rows. (Rows that a program filled to
    // the last column, as the progress bar's drawing does, are not joined either.)
    let mut lines: Vec<String> = parser
        .screen()
        .rows(0, cols)
        .map(|l| l.trim_end().to_string())
        .collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

#[test]
fn cross_validation_shows_each_fold_once_on_a_terminal() {
    let lines = screen(&["cv", "examples/diabetes.toml", "--folds", "3"], 100);
    for fold in 1..=3 {
        let n = lines
            .iter()
            .filter(|l| l.contains(&format!("fold {fold}/3")))
            .count();
        assert_eq!(n, 1, "fold {fold} shown {n} times:\n{}", lines.join("\n"));
    }
    assert!(lines.iter().any(|l| l.starts_with("mean ")), "{lines:?}");
}

#[test]
fn epoch_lines_fit_an_80_column_terminal_and_a_long_run_is_thinned() {
    let out = tempfile::tempdir().unwrap();
    let lines = screen(
        &[
            "train",
            "examples/sinc.toml",
            "--out",
            out.path().to_str().unwrap(),
        ],
        80,
    );
    let epochs: Vec<&String> = lines.iter().filter(|l| l.starts_with("epoch ")).collect();
    // 1000 epochs on a terminal: a 1-2-5 step keeping it near 50 lines (every 20th here), the
    // first and the last always.
    assert!(
        (40..=60).contains(&epochs.len()),
        "{} epoch lines:\n{}",
        epochs.len(),
        lines.join("\n")
    );
    assert!(epochs[0].starts_with("epoch    1/1000"), "{}", epochs[0]);
    assert!(epochs.last().unwrap().starts_with("epoch 1000/1000"));
    // Nothing overflowed: the row after an epoch line is the next epoch line or the result,
    // never the tail of a line that did not fit.
    for (i, l) in lines.iter().enumerate() {
        if l.starts_with("epoch ") {
            let next = &lines[i + 1];
            assert!(
                next.starts_with("epoch ") || next.starts_with("trained "),
                "a line wider than the terminal: {l:?} then {next:?}"
            );
            assert!(l.contains("val_loss"), "{l}");
        }
    }
    assert!(lines.iter().any(|l| l.starts_with("trained 1000 epochs")));
}
