//! Fine-tuning from a classifier checkpoint (`model.init`): the data's labels take the
//! checkpoint's class indices, so a class absent from the new data stays in the model; a label
//! the checkpoint does not know, or a model whose outputs do not fit its classes, is refused
//! naming the key.

use std::path::{Path, PathBuf};

use trainscope_data::{LabelMap, Schema, Task};
use trainscope_nn::{Loss, ModelSpec, Sequential};
use trainscope_train::{
    files, load_run_data, train, Config, DTypeName, ModelMeta, RunOptions, Silent, TrainedModel,
};

/// Three well separated classes on a line: `a` near −2, `b` near 0, `c` near 2, with `x1`
/// noise. `keep` chooses which classes are written.
fn write_data(path: &Path, keep: &[&str]) {
    let mut text = String::from("x0,x1,label\n");
    for i in 0..150 {
        let (label, centre) = [("a", -2.0), ("b", 0.0), ("c", 2.0)][i % 3];
        if !keep.contains(&label) {
            continue;
        }
        let wobble = ((i * 37) % 11) as f64 / 11.0 - 0.5;
        text += &format!("{},{},{label}\n", centre + 0.4 * wobble, wobble);
    }
    std::fs::write(path, text).unwrap();
}

fn config(dir: &Path, data: &Path, extra: &[&str]) -> Result<Config, String> {
    let p = dir.join("c.toml");
    let text = format!(
        "seed = 1\ndtype = \"f64\"\n[data]\ntrain = \"{}\"\ntarget = \"label\"\ntask = \"classification\"\n\
         [optimizer]\nkind = \"adam\"\nlr = 0.05\n[training]\nepochs = 40\nbatch_size = 16\n",
        data.display()
    );
    std::fs::write(&p, text).unwrap();
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    Config::load(&p, &extra).map_err(|e| e.to_string())
}

fn run(config: &Config, out: &Path) -> Result<trainscope_train::Summary, String> {
    let data = load_run_data(config).map_err(|e| e.to_string())?;
    let opts = RunOptions {
        out_dir: Some(out.to_path_buf()),
        ..RunOptions::default()
    };
    train(config, &data, &opts, &mut Silent).map_err(|e| e.to_string())
}

/// A three-class model trained on all of `a`, `b`, `c`.
fn base_model(dir: &Path) -> PathBuf {
    let all = dir.join("all.csv");
    write_data(&all, &["a", "b", "c"]);
    let c = config(dir, &all, &["model.preset=\"linear\""]).unwrap();
    let out = dir.join("base");
    let s = run(&c, &out).unwrap();
    assert!(s.train_accuracy.unwrap() > 0.95, "{:?}", s.train_accuracy);
    out.join(files::MODEL)
}

#[test]
fn fine_tuning_on_data_without_a_class_keeps_the_checkpoints_classes() {
    let dir = tempfile::tempdir().unwrap();
    let base = base_model(dir.path());
    let ac = dir.path().join("ac.csv");
    write_data(&ac, &["a", "c"]);
    let init = format!("model.init=\"{}\"", base.display());
    // A tiny learning rate: the fine-tuned model is the base model, so its accuracy on the
    // `a`/`c` rows is the base model's. Had `c` taken index 1 (its place in this file's own
    // labels), the model's `c` rows would count as `b` and the accuracy would fall to ½.
    let c = config(
        dir.path(),
        &ac,
        &[&init, "optimizer.lr=1e-9", "training.epochs=1"],
    )
    .unwrap();
    let out = dir.path().join("tuned");
    let s = run(&c, &out).unwrap();
    assert!(s.train_accuracy.unwrap() > 0.95, "{:?}", s.train_accuracy);
    let tuned = TrainedModel::load(&out.join(files::MODEL)).unwrap();
    let map = tuned.schema().label_map.as_ref().unwrap();
    assert_eq!(map.labels(), ["a", "b", "c"]);
    // The three-class file evaluates against all three classes, `b` included.
    let all = tuned.evaluate_file(&dir.path().join("all.csv")).unwrap();
    assert!(all.accuracy.unwrap() > 0.95, "{:?}", all.accuracy);
    let p = tuned.predict_file(&ac).unwrap();
    assert_eq!(p.class_labels, ["a", "b", "c"]);
}

#[test]
fn a_label_the_checkpoint_does_not_know_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let base = base_model(dir.path());
    let ad = dir.path().join("ad.csv");
    std::fs::write(&ad, "x0,x1,label\n-2,0,a\n2,0,d\n-2,0.1,a\n2,0.1,d\n").unwrap();
    let init = format!("model.init=\"{}\"", base.display());
    let c = config(dir.path(), &ad, &[&init]).unwrap();
    let e = run(&c, &dir.path().join("x")).unwrap_err();
    assert!(e.starts_with("model.init: "), "{e}");
    assert!(e.contains("\"d\"") && e.contains("a, b, c"), "{e}");
}

#[test]
fn a_checkpoint_whose_outputs_do_not_fit_its_classes_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("m.safetensors");
    // Four outputs for a label map of three classes.
    let model = Sequential::<f64>::from_seed(ModelSpec::linear(2, 4), 0).unwrap();
    let meta = ModelMeta {
        schema: Schema {
            feature_names: vec!["x0".into(), "x1".into()],
            targets: vec!["label".into()],
            label_map: Some(LabelMap::from_labels(["a", "b", "c"])),
        },
        feature_standardizer: None,
        target_standardizer: None,
        task: Task::Classification,
        loss: Loss::CrossEntropy,
        dtype: DTypeName::F64,
        epoch: 0,
    };
    model.save(&ckpt, &meta.to_metadata()).unwrap();
    let data = dir.path().join("ab.csv");
    write_data(&data, &["a", "b"]);
    let init = format!("model.init=\"{}\"", ckpt.display());
    let c = config(dir.path(), &data, &[&init]).unwrap();
    let e = run(&c, &dir.path().join("x")).unwrap_err();
    assert!(e.contains("model.init"), "{e}");
    assert!(
        e.contains("4 outputs") && e.contains("3 classes a, b, c"),
        "{e}"
    );
}
