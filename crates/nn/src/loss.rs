//! Losses `L = (1/N) Σ_n e_n` over a model's output, chosen by name.

use serde::{Deserialize, Serialize};
use trainscope_core::{
    binary_cross_entropy_with_logits, cross_entropy, mae, mse, softmax_mse, Element,
    Error as CoreError, Result as CoreResult, Tensor,
};

/// What a loss compares the model's output with.
#[derive(Debug)]
pub enum Target<'a, T: Element> {
    /// Values of the output's shape: regression targets, or 0/1 (or soft) labels for
    /// [`Loss::BinaryCrossEntropyWithLogits`].
    Values(&'a Tensor<T>),
    /// One class index per example, for [`Loss::CrossEntropy`] and [`Loss::SoftmaxMse`].
    Classes(&'a [u32]),
}

impl<T: Element> Clone for Target<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Element> Copy for Target<'_, T> {}

/// A loss function, serializable by name (`"mse"`, `"cross_entropy"`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// `mean |y − ŷ|` (`torch.nn.L1Loss`).
    Mae,
    /// `mean (y − ŷ)²` (`torch.nn.MSELoss`).
    Mse,
    /// `−mean_n ln softmax(y_n)[label_n]` on logits, with a stable log-softmax
    /// (`torch.nn.CrossEntropyLoss`).
    CrossEntropy,
    /// `mean(softplus(y) − y·ŷ)` on logits: sigmoid plus binary cross-entropy, stable for any
    /// logit (`torch.nn.BCEWithLogitsLoss`).
    BinaryCrossEntropyWithLogits,
    /// The lectures' comparison loss: `mean_n Σ_i (softmax(y_n)_i − onehot(label_n)_i)²`.
    SoftmaxMse,
}

impl Loss {
    /// True when the target is class labels ([`Target::Classes`]) rather than values.
    pub fn takes_classes(self) -> bool {
        matches!(self, Loss::CrossEntropy | Loss::SoftmaxMse)
    }

    /// The serialized name, e.g. `"cross_entropy"`.
    pub fn name(self) -> &'static str {
        match self {
            Loss::Mae => "mae",
            Loss::Mse => "mse",
            Loss::CrossEntropy => "cross_entropy",
            Loss::BinaryCrossEntropyWithLogits => "binary_cross_entropy_with_logits",
            Loss::SoftmaxMse => "softmax_mse",
        }
    }

    /// The loss (a scalar tensor, differentiable with respect to whatever `output` depends on).
    /// A target of the wrong kind or shape is an error.
    ///
    /// ```
    /// use trainscope_core::Tensor;
    /// use trainscope_nn::{Loss, Target};
    /// let y = Tensor::<f64>::from_vec(vec![1.0, 3.0], &[2, 1]).unwrap();
    /// let t = Tensor::from_vec(vec![0.0, 1.0], &[2, 1]).unwrap();
    /// // ((1 − 0)² + (3 − 1)²) / 2 = 2.5
    /// let l = Loss::Mse.compute(&y, Target::Values(&t)).unwrap();
    /// assert_eq!(l.item().unwrap(), 2.5);
    /// assert!(Loss::CrossEntropy.compute(&y, Target::Values(&t)).is_err());
    /// ```
    pub fn compute<T: Element>(
        &self,
        output: &Tensor<T>,
        target: Target<'_, T>,
    ) -> CoreResult<Tensor<T>> {
        match (self, target) {
            (Loss::Mae, Target::Values(t)) => mae(output, t),
            (Loss::Mse, Target::Values(t)) => mse(output, t),
            (Loss::BinaryCrossEntropyWithLogits, Target::Values(t)) => {
                binary_cross_entropy_with_logits(output, t)
            }
            (Loss::CrossEntropy, Target::Classes(c)) => cross_entropy(output, c),
            (Loss::SoftmaxMse, Target::Classes(c)) => softmax_mse(output, c),
            (loss, Target::Values(_)) => Err(CoreError::InvalidArgument {
                op: loss.name(),
                msg: "needs class labels as the target, got a tensor of values".into(),
            }),
            (loss, Target::Classes(_)) => Err(CoreError::InvalidArgument {
                op: loss.name(),
                msg: "needs a tensor of target values, got class labels".into(),
            }),
        }
    }
}
