//! What a run leaves for its diagnosis besides the losses: per-layer gradient norms, which
//! ReLU units still fire at the end, and the raw scales of the data.

use serde::{Deserialize, Serialize};
use trainscope_core::{Element, Tensor};
use trainscope_data::{Dataset, Features};
use trainscope_nn::{Layer, Sequential};
pub use trainscope_record::Named;

/// The layers that hold parameters, and for each parameter tensor the layer it belongs to.
#[derive(Clone, Debug)]
pub(crate) struct LayerGroups {
    /// Layer names (`"0"`, `"2"`, …), input side first.
    pub names: Vec<String>,
    /// For each parameter tensor, its index in `names`.
    pub of_param: Vec<usize>,
}

impl LayerGroups {
    pub fn of<T: Element>(model: &Sequential<T>) -> LayerGroups {
        let mut names: Vec<String> = Vec::new();
        let mut of_param = Vec::new();
        for p in model.parameter_names() {
            let layer = p
                .rsplit_once('.')
                .map_or(p.as_str(), |(l, _)| l)
                .to_string();
            if names.last() != Some(&layer) {
                names.push(layer);
            }
            of_param.push(names.len() - 1);
        }
        LayerGroups { names, of_param }
    }

    /// Per-layer norms from per-tensor sums of squares.
    pub fn norms(&self, sums: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.names.len()];
        for (&l, &s) in self.of_param.iter().zip(sums) {
            out[l] += s;
        }
        out.iter_mut().for_each(|v| *v = v.sqrt());
        out
    }
}

/// A layer with parameters, as `summary.json` lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerInfo {
    /// Its name in the parameter names (`"0"` for `0.weight`).
    pub name: String,
    /// `linear`, `batch_norm1d`.
    pub kind: String,
    /// Scalar parameters.
    pub parameters: usize,
}

pub(crate) fn layer_infos<T: Element>(model: &Sequential<T>) -> Vec<LayerInfo> {
    let groups = LayerGroups::of(model);
    let leaves = model.spec().leaves();
    let mut counts = vec![0usize; groups.names.len()];
    for (&l, p) in groups.of_param.iter().zip(model.parameters()) {
        counts[l] += p.numel();
    }
    groups
        .names
        .iter()
        .zip(counts)
        .map(|(name, parameters)| {
            let kind =
                leaves
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or("unknown".to_string(), |(_, l)| match l.kind().as_str() {
                        k @ ("linear" | "batch_norm1d" | "conv2d" | "batch_norm2d"
                        | "layer_norm") => k.to_string(),
                        _ => "other".to_string(),
                    });
            LayerInfo {
                name: name.clone(),
                kind,
                parameters,
            }
        })
        .collect()
}

/// How many units of a ReLU layer ever fire on the training rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReluActivity {
    /// The ReLU layer's index in the model (`"1"`).
    pub layer: String,
    /// Its units.
    pub units: usize,
    /// Units whose input is ≤ 0 on every row.
    pub dead: usize,
}

/// Which units of each ReLU layer receive a positive input on some row, gathered from the
/// layer inputs a forward pass shows (see `Sequential::forward_visiting`).
pub(crate) struct ReluTracker {
    /// Indices of the ReLU layers.
    layers: Vec<usize>,
    /// Their names (`"1"`, `"2.body.1"`).
    names: Vec<String>,
    /// Per ReLU layer, per unit: fired on some row so far.
    fired: Vec<Vec<bool>>,
}

impl ReluTracker {
    pub fn new<T: Element>(model: &Sequential<T>) -> Self {
        let (layers, names) = model
            .spec()
            .leaves()
            .into_iter()
            .enumerate()
            .filter(|(_, (_, l))| matches!(l, Layer::Relu(_)))
            .map(|(i, (name, _))| (i, name))
            .unzip();
        let layers: Vec<usize> = layers;
        ReluTracker {
            fired: vec![Vec::new(); layers.len()],
            layers,
            names,
        }
    }

    /// Leaf `i`'s input `h`: `[rows, units]`, or `[rows, channels, H, W]`, where a unit is a
    /// channel (one filter) that fires if any of its pixels does.
    pub fn see<T: Element>(&mut self, i: usize, h: &Tensor<T>) {
        let Some(k) = self.layers.iter().position(|&r| r == i) else {
            return;
        };
        let rows = h.dims().first().copied().unwrap_or(0);
        let units = h.dims().get(1).copied().unwrap_or(0);
        let inner = h.numel() / (rows * units).max(1);
        let f = &mut self.fired[k];
        if f.len() != units {
            *f = vec![false; units];
        }
        for row in h.data().chunks_exact((units * inner).max(1)) {
            for (u, cells) in row.chunks_exact(inner.max(1)).enumerate() {
                f[u] |= cells.iter().any(|&v| v > T::zero());
            }
        }
    }

