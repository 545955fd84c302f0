use trainscope_data::{
    BatchBuffer, BatchTargets, Batcher, BatcherState, DataError, Dataset, Targets,
};

/// `n` rows of 3 features, row i = (i, 10 i, 100 i), target i / 2 as class (labels 0..).
fn dataset(n: usize) -> Dataset {
    let features = (0..n)
        .flat_map(|i| [i as f64, 10.0 * i as f64, 100.0 * i as f64])
        .collect();
    let classes: Vec<usize> = (0..n).map(|i| i / 2).collect();
    let k = classes.last().map_or(0, |c| c + 1);
    Dataset::new(
        features,
        vec!["a".into(), "b".into(), "c".into()],
        "y",
        Targets::Classes(classes),
        Some(trainscope_data::LabelMap::range(k)),
    )
    .unwrap()
}

/// The batches (as row indices) of the next epoch.
fn epoch(batcher: &mut Batcher) -> Vec<Vec<usize>> {
    let mut batches = Vec::new();
    while let Some(b) = batcher.next_indices() {
        batches.push(b.to_vec());
    }
    batches
}

#[test]
fn every_row_once_per_epoch_in_batches_of_b() {
    for (n, b, expected_sizes) in [
        (10, 3, vec![3, 3, 3, 1]),
        (10, 5, vec![5, 5]),
        (10, 1, vec![1; 10]),
        (10, 10, vec![10]), // full batch
        (10, 64, vec![10]), // clamped to full batch
        (1, 4, vec![1]),
    ] {
        let mut batcher = Batcher::new(n, b, 3).unwrap();
        assert_eq!(batcher.batches_per_epoch(), expected_sizes.len());
        for _ in 0..4 {
            let batches = epoch(&mut batcher);
            let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
            assert_eq!(sizes, expected_sizes, "n = {n}, b = {b}");
            let mut rows: Vec<usize> = batches.concat();
            rows.sort_unstable();
            assert_eq!(rows, (0..n).collect::<Vec<_>>());
        }
        assert_eq!(batcher.epochs_started(), 4);
    }
}

#[test]
fn drop_last_skips_the_partial_batch() {
    let mut batcher = Batcher::new(10, 3, 8).unwrap().with_drop_last(true);
    assert_eq!(batcher.batches_per_epoch(), 3);
    let mut dropped = Vec::new();
    for _ in 0..5 {
        let batches = epoch(&mut batcher);
        assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 3]);
        let rows: Vec<usize> = batches.concat();
        let mut distinct = rows.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 9);
        dropped.push((0..10).find(|r| !rows.contains(r)).unwrap());
    }
    dropped.dedup();
    assert!(dropped.len() > 1, "the same row was dropped every epoch");
    // Full batch is never dropped.
    let mut full = Batcher::new(10, 10, 8).unwrap().with_drop_last(true);
    assert_eq!(epoch(&mut full).len(), 1);
}

#[test]
fn reshuffled_between_epochs_and_reproducible_by_seed() {
    let mut a = Batcher::new(50, 8, 123).unwrap();
    let mut b = Batcher::new(50, 8, 123).unwrap();
    let mut c = Batcher::new(50, 8, 124).unwrap();
    let mut previous: Option<Vec<usize>> = None;
    for _ in 0..5 {
        let ea = epoch(&mut a).concat();
        assert_eq!(ea, epoch(&mut b).concat());
        assert_ne!(ea, epoch(&mut c).concat());
        assert_ne!(ea, (0..50).collect::<Vec<_>>(), "epoch not shuffled");
        if let Some(p) = previous {
            assert_ne!(ea, p, "epoch order repeated");
        }
        previous = Some(ea);
    }
}

/// The batch sequence of `epochs` epochs following `batcher`'s current position.
fn run(batcher: &mut Batcher, epochs: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    for _ in 0..epochs {
        // First call finishes the current epoch (if one is under way), the next ones full epochs.
        out.extend(epoch(batcher));
        out.push(Vec::new()); // epoch boundary marker
    }
    out
}

#[test]
fn saved_state_resumes_the_identical_batch_sequence() {
    // Save points: before any batch, mid-epoch, after the last batch but before the epoch's
    // `None`, and right after an epoch ended.
    for calls_before_save in [0usize, 1, 3, 4, 5, 6, 9, 13] {
        let mut original = Batcher::new(10, 3, 77).unwrap(); // 4 batches + None per epoch
        for _ in 0..calls_before_save {
            original.next_indices();
        }
        let json = serde_json::to_string(&original.state()).unwrap();
        let state: BatcherState = serde_json::from_str(&json).unwrap();
        let mut resumed = Batcher::from_state(state).unwrap();
        assert_eq!(resumed.epochs_started(), original.epochs_started());
        assert_eq!(
            run(&mut resumed, 3),
            run(&mut original, 3),
            "saved after {calls_before_save} calls"
        );
    }
}

#[test]
fn saved_state_keeps_drop_last_and_batch_size() {
    let mut original = Batcher::new(11, 4, 5).unwrap().with_drop_last(true);
    original.next_indices();
    let mut resumed = Batcher::from_state(original.state()).unwrap();
    assert_eq!(run(&mut resumed, 2), run(&mut original, 2));
}

