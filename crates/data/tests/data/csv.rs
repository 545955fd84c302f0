use trainscope_data::{
    CsvOptions, DataError, Features, LabelKind, LabelMap, Precision, Schema, Targets, Task,
};

use crate::{bundled, gzip, write};

#[test]
fn diabetes_is_442_by_10_regression() {
    let data = CsvOptions::regression("target")
        .load(bundled("diabetes.csv"))
        .unwrap();
    assert_eq!((data.n_rows(), data.n_features()), (442, 10));
    assert_eq!(data.task(), Task::Regression);
    assert_eq!(
        data.feature_names(),
        ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    );
    assert_eq!(data.label_map(), None);
    // First data line of the file: 59,2,32.1,101,157,93.2,38,4,4.8598,87,151
    assert_eq!(
        data.row(0),
        [59.0, 2.0, 32.1, 101.0, 157.0, 93.2, 38.0, 4.0, 4.8598, 87.0]
    );
    let y = data.targets().as_regression().unwrap();
    assert_eq!(y[0], 151.0);
    let (min, max) = y
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    assert_eq!((min, max), (25.0, 346.0));
}

#[test]
fn breast_cancer_has_212_malignant_and_357_benign() {
    let data = CsvOptions::classification("target")
        .load(bundled("breast_cancer.csv"))
        .unwrap();
    assert_eq!((data.n_rows(), data.n_features()), (569, 30));
    assert_eq!(data.num_classes(), Some(2));
    assert_eq!(data.label_map().unwrap().labels(), ["0", "1"]);
    assert_eq!(data.class_counts(), Some(vec![212, 357]));
}

#[test]
fn digits_has_10_classes_and_64_pixels() {
    let data = CsvOptions::classification("target")
        .load(bundled("digits.csv"))
        .unwrap();
    assert_eq!((data.n_rows(), data.n_features()), (1797, 64));
    let map = data.label_map().unwrap();
    assert_eq!(map.kind(), LabelKind::Numeric);
    assert_eq!(
        map.labels(),
        ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
    );
    let counts = data.class_counts().unwrap();
    assert_eq!(counts.iter().sum::<usize>(), 1797);
    assert!(counts.iter().all(|&c| c > 150), "{counts:?}");
    assert!(data.features().iter().all(|&v| (0.0..=16.0).contains(&v)));
}

#[test]
fn gzip_copies_load_identically_whatever_their_name() {
    let dir = tempfile::tempdir().unwrap();
    for (name, task) in [
        ("diabetes.csv", Task::Regression),
        ("breast_cancer.csv", Task::Classification),
        ("digits.csv", Task::Classification),
    ] {
        let options = CsvOptions::new("target", task);
        let plain = options.load(bundled(name)).unwrap();
        let bytes = std::fs::read(bundled(name)).unwrap();
        let compressed = gzip(&bytes);
        // Detection goes by content: a gzip file named .csv, and a plain file named .gz.
        let gz_named_csv = write(dir.path(), &format!("packed-{name}"), &compressed);
        let gz_named_gz = write(dir.path(), &format!("{name}.gz"), &compressed);
        let plain_named_gz = write(dir.path(), &format!("plain-{name}.gz"), &bytes);
        for path in [gz_named_csv, gz_named_gz, plain_named_gz] {
            assert_eq!(options.load(&path).unwrap(), plain, "{}", path.display());
        }
    }
}

#[test]
fn chosen_feature_columns_come_in_the_requested_order() {
    let data = CsvOptions::regression("target")
        .with_features(["bmi", "age"])
        .load(bundled("diabetes.csv"))
        .unwrap();
    assert_eq!(data.feature_names(), ["bmi", "age"]);
    assert_eq!(data.row(0), [32.1, 59.0]);
}

#[test]
fn string_labels_are_ordered_lexicographically() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "pets.csv",
        "w,animal\n1,dog\n2,cat\n3,zebra\n4,cat\n",
    );
    let data = CsvOptions::classification("animal").load(&path).unwrap();
    assert_eq!(data.label_map().unwrap().labels(), ["cat", "dog", "zebra"]);
    assert_eq!(data.targets(), &Targets::Classes(vec![1, 0, 2, 0]));
}

