//! Broadcasting's fast paths (same shape, scalar, trailing suffix, leading prefix, a block of
//! middle dims such as a per-channel `[1, C, 1, 1]`) against index arithmetic written out.

use trainscope_core::Tensor;

/// Row-major offset of `idx` in `dims`, with size-1 dims broadcast (index 0).
fn offset(dims: &[usize], idx: &[usize]) -> usize {
    let pad = idx.len() - dims.len();
    let mut o = 0;
    for (k, &d) in dims.iter().enumerate() {
        o = o * d + if d == 1 { 0 } else { idx[pad + k] };
    }
    o
}

fn indices(dims: &[usize]) -> Vec<Vec<usize>> {
    let mut out = vec![vec![]];
    for &d in dims {
        out = out
            .into_iter()
            .flat_map(|p| {
                (0..d).map(move |i| {
                    let mut q = p.clone();
                    q.push(i);
                    q
                })
            })
            .collect();
    }
    out
}

fn numbered(dims: &[usize], scale: f64) -> Tensor<f64> {
    let n: usize = dims.iter().product();
    let v = (0..n).map(|i| (i as f64 * scale).sin() + 1.5).collect();
    Tensor::from_vec(v, dims).unwrap()
}

/// (big, small) pairs: `small` broadcasts to `big`, one per layout.
const CASES: &[(&[usize], &[usize])] = &[
    (&[3, 4, 5, 6], &[3, 4, 5, 6]), // same
    (&[3, 4, 5, 6], &[1]),          // scalar
    (&[3, 4, 5, 6], &[5, 6]),       // trailing suffix
    (&[3, 4, 5, 6], &[3, 4, 1, 1]), // leading prefix
    (&[3, 4, 5, 6], &[1, 4, 1, 1]), // per-channel: a middle block
    (&[3, 4, 5, 6], &[4, 1, 1]),    // per-channel without the leading 1
    (&[3, 4, 5, 6], &[1, 4, 5, 1]), // a middle block of two dims
    (&[2, 7, 3], &[7, 1]),          // rank 3
    (&[3, 4, 5, 6], &[3, 1, 5, 1]), // general
    (&[3, 4, 5, 6], &[1, 4, 1, 6]), // general
];

#[test]
fn elementwise_ops_match_index_arithmetic_on_every_layout() {
    for &(big, small) in CASES {
        let a = numbered(big, 0.37);
        let b = numbered(small, 1.91);
        for (name, got, f) in [
            (
                "add",
                a.add(&b).unwrap(),
                (|x, y| x + y) as fn(f64, f64) -> f64,
            ),
            ("mul", a.mul(&b).unwrap(), |x, y| x * y),
            ("sub", a.sub(&b).unwrap(), |x, y| x - y),
            ("div", b.div(&a).unwrap(), |x, y| y / x),
        ] {
            assert_eq!(got.dims(), big, "{name} {big:?} {small:?}");
            for idx in indices(big) {
                let want = f(a.data()[offset(big, &idx)], b.data()[offset(small, &idx)]);
                assert_eq!(
                    got.data()[offset(big, &idx)],
                    want,
                    "{name} {big:?} {small:?} at {idx:?}"
                );
            }
        }
        let e = b.expand(big).unwrap();
        for idx in indices(big) {
            assert_eq!(e.data()[offset(big, &idx)], b.data()[offset(small, &idx)]);
        }
    }
}

#[test]
fn sum_to_matches_index_arithmetic_on_every_layout() {
    for &(big, small) in CASES {
        let a = numbered(big, 0.37);
        let got = a.sum_to(small).unwrap();
        assert_eq!(got.dims(), small);
        let mut want = vec![0.0; small.iter().product()];
        for idx in indices(big) {
            want[offset(small, &idx)] += a.data()[offset(big, &idx)];
        }
        for (g, w) in got.data().iter().zip(&want) {
            assert!(
                (g - w).abs() <= 1e-12 * w.abs(),
                "{big:?} → {small:?}: {g} vs {w}"
            );
        }
    }
}