#[test]
fn invalid_saved_states_are_errors() {
    let mut state = Batcher::new(10, 3, 1).unwrap().state();
    state.position = 11;
    assert!(Batcher::from_state(state.clone()).is_err());
    state.position = 0;
    state.batch_size = 0;
    assert!(Batcher::from_state(state.clone()).is_err());
    state.batch_size = 3;
    state.in_epoch = true; // but no epoch has started
    assert!(Batcher::from_state(state).is_err());
}

#[test]
fn batches_carry_the_rows_and_targets_of_their_indices() {
    let data = dataset(9);
    let mut batcher = Batcher::new(9, 4, 2).unwrap();
    let mut buffer = BatchBuffer::default();
    let mut seen = 0;
    while let Some(batch) = batcher.next_batch(&data, &mut buffer).unwrap() {
        assert_eq!(batch.n_features, 3);
        assert_eq!(batch.features.len(), batch.len() * 3);
        let BatchTargets::Classes(classes) = batch.targets else {
            panic!("class targets expected");
        };
        for (k, &r) in batch.indices.iter().enumerate() {
            assert_eq!(&batch.features[3 * k..3 * k + 3], data.row(r));
            assert_eq!(classes[k], r / 2);
        }
        seen += batch.len();
    }
    assert_eq!(seen, 9);
}

#[test]
fn buffer_is_reused_after_the_first_batch() {
    let data = dataset(100);
    let mut batcher = Batcher::new(100, 16, 4).unwrap();
    let mut buffer = BatchBuffer::default();
    let mut pointers = Vec::new();
    for _ in 0..3 {
        while let Some(batch) = batcher.next_batch(&data, &mut buffer).unwrap() {
            pointers.push((batch.features.as_ptr(), batch.indices.as_ptr()));
        }
    }
    assert_eq!(pointers.len(), 3 * 7);
    assert!(
        pointers.iter().all(|p| *p == pointers[0]),
        "a batch reallocated its buffer"
    );
}

#[test]
fn batcher_errors() {
    assert!(matches!(
        Batcher::new(10, 0, 0),
        Err(DataError::InvalidParameter {
            name: "batch size",
            ..
        })
    ));
    assert!(Batcher::new(0, 4, 0).is_err());
    let mut batcher = Batcher::new(5, 2, 0).unwrap();
    let err = batcher
        .next_batch(&dataset(6), &mut BatchBuffer::default())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "shape mismatch in Batcher::next_batch: batcher made for 5 rows, the dataset has 6"
    );
}

/// The windowed shuffle of sharded rows: every epoch a permutation; a window of every shard is
/// exactly the full shuffle; a smaller window keeps each batch within the window's shards (two
/// windows at an edge); and a state taken inside an epoch continues identically.
#[test]
fn windowed_shuffles_are_permutations_within_their_windows() {
    use trainscope_data::Window;
    let (n, per, batch): (usize, usize, usize) = (1003, 50, 40); // 21 shards, the last of 3 rows
    let shards = n.div_ceil(per);
    let full = |w: usize| {
        Batcher::new(n, batch, 11)
            .unwrap()
            .with_window(Window {
                rows_per_shard: per,
                shards: w,
            })
            .unwrap()
    };
    let mut plain = Batcher::new(n, batch, 11).unwrap();
    let mut whole = full(shards);
    let mut windowed = full(3);
    for _epoch in 0..3 {
        let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
        while let Some(i) = plain.next_indices() {
            a.extend_from_slice(i);
        }
        while let Some(i) = whole.next_indices() {
            b.extend_from_slice(i);
        }
        while let Some(i) = windowed.next_indices() {
            let mut touched: Vec<usize> = i.iter().map(|r| r / per).collect();
            touched.sort();
            touched.dedup();
            assert!(touched.len() <= 6, "a batch touches shards {touched:?}");
            c.extend_from_slice(i);
        }
        assert_eq!(a, b, "a window of every shard is the full shuffle");
        assert_ne!(c, a);
        // Each window's rows are consecutive in the epoch's order.
        let first_window: Vec<usize> = {
            let mut s: Vec<usize> = c[..3 * per].iter().map(|r| r / per).collect();
            s.sort();
            s.dedup();
            s
        };
        assert!(first_window.len() <= 3 + 1, "{first_window:?}");
        c.sort();
        assert_eq!(c, (0..n).collect::<Vec<_>>(), "every row once");
    }
    // Resumed inside an epoch: the same batches follow.
    windowed.next_indices();
    let state = windowed.state();
    assert!(state.window.is_some());
    let expected: Vec<Vec<usize>> = (0..30)
        .filter_map(|_| windowed.next_indices().map(<[usize]>::to_vec))
        .collect();
    let mut resumed = Batcher::from_state(state).unwrap();
    let got: Vec<Vec<usize>> = (0..30)
        .filter_map(|_| resumed.next_indices().map(<[usize]>::to_vec))
        .collect();
    assert_eq!(got, expected);
}
