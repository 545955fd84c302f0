//! The elementwise activations.

use crate::layer::{LayerForward, LayerShape, LeafIo};
use crate::ForwardCtx;
use serde::{Deserialize, Serialize};
use trainscope_core::{Element, Result as CoreResult, Tensor};

macro_rules! activation {
    ($(#[$doc:meta])* $name:ident, $text:literal, |$x:ident| $f:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {}

        impl LayerShape for $name {
            fn describe(&self) -> String {
                $text.into()
            }
            fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
                Ok(input.to_vec())
            }
        }

        impl<T: Element> LayerForward<T> for $name {
            fn forward(
                &self,
                $x: &Tensor<T>,
                _: &LeafIo<'_, T>,
                _: &mut ForwardCtx<'_, T>,
            ) -> CoreResult<Tensor<T>> {
                Ok($f)
            }
        }
    };
}

activation!(
    /// `σ(x) = 1 / (1 + e^−x)` (`torch.nn.Sigmoid`).
    Sigmoid, "Sigmoid", |x| x.sigmoid()
);
activation!(
    /// `max(0, x)` (`torch.nn.ReLU`).
    Relu, "ReLU", |x| x.relu()
);
activation!(
    /// `tanh(x)` (`torch.nn.Tanh`).
    Tanh, "Tanh", |x| x.tanh()
);
activation!(
    /// `clamp(x/6 + 1/2, 0, 1)` (`torch.nn.Hardsigmoid`).
    HardSigmoid, "Hardsigmoid", |x| x.hard_sigmoid()
);
