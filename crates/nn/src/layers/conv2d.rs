//! 2-D convolution (`torch.nn.Conv2d`).

use crate::layer::{Init, LayerForward, LayerShape, LeafIo, TensorDecl};
use crate::layers::Size2;
use crate::ForwardCtx;
use serde::{Deserialize, Serialize};
use trainscope_core::{window_output, Element, Result as CoreResult, Tensor};

fn one() -> Size2 {
    Size2::square(1)
}

fn zero() -> Size2 {
    Size2::square(0)
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// Cross-correlation of `[N, in_channels, H, W]` images with `out_channels` filters of
/// `in_channels × kernel_size`, zero padding, plus a bias per output channel. Initialized as
/// PyTorch does: weight and bias `~ U(−1/√fan_in, 1/√fan_in)`, `fan_in = in_channels·kh·kw`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conv2d {
    /// Channels of the input.
    pub in_channels: usize,
    /// Channels of the output (filters).
    pub out_channels: usize,
    /// Height and width of a filter.
    pub kernel_size: Size2,
    /// Step between windows (PyTorch: 1).
    #[serde(default = "one")]
    pub stride: Size2,
    /// Zeros added on each side (PyTorch: 0).
    #[serde(default = "zero")]
    pub padding: Size2,
    /// Whether there is a bias (PyTorch: true).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub bias: bool,
}

impl Conv2d {
    /// Square kernel, stride and padding, with a bias.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel_size: usize,
        stride: usize,
        padding: usize,
    ) -> Self {
        Conv2d {
            in_channels,
            out_channels,
            kernel_size: Size2::square(kernel_size),
            stride: Size2::square(stride),
            padding: Size2::square(padding),
            bias: true,
        }
    }
}

impl LayerShape for Conv2d {
    fn describe(&self) -> String {
        let mut s = format!(
            "Conv2d({} → {}, {}",
            self.in_channels, self.out_channels, self.kernel_size
        );
        if self.stride != one() {
            s += &format!(", stride {}", self.stride);
        }
        if self.padding != zero() {
            s += &format!(", padding {}", self.padding);
        }
        s + ")"
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        if self.out_channels == 0 {
            return Err("out_channels must be at least 1".into());
        }
        let [c, h, w] = *input else {
            return Err(format!(
                "needs [N, C, H, W] images, got [N, {}]",
                input
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        };
        if c != self.in_channels {
            return Err(format!(
                "in_channels {} does not match the {c} channels coming in",
                self.in_channels
            ));
        }
        let (k, s, p) = (self.kernel_size, self.stride, self.padding);
        match (
            window_output(h, k.0, s.0, p.0),
            window_output(w, k.1, s.1, p.1),
        ) {
            (Some(oh), Some(ow)) => Ok(vec![self.out_channels, oh, ow]),
            _ => Err(format!(
                "a {k} kernel (stride {s}, padding {p}) does not fit {h}×{w} images"
            )),
        }
    }

    fn parameters(&self) -> Vec<TensorDecl> {
        let (kh, kw) = self.kernel_size.pair();
        let fan_in = self.in_channels * kh * kw;
        let bound = Init::Uniform(1.0 / (fan_in as f64).sqrt());
        let mut p = vec![TensorDecl::new(
            "weight",
            vec![self.out_channels, self.in_channels, kh, kw],
            bound,
        )];
        if self.bias {
            p.push(TensorDecl::new("bias", vec![self.out_channels], bound));
        }
        p
    }
}

impl<T: Element> LayerForward<T> for Conv2d {
    fn forward(
        &self,
        x: &Tensor<T>,
        io: &LeafIo<'_, T>,
        _: &mut ForwardCtx<'_, T>,
    ) -> CoreResult<Tensor<T>> {
        x.conv2d(
            &io.params[0],
            io.params.get(1),
            self.stride.pair(),
            self.padding.pair(),
        )
    }
}