    pub fn finish(self) -> Vec<ReluActivity> {
        self.names
            .into_iter()
            .zip(self.fired)
            .map(|(layer, f)| ReluActivity {
                layer,
                units: f.len(),
                dead: f.iter().filter(|&&x| !x).count(),
            })
            .collect()
    }
}

/// Mean and standard deviation of one raw column (population form; 0 for a constant one).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnStats {
    /// The column.
    pub name: String,
    /// Mean over the training rows.
    pub mean: f64,
    /// Standard deviation over the training rows.
    pub std: f64,
}

/// The raw scales of the training data, before any standardization.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataScales {
    /// Every feature.
    pub features: Vec<ColumnStats>,
    /// The regression target.
    pub target: Option<ColumnStats>,
}

fn column_stats(values: &[f64], d: usize) -> Vec<(f64, f64)> {
    column_stats_of(values.len(), d, |start, row| {
        row.extend_from_slice(&values[start..start + d])
    })
}

/// [`column_stats`] of stored values, one row widened to `f64` at a time (compact storage is
/// not copied).
fn stored_column_stats(values: &Features, d: usize) -> Vec<(f64, f64)> {
    column_stats_of(values.len(), d, |start, row| {
        values.extend_f64(start, d, row)
    })
}

/// Population mean and standard deviation (Welford) of each of the `d` columns of `len`
/// values, whose row starting at value `start` `row_at` appends to an empty buffer.
fn column_stats_of(
    len: usize,
    d: usize,
    mut row_at: impl FnMut(usize, &mut Vec<f64>),
) -> Vec<(f64, f64)> {
    let mut mean = vec![0.0; d];
    let mut m2 = vec![0.0; d];
    let mut row = Vec::with_capacity(d);
    for i in 0..len / d.max(1) {
        row.clear();
        row_at(i * d, &mut row);
        let k = (i + 1) as f64;
        for (j, &x) in row.iter().enumerate() {
            let delta = x - mean[j];
            mean[j] += delta / k;
            m2[j] += delta * (x - mean[j]);
        }
    }
    let n = (len / d.max(1)).max(1) as f64;
    mean.into_iter()
        .zip(m2)
        .map(|(m, s)| (m, (s / n).sqrt()))
        .collect()
}

/// [`data_scales`] of a prepared dataset: the features' mean and standard deviation from its
/// manifest (computed while preparing; a constant column's σ is shown as 1 there, as the
/// standardizer keeps it), the targets (in memory) as for any dataset.
pub(crate) fn data_scales_of_manifest(
    manifest: &trainscope_data::Manifest,
    train: &Dataset,
) -> DataScales {
    let s = &manifest.standardizer;
    let stats: Vec<(f64, f64)> = s
        .mean()
        .iter()
        .copied()
        .zip(s.std().iter().copied())
        .collect();
    scales_with(stats, train)
}

pub(crate) fn data_scales(train: &Dataset) -> DataScales {
    let d = train.n_features();
    scales_with(stored_column_stats(train.feature_values(), d), train)
}

fn scales_with(stats: Vec<(f64, f64)>, train: &Dataset) -> DataScales {
    let features = stats
        .into_iter()
        .zip(train.feature_names())
        .map(|((mean, std), name)| ColumnStats {
            name: name.clone(),
            mean,
            std,
        })
        .collect();
    // With several target columns, the one farthest from unit scale stands for them.
    let target = train.targets().as_regression().and_then(|y| {
        column_stats(y, train.n_targets())
            .into_iter()
            .zip(train.target_names())
            .map(|((mean, std), name)| ColumnStats {
                name: name.clone(),
                mean,
                std,
            })
            .max_by(|a, b| {
                let scale = |c: &ColumnStats| c.mean.abs().max(c.std);
                scale(a).total_cmp(&scale(b))
            })
    });
    DataScales { features, target }
}

#[cfg(test)]
mod tests {
    use super::{column_stats, Named};

    #[test]
    fn named_values_keep_their_order_through_json() {
        let v = Named(vec![("10".into(), 1.0), ("2".into(), 0.5)]);
        let s = serde_json::to_string(&v).unwrap();
        assert_eq!(s, r#"{"10":1.0,"2":0.5}"#);
        assert_eq!(serde_json::from_str::<Named>(&s).unwrap(), v);
    }

    #[test]
    fn column_stats_are_population_moments() {
        let s = column_stats(&[1.0, 10.0, 3.0, 10.0], 2);
        assert_eq!(s[0], (2.0, 1.0));
        assert_eq!(s[1], (10.0, 0.0));
    }
}
