//! TensorBoard export: our reader round trip (checksums checked), corruption detected, and
//! TensorBoard's own reader (when the `tensorboard` Python package is installed).

use std::collections::BTreeMap;
use std::process::Command;
use trainscope_viz::tensorboard::masked_crc32c;
use trainscope_viz::{read_event_file, write_tensorboard, EpochScalars};

fn run() -> Vec<EpochScalars> {
    (0..12)
        .map(|e| {
            let t = e as f64;
            EpochScalars {
                epoch: e,
                train_loss: Some(1.5 * (-0.2 * t).exp() + 0.01),
                val_loss: Some(1.6 * (-0.18 * t).exp() + 0.05 + 0.001 * t * t),
                train_accuracy: Some(1.0 - 0.6 * (-0.3 * t).exp()),
                // Validation only every other epoch: absent values are not written.
                val_accuracy: (e % 2 == 0).then(|| 0.9 - 0.5 * (-0.3 * t).exp()),
                grad_norm: Some(3.0 / (1.0 + t)),
                lr: Some(0.1 * 0.5f64.powi((e / 4) as i32)),
            }
        })
        .collect()
}

/// tag → [(step, value as f32)], as written.
fn expected(run: &[EpochScalars]) -> BTreeMap<String, Vec<(i64, f32)>> {
    let mut m: BTreeMap<String, Vec<(i64, f32)>> = BTreeMap::new();
    for e in run {
        for (tag, v) in e.tagged() {
            m.entry(tag.to_string())
                .or_default()
                .push((e.epoch as i64, v as f32));
        }
    }
    m
}

#[test]
fn masked_crc_matches_tfrecord_reference_values() {
    // CRC-32C check value of "123456789" is 0xE3069283 (RFC 3720); masked by hand:
    // rotr(0xE3069283, 15) = 0x2507C60D, + 0xA282EAD8 = 0xC78AB0E5.
    assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
    assert_eq!(masked_crc32c(b"123456789"), 0xC78A_B0E5);
}

#[test]
fn round_trip_through_our_reader() {
    let dir = tempfile::tempdir().unwrap();
    let r = run();
    let path = write_tensorboard(dir.path(), &r).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    assert!(name.starts_with("events.out.tfevents."), "{name}");
    let parts: Vec<&str> = name.splitn(5, '.').collect();
    assert!(parts[3].parse::<u64>().unwrap() > 1_600_000_000, "{name}");
    assert!(!parts[4].is_empty(), "{name}");

    let f = read_event_file(&path).unwrap();
    assert_eq!(f.file_version.as_deref(), Some("brain.Event:2"));
    let want = expected(&r);
    let n: usize = want.values().map(|v| v.len()).sum();
    assert_eq!(n, 12 * 5 + 6);
    assert_eq!(f.records, n + 1);
    let mut got: BTreeMap<String, Vec<(i64, f32)>> = BTreeMap::new();
    for s in &f.scalars {
        assert!(s.wall_time > 1.6e9);
        got.entry(s.tag.clone())
            .or_default()
            .push((s.step, s.value));
    }
    assert_eq!(got, want);
    assert_eq!(got["lr"][11], (11, 0.025));
}

#[test]
fn corrupted_files_are_rejected_with_the_record_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_tensorboard(dir.path(), &run()).unwrap();
    let good = std::fs::read(&path).unwrap();
    // Flip one bit in the data of the second record (the first scalar).
    let first_len = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    let second = 12 + first_len + 4;
    let mut bad = good.clone();
    bad[second + 12 + 3] ^= 0x10;
    std::fs::write(&path, &bad).unwrap();
    let e = read_event_file(&path).unwrap_err().to_string();
    assert!(e.contains("record 1") && e.contains("data checksum"), "{e}");
    // A corrupted length.
    let mut bad = good.clone();
    bad[second] ^= 0x01;
    std::fs::write(&path, &bad).unwrap();
    let e = read_event_file(&path).unwrap_err().to_string();
    assert!(
        e.contains("record 1") && e.contains("length checksum"),
        "{e}"
    );
    // Truncated.
    std::fs::write(&path, &good[..good.len() - 3]).unwrap();
    let e = read_event_file(&path).unwrap_err().to_string();
    assert!(e.contains("truncated"), "{e}");
}

#[test]
fn tensorboard_itself_reads_the_file() {
    let has_tb = Command::new("python3")
        .args(["-c", "import tensorboard"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !has_tb {
        // .ci/run installs it: on CI its absence is a failure, not a skip.
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
        assert!(!ci, "python3 cannot import tensorboard, and CI is set");
        println!(
            "SKIPPED tensorboard_itself_reads_the_file: python3 cannot import tensorboard \
             (pip install tensorboard to run it)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let r = run();
    write_tensorboard(&logs, &r).unwrap();
    let want: BTreeMap<String, Vec<(i64, f64)>> = expected(&r)
        .into_iter()
        .map(|(k, v)| (k, v.into_iter().map(|(s, x)| (s, f64::from(x))).collect()))
        .collect();
    let json = dir.path().join("expected.json");
    std::fs::write(&json, serde_json::to_string(&want).unwrap()).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/read_tensorboard.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(&logs)
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "python reader failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("66 scalars in 6 tags; 0 differences"),
        "{stdout}"
    );
}