#[test]
fn integer_labels_are_ordered_numerically() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "n.csv", "x,y\n1,10\n2,9\n3,-1\n4,10\n");
    let data = CsvOptions::classification("y").load(&path).unwrap();
    assert_eq!(data.label_map().unwrap().labels(), ["-1", "9", "10"]);
    assert_eq!(data.targets(), &Targets::Classes(vec![2, 1, 0, 2]));
}

#[test]
fn label_map_survives_json_and_rejects_reordering() {
    let map = LabelMap::from_labels(["b", "a", "c"]);
    let json = serde_json::to_string(&map).unwrap();
    assert_eq!(json, r#"{"kind":"text","labels":["a","b","c"]}"#);
    assert_eq!(serde_json::from_str::<LabelMap>(&json).unwrap(), map);
    let shuffled = r#"{"kind":"text","labels":["b","a"]}"#;
    let err = serde_json::from_str::<LabelMap>(shuffled).unwrap_err();
    assert!(err.to_string().contains("strictly increasing"), "{err}");
    let not_numbers = r#"{"kind":"numeric","labels":["1","x"]}"#;
    assert!(serde_json::from_str::<LabelMap>(not_numbers).is_err());
}

#[test]
fn schema_reads_columns_by_name_and_reapplies_the_label_map() {
    let dir = tempfile::tempdir().unwrap();
    let train_path = write(
        dir.path(),
        "train.csv",
        "a,b,label\n1,2,yes\n3,4,no\n5,6,yes\n",
    );
    let train = CsvOptions::classification("label")
        .load(&train_path)
        .unwrap();
    let schema = train.schema();
    let schema: Schema = serde_json::from_str(&serde_json::to_string(&schema).unwrap()).unwrap();
    assert_eq!(schema.task(), Task::Classification);

    // Columns reordered, an extra column, only one of the labels.
    let val_path = write(dir.path(), "val.csv", "label,extra,b,a\nyes,0,20,10\n");
    let val = schema.load(&val_path).unwrap();
    assert_eq!(val.feature_names(), ["a", "b"]);
    assert_eq!(val.features(), [10.0, 20.0]);
    assert_eq!(val.targets(), &Targets::Classes(vec![1]));
    assert_eq!(val.label_map(), train.label_map());

    // Prediction input without the target column.
    let pred_path = write(dir.path(), "pred.csv", "b,a\n2,1\n\n4,3\n");
    let pred = schema.load_for_prediction(&pred_path).unwrap();
    assert_eq!(pred.features, [1.0, 2.0, 3.0, 4.0]);
    assert_eq!(pred.targets, None);
    assert_eq!(pred.lines, [2, 4]);

    // With the target column it is read too.
    let scored = schema.load_for_prediction(&val_path).unwrap();
    assert_eq!(scored.targets, Some(Targets::Classes(vec![1])));
}

// ---- bad input: every error names the file and, where it applies, line, column and value.

fn load_err(content: &str, options: &CsvOptions) -> (String, DataError) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "bad.csv", content);
    let err = options.load(&path).unwrap_err();
    (format!("{}", path.display()), err)
}

fn reg() -> CsvOptions {
    CsvOptions::regression("y")
}

#[test]
fn unreadable_file_names_the_path() {
    let err = reg().load("/no/such/dir/data.csv").unwrap_err();
    assert!(matches!(err, DataError::Io { .. }));
    assert!(
        err.to_string()
            .starts_with("cannot read /no/such/dir/data.csv: "),
        "{err}"
    );
}

#[test]
fn empty_file_and_header_only_file() {
    let (path, err) = load_err("", &reg());
    assert_eq!(err.to_string(), format!("{path}: file is empty"));
    let (path, err) = load_err("a,y\n", &reg());
    assert_eq!(
        err.to_string(),
        format!("{path}: no data rows after the header")
    );
    let (path, err) = load_err("a,y\n\n\n", &reg());
    assert_eq!(
        err.to_string(),
        format!("{path}: no data rows after the header")
    );
}

