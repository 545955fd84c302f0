//! Pooling over windows of images (`torch.nn.MaxPool2d`, `torch.nn.AvgPool2d`), without
//! padding.

use crate::layer::{LayerForward, LayerShape, LeafIo};
use crate::layers::Size2;
use crate::ForwardCtx;
use serde::{Deserialize, Serialize};
use trainscope_core::{window_output, Element, Result as CoreResult, Tensor};

macro_rules! pool {
    ($(#[$doc:meta])* $name:ident, $text:literal, $op:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// Height and width of a window.
            pub kernel_size: Size2,
            /// Step between windows; PyTorch's default (none) is the kernel size.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub stride: Option<Size2>,
        }

        impl $name {
            /// Windows of `kernel_size` side by side (stride = kernel size).
            pub fn new(kernel_size: usize) -> Self {
                $name {
                    kernel_size: Size2::square(kernel_size),
                    stride: None,
                }
            }

            fn step(&self) -> Size2 {
                self.stride.unwrap_or(self.kernel_size)
            }
        }

        impl LayerShape for $name {
            fn describe(&self) -> String {
                match self.stride {
                    Some(s) if s != self.kernel_size => {
                        format!("{}({}, stride {s})", $text, self.kernel_size)
                    }
                    _ => format!("{}({})", $text, self.kernel_size),
                }
            }

            fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
                let [c, h, w] = *input else {
                    return Err(format!(
                        "needs [N, C, H, W] images, got [N, {}]",
                        input.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
                    ));
                };
                let (k, s) = (self.kernel_size, self.step());
                match (window_output(h, k.0, s.0, 0), window_output(w, k.1, s.1, 0)) {
                    (Some(oh), Some(ow)) => Ok(vec![c, oh, ow]),
                    _ => Err(format!("a {k} window (stride {s}) does not fit {h}×{w} images")),
                }
            }
        }

        impl<T: Element> LayerForward<T> for $name {
            fn forward(
                &self,
                x: &Tensor<T>,
                _: &LeafIo<'_, T>,
                _: &mut ForwardCtx<'_, T>,
            ) -> CoreResult<Tensor<T>> {
                x.$op(self.kernel_size.pair(), self.step().pair())
            }
        }
    };
}

pool!(
    /// The largest value of each window; the gradient goes to the first largest, as in PyTorch.
    MaxPool2d, "MaxPool2d", max_pool2d
);
pool!(
    /// The mean of each window.
    AvgPool2d, "AvgPool2d", avg_pool2d
);
