//! A height × width pair given as one number or two, as PyTorch's `kernel_size`, `stride` and
//! `padding` are.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Height and width; `3` means `(3, 3)`, `[3, 1]` means `(3, 1)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size2(pub usize, pub usize);

impl Size2 {
    /// The same size both ways.
    pub fn square(n: usize) -> Self {
        Size2(n, n)
    }

    /// `(height, width)`.
    pub fn pair(self) -> (usize, usize) {
        (self.0, self.1)
    }
}

impl std::fmt::Display for Size2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0 == self.1 {
            write!(f, "{}", self.0)
        } else {
            write!(f, "{}×{}", self.0, self.1)
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Form {
    One(usize),
    Two([usize; 2]),
}

impl Serialize for Size2 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0 == self.1 {
            Form::One(self.0).serialize(s)
        } else {
            Form::Two([self.0, self.1]).serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for Size2 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Form::deserialize(d)
            .map_err(|_| serde::de::Error::custom("expected a size: a number or [height, width]"))?
        {
            Form::One(n) => Ok(Size2(n, n)),
            Form::Two([h, w]) => Ok(Size2(h, w)),
        }
    }
}