#[test]
fn ragged_row_reports_the_real_file_line() {
    // Line 4 is blank and lines 5-6 hold one record with a quoted line break, so the short
    // row is on file line 8 although it is the 5th data record.
    let content = "a,b,y\n1,2,3\n4,5,6\n\n7,\"8\n\",9\n1,2,3\n1,2\n";
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "bad.csv", content);
    let err = CsvOptions::regression("y")
        .with_features(["a"])
        .load(&path)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}:8: expected 3 fields, found 2", path.display())
    );
    let (path, err) = load_err("a,y\n1,2\n1,2,3\n", &reg());
    assert_eq!(
        err.to_string(),
        format!("{path}:3: expected 2 fields, found 3")
    );
}

#[test]
fn non_numeric_cell_names_line_column_header_and_value() {
    let (path, err) = load_err("age,bmi,y\n1,2,3\n4,n/a,6\n", &reg());
    assert_eq!(
        err.to_string(),
        format!("{path}:3:2: expected a number, found \"n/a\" (column \"bmi\")")
    );
    match err {
        DataError::NotANumber {
            line, col, column, ..
        } => assert_eq!((line, col, column.as_str()), (3, 2, "bmi")),
        other => panic!("wrong error {other:?}"),
    }
}

#[test]
fn empty_cell_is_not_a_number() {
    let (path, err) = load_err("a,b,y\n1,,3\n", &reg());
    assert_eq!(
        err.to_string(),
        format!("{path}:2:2: expected a number, found \"\" (column \"b\")")
    );
}

#[test]
fn non_finite_cells_are_rejected() {
    for bad in ["inf", "-inf", "NaN", "infinity", "1e999"] {
        let (path, err) = load_err(&format!("a,y\n1,2\n{bad},3\n"), &reg());
        assert_eq!(
            err.to_string(),
            format!("{path}:3:1: expected a finite number, found {bad:?} (column \"a\")")
        );
    }
}

#[test]
fn non_numeric_regression_target_is_reported() {
    let (path, err) = load_err("a,y\n1,2\n2,high\n", &reg());
    assert_eq!(
        err.to_string(),
        format!("{path}:3:2: expected a number, found \"high\" (column \"y\")")
    );
}

#[test]
fn unterminated_quote_names_the_line_it_opened_on_and_echoes_nothing() {
    // In the header: the rest of the file would become one column name.
    let rows: String = (0..1000).map(|i| format!("{i},{i}\n")).collect();
    let (path, err) = load_err(&format!("a,\"y\n{rows}"), &reg());
    let msg = err.to_string();
    assert_eq!(
        msg,
        format!(
            "{path}:1: unterminated quote: the quoted field that opens on this line never closes"
        )
    );
    // In a data row, after a closed quoted field with an escaped quote and a line break.
    let (path, err) = load_err("a,y\n\"1\"\"\n\",2\n3,\"4\n5,6\n", &reg());
    assert_eq!(
        err.to_string(),
        format!(
            "{path}:4: unterminated quote: the quoted field that opens on this line never closes"
        )
    );
    // With semicolons between fields, a quote after a semicolon opens a field too.
    let (path, err) = load_err("a;y\n1;2\n3;\"4\n5;6\n", &reg());
    assert_eq!(
        err.to_string(),
        format!(
            "{path}:3: unterminated quote: the quoted field that opens on this line never closes"
        )
    );
    // A quote inside an unquoted field is a plain character, not an opening quote.
    let (path, err) = load_err("a,y\n1\"x,2\n", &reg());
    assert_eq!(
        err.to_string(),
        format!("{path}:2:1: expected a number, found \"1\\\"x\" (column \"a\")")
    );
}

#[test]
fn echoed_values_are_escaped_and_cut() {
    let long = "z".repeat(500);
    let (path, err) = load_err(
        &format!("a,y\n1,2\n\"p\tq\r\u{1b}[31m\",3\n{long},4\n"),
        &reg(),
    );
    assert_eq!(
        err.to_string(),
        format!("{path}:3:1: expected a number, found \"p\\tq\\r\\u{{1b}}[31m\" (column \"a\")")
    );
    let (_, err) = load_err(&format!("a,y\n1,2\n{long},4\n"), &reg());
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("\"{}…\" (500 characters)", "z".repeat(60))),
        "{msg}"
    );
    assert!(msg.len() < 200, "{msg}");
    // A header of many long names lists the first ones, cut, and the count.
    let names: Vec<String> = (0..50).map(|i| format!("{i}{}", "c".repeat(100))).collect();
    let (_, err) = load_err(&format!("{}\n", names.join(",")), &reg());
    let msg = err.to_string();
    assert!(
        msg.contains("(101 characters)") && msg.contains("… (50 in all)"),
        "{msg}"
    );
    assert!(msg.len() < 3000, "{msg}");
}

