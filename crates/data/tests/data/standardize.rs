use trainscope_data::{CsvOptions, DataError, Dataset, Standardizer, Targets};

use crate::bundled;

fn column_stats(values: &[f64], d: usize, j: usize) -> (f64, f64) {
    let col: Vec<f64> = values.chunks_exact(d).map(|r| r[j]).collect();
    let n = col.len() as f64;
    let mean = col.iter().sum::<f64>() / n;
    let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

#[test]
fn statistics_come_from_the_training_rows_only() {
    let data = CsvOptions::regression("target")
        .load(bundled("diabetes.csv"))
        .unwrap();
    let (mut train, mut validation) = data.split_validation(0.25, 3, false).unwrap();
    let s = Standardizer::fit_features(&train).unwrap();
    let d = train.n_features();
    for j in 0..d {
        let (mean, std) = column_stats(train.features(), d, j);
        assert!((s.mean()[j] - mean).abs() <= 1e-12 * mean.abs().max(1.0));
        assert!((s.std()[j] - std).abs() <= 1e-12 * std);
        // The full data's statistics differ: fitting on them would leak validation rows.
        let (full_mean, _) = column_stats(data.features(), d, j);
        assert_ne!(s.mean()[j], full_mean);
    }

    let raw_validation = validation.clone();
    s.transform_features(&mut train).unwrap();
    s.transform_features(&mut validation).unwrap();
    for j in 0..d {
        let (mean, std) = column_stats(train.features(), d, j);
        assert!(mean.abs() < 1e-12, "feature {j}: mean {mean}");
        assert!((std - 1.0).abs() < 1e-12, "feature {j}: std {std}");
    }
    // Validation rows use the training μ and σ.
    for (i, row) in validation.features().chunks_exact(d).enumerate() {
        for (j, &value) in row.iter().enumerate() {
            let expected = (raw_validation.row(i)[j] - s.mean()[j]) / s.std()[j];
            assert_eq!(value, expected);
        }
    }
}

#[test]
fn population_std_by_hand() {
    // Column 0: 1, 2, 3, 6 → μ = 3, Σ(x−μ)² = 4 + 1 + 0 + 9 = 14, σ = sqrt(14 / 4).
    let s = Standardizer::fit(&[1.0, 2.0, 3.0, 6.0], 1).unwrap();
    assert_eq!(s.mean(), [3.0]);
    assert!((s.std()[0] - 3.5f64.sqrt()).abs() < 1e-15);
}

#[test]
fn constant_column_gets_std_one_and_no_nan() {
    // Column 1 is the constant 0.1, which is not exactly representable: a naive
    // sum-then-divide mean would differ from 0.1 in the last bit and give a σ of ~1e-17.
    let train = [1.0, 0.1, 2.0, 0.1, 4.0, 0.1, 8.0, 0.1, 9.0, 0.1];
    let s = Standardizer::fit(&train, 2).unwrap();
    assert_eq!(s.mean()[1], 0.1);
    assert_eq!(s.std()[1], 1.0);
    let mut x = train.to_vec();
    s.transform(&mut x).unwrap();
    assert!(x.iter().all(|v| v.is_finite()));
    assert!(x.chunks_exact(2).all(|r| r[1] == 0.0));
    let mut new = vec![4.8, 2.1];
    s.transform(&mut new).unwrap();
    assert_eq!(new[1], 2.1 - 0.1);
    // A single row makes every column constant.
    let one = Standardizer::fit(&[5.0, -3.0], 2).unwrap();
    assert_eq!(one.std(), [1.0, 1.0]);
}

#[test]
fn large_offsets_keep_their_spread() {
    let base = 1e9;
    let s = Standardizer::fit(&[base + 1.0, base + 2.0, base + 3.0], 1).unwrap();
    assert_eq!(s.mean(), [base + 2.0]);
    assert!(
        (s.std()[0] - (2.0f64 / 3.0).sqrt()).abs() < 1e-9,
        "{:?}",
        s.std()
    );
}

#[test]
fn new_data_and_inverse_transform() {
    let s = Standardizer::fit(&[0.0, 10.0, 2.0, 30.0], 2).unwrap();
    // μ = (1, 20), σ = (1, 10)
    assert_eq!(s.mean(), [1.0, 20.0]);
    assert_eq!(s.std(), [1.0, 10.0]);
    let mut x = vec![3.0, 0.0, -1.0, 40.0];
    s.transform(&mut x).unwrap();
    assert_eq!(x, [2.0, -2.0, -2.0, 2.0]);
    s.inverse_transform(&mut x).unwrap();
    assert_eq!(x, [3.0, 0.0, -1.0, 40.0]);
}

#[test]
fn regression_targets_can_be_standardized_and_restored() {
    let mut data = CsvOptions::regression("target")
        .load(bundled("diabetes.csv"))
        .unwrap();
    let original = data.targets().clone();
    let s = Standardizer::fit_targets(&data).unwrap();
    assert_eq!(s.n_features(), 1);
    s.transform_targets(&mut data).unwrap();
    let y = data.targets().as_regression().unwrap().to_vec();
    let (mean, std) = column_stats(&y, 1, 0);
    assert!(mean.abs() < 1e-12 && (std - 1.0).abs() < 1e-12);
    let mut back = y.clone();
    s.inverse_transform(&mut back).unwrap();
    for (a, b) in back.iter().zip(original.as_regression().unwrap()) {
        assert!((a - b).abs() < 1e-9);
    }

    let mut classes = CsvOptions::classification("target")
        .load(bundled("breast_cancer.csv"))
        .unwrap();
    assert!(matches!(
        Standardizer::fit_targets(&classes),
        Err(DataError::WrongTask(_))
    ));
    assert!(s.transform_targets(&mut classes).is_err());
}

#[test]
fn shape_and_value_errors() {
    assert!(Standardizer::fit(&[], 2).is_err());
    assert!(Standardizer::fit(&[1.0, 2.0, 3.0], 2).is_err());
    assert!(Standardizer::fit(&[1.0], 0).is_err());
    let err = Standardizer::fit(&[1.0, 2.0, f64::NAN, 4.0], 2).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Standardizer::fit: value NaN at row 1, feature 0 is not finite"
    );

    let s = Standardizer::fit(&[1.0, 2.0, 3.0, 4.0], 2).unwrap();
    assert!(s.transform(&mut [1.0, 2.0, 3.0]).is_err());
    let mut three = Dataset::new(
        vec![1.0, 2.0, 3.0],
        vec!["a".into(), "b".into(), "c".into()],
        "y",
        Targets::Regression(vec![0.0]),
        None,
    )
    .unwrap();
    let err = s.transform_features(&mut three).unwrap_err();
    assert_eq!(
        err.to_string(),
        "shape mismatch in Standardizer::transform_features: fitted to 2 features, the dataset has 3"
    );
}

#[test]
fn serde_round_trip_and_validation() {
    let s = Standardizer::fit(&[1.0, 5.0, 3.0, 5.0], 2).unwrap();
    let json = serde_json::to_string(&s).unwrap();
    assert_eq!(json, r#"{"mean":[2.0,5.0],"std":[1.0,1.0]}"#);
    assert_eq!(serde_json::from_str::<Standardizer>(&json).unwrap(), s);
    assert!(serde_json::from_str::<Standardizer>(r#"{"mean":[0.0],"std":[0.0]}"#).is_err());
    assert!(serde_json::from_str::<Standardizer>(r#"{"mean":[0.0,1.0],"std":[1.0]}"#).is_err());
}
