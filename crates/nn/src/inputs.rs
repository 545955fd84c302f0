//! The shape of one input example: a width, or an image's `[C, H, W]`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// One example's input shape: a width (`4`, rows of 4 features) or an image shape
/// (`[1, 28, 28]`, channels × height × width). Data always arrives as rows of
/// `C·H·W` numbers in C, H, W row-major order; the model reshapes them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Inputs(Vec<usize>);

impl Inputs {
    /// Rows of `width` features.
    pub fn width(width: usize) -> Self {
        Inputs(vec![width])
    }

    /// Examples of this shape (rank 1 to 3).
    pub fn shape(dims: Vec<usize>) -> Self {
        Inputs(dims)
    }

    /// The axes of one example.
    pub fn dims(&self) -> &[usize] {
        &self.0
    }

    /// Numbers per example (`C·H·W`), or `None` on overflow.
    pub fn checked_numel(&self) -> Option<usize> {
        self.0.iter().try_fold(1usize, |a, &d| a.checked_mul(d))
    }

    /// Numbers per example (`C·H·W`; saturating).
    pub fn numel(&self) -> usize {
        self.checked_numel().unwrap_or(usize::MAX)
    }
}

impl From<usize> for Inputs {
    fn from(width: usize) -> Self {
        Inputs::width(width)
    }
}

impl PartialEq<usize> for Inputs {
    fn eq(&self, other: &usize) -> bool {
        self.0 == [*other]
    }
}

impl fmt::Display for Inputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [w] => write!(f, "{w}"),
            d => write!(f, "{d:?}"),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Form {
    One(usize),
    Many(Vec<usize>),
}

impl Serialize for Inputs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [w] => Form::One(*w).serialize(s),
            d => Form::Many(d.to_vec()).serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Inputs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Form::deserialize(d).map_err(|_| {
            serde::de::Error::custom("expected a width or a shape [channels, height, width]")
        })? {
            Form::One(w) => Ok(Inputs(vec![w])),
            Form::Many(v) => Ok(Inputs(v)),
        }
    }
}