#[test]
fn missing_target_lists_the_columns() {
    let (path, err) = load_err("a,b,c\n1,2,3\n", &reg());
    assert_eq!(
        err.to_string(),
        format!("{path}: no target column \"y\"; the columns are: a, b, c")
    );
}

#[test]
fn unknown_feature_lists_the_columns() {
    let options = reg().with_features(["a", "bmi"]);
    let (path, err) = load_err("a,b,y\n1,2,3\n", &options);
    assert_eq!(
        err.to_string(),
        format!("{path}: no feature column \"bmi\"; the columns are: a, b, y")
    );
}

#[test]
fn duplicate_header_names_both_columns() {
    let (path, err) = load_err("a,b,a,y\n1,2,3,4\n", &reg());
    assert_eq!(
        err.to_string(),
        format!("{path}:1: duplicate column name \"a\" (columns 1 and 3)")
    );
}

#[test]
fn bad_feature_selections() {
    let cases = [
        (reg().with_features(["a", "y"]), "is the target column"),
        (reg().with_features(["a", "a"]), "listed twice"),
        (reg().with_features(Vec::<String>::new()), "is empty"),
    ];
    for (options, expected) in cases {
        let (_, err) = load_err("a,y\n1,2\n", &options);
        assert!(err.to_string().contains(expected), "{err}");
    }
    let (path, err) = load_err("y\n1\n", &reg());
    assert_eq!(
        err.to_string(),
        format!("invalid feature selection: {path}: no feature columns besides the target")
    );
}

#[test]
fn empty_class_label_is_reported() {
    let (path, err) = load_err("a,y\n1,x\n2,\n", &CsvOptions::classification("y"));
    assert_eq!(
        err.to_string(),
        format!("{path}:3:2: empty class label (column \"y\")")
    );
}

#[test]
fn unseen_label_names_file_line_and_label() {
    let dir = tempfile::tempdir().unwrap();
    let train = write(dir.path(), "train.csv", "a,y\n1,0\n2,1\n");
    let schema = CsvOptions::classification("y")
        .load(&train)
        .unwrap()
        .schema();
    let test = write(dir.path(), "test.csv", "a,y\n1,1\n2,0\n3,7\n");
    let err = schema.load(&test).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:4: label \"7\" was not seen in training (known labels: 0, 1)",
            test.display()
        )
    );
    let err = schema.load_for_prediction(&test).unwrap_err();
    assert!(matches!(err, DataError::UnseenLabel { line: 4, .. }));
}

#[test]
fn prediction_file_missing_a_feature_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let train = write(dir.path(), "train.csv", "a,b,y\n1,2,3\n");
    let schema = reg().load(&train).unwrap().schema();
    let pred = write(dir.path(), "pred.csv", "a,y\n1,2\n");
    let err = schema.load_for_prediction(&pred).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: no feature column \"b\"; the columns are: a, y",
            pred.display()
        )
    );
    // A validation file must have the target.
    let no_target = write(dir.path(), "val.csv", "a,b\n1,2\n");
    assert!(matches!(
        schema.load(&no_target).unwrap_err(),
        DataError::MissingTarget { .. }
    ));
}

#[test]
fn invalid_utf8_names_line_and_field() {
    let (path, err) = load_err("a,y\n1,2\n3,\u{0}4\n", &reg());
    assert!(err.to_string().starts_with(&format!("{path}:3:")), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "latin1.csv", b"a,y\n1,2\n\xe9,4\n");
    let err = reg().load(&path).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}:3: field 1 is not valid UTF-8", path.display())
    );
}

#[test]
fn corrupt_gzip_is_an_io_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = gzip(b"a,y\n1,2\n3,4\n");
    bytes.truncate(bytes.len() / 2);
    let path = write(dir.path(), "cut.csv.gz", &bytes);
    let err = reg().load(&path).unwrap_err();
    assert!(matches!(err, DataError::Io { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(&format!("cannot read {}: ", path.display())),
        "{err}"
    );
}

#[test]
fn spaces_around_cells_and_crlf_line_ends_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "crlf.csv", "a , y\r\n 1 , 2 \r\n3,4\r\n");
    let data = reg().load(&path).unwrap();
    assert_eq!(data.features(), [1.0, 3.0]);
    assert_eq!(data.targets(), &Targets::Regression(vec![2.0, 4.0]));
}

/// The csv reader's own line numbers drift after blank lines and with CRLF line ends; errors
/// must still point at the real line.
#[test]
fn line_numbers_survive_blank_lines_crlf_cr_and_quoted_breaks() {
    let cases = [
        ("a,y\n1,2\nx,3\n", 3),
        ("a,y\n1,2\n\n\nx,3\n", 5),
        ("a,y\r\n1,2\r\nx,3\r\n", 3),
        ("a,y\r\n1,2\r\n\r\n\r\nx,3\r\n", 5),
        ("a,y\r1,2\rx,3\r", 3),
        ("\n\na,y\n1,2\nx,3\n", 5),
        ("a,y\n1,\"2\n\n\"\nx,3\n", 5),
        ("a,y\n1,2\n \nx,3\n", 3), // a line holding a space is a one-field record: ragged
    ];
    for (content, line) in cases {
        let (path, err) = load_err(content, &reg());
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("{path}:{line}:")),
            "{content:?}: {text}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "crlf.csv",
        "x,y\r\n\r\n1,2\r\n3,4\r\n\r\n5,6\r\n",
    );
    let schema = reg().load(&path).unwrap().schema();
    assert_eq!(schema.load_for_prediction(&path).unwrap().lines, [3, 4, 6]);
}

/// Arbitrary bytes drawn from the characters that matter to CSV must give a result or an
/// error, never a panic.
#[test]
fn random_garbage_never_panics() {
    use rand::{Rng, SeedableRng};
    let alphabet: &[u8] = b",,,\n\n\r\"y1.5-ex \xff\x1f\x8b";
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(99);
    let dir = tempfile::tempdir().unwrap();
    for i in 0..500 {
        let len = rng.random_range(0..60);
        let mut bytes: Vec<u8> = (0..len)
            .map(|_| alphabet[rng.random_range(0..alphabet.len())])
            .collect();
        if i % 2 == 0 {
            bytes.splice(0..0, b"x,y\n".iter().copied());
        }
        let path = write(dir.path(), "garbage.csv", &bytes);
        let _ = reg().load(&path);
        let _ = CsvOptions::classification("y").load(&path);
        if let Ok(data) = reg().load(&path) {
            let _ = data.schema().load_for_prediction(&path);
        }
    }
}

#[test]
fn a_file_longer_than_the_read_buffers_keeps_its_line_numbers() {
    // CRLF line ends, blank lines and quoted line breaks all along a file of a few hundred
    // kilobytes (read in pieces), with the bad cell on the last line.
    let mut text = String::from("a,b,y\r\n");
    let mut line = 1;
    for i in 0..20_000 {
        if i % 97 == 0 {
            text += "\r\n";
            line += 1;
        }
        if i % 389 == 0 {
            text += &format!("{i},\"{i}\r\n\",{i}\r\n");
            line += 2;
        } else {
            text += &format!("{i},{i}.5,{i}\r\n");
            line += 1;
        }
    }
    text += "1,oops,2\r\n";
    line += 1;
    let (path, err) = load_err(&text, &reg());
    assert_eq!(
        err.to_string(),
        format!("{path}:{line}:2: expected a number, found \"oops\" (column \"b\")")
    );
    // Gzip, and the f32 storage: the same rows, each value rounded once.
    let good = &text[..text.len() - "1,oops,2\r\n".len()];
    let dir = tempfile::tempdir().unwrap();
    let exact = reg().load(write(dir.path(), "a.csv", good)).unwrap();
    let single = reg()
        .with_precision(Precision::F32)
        .load(write(dir.path(), "a.csv.gz", gzip(good.as_bytes())))
        .unwrap();
    assert_eq!(exact.n_rows(), 20_000);
    let rounded: Vec<f32> = exact.features().iter().map(|&x| x as f32).collect();
    assert_eq!(single.feature_values(), &Features::F32(rounded));
    assert_eq!(single.targets(), exact.targets());
}
