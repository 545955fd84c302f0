//! Tensor shapes (rank 0 to 4) and NumPy broadcasting.

use crate::error::{Error, Result};
use std::fmt;

/// The largest rank a tensor may have.
pub const MAX_RANK: usize = 4;

/// A tensor shape of rank 0 to [`MAX_RANK`], stored inline so building one never allocates.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Shape {
    dims: [usize; MAX_RANK],
    rank: u8,
}

impl Shape {
    /// Builds a shape; ranks above [`MAX_RANK`] are an error.
    pub fn new(dims: &[usize]) -> Result<Self> {
        Self::new_in("shape", dims)
    }

    /// Builds a shape for the op `op`, which a rank error names.
    pub fn new_in(op: &'static str, dims: &[usize]) -> Result<Self> {
        if dims.len() > MAX_RANK {
            return Err(Error::RankTooLarge {
                op,
                rank: dims.len(),
                max: MAX_RANK,
            });
        }
        let mut d = [1; MAX_RANK];
        d[..dims.len()].copy_from_slice(dims);
        Ok(Shape {
            dims: d,
            rank: dims.len() as u8,
        })
    }

    /// A `[rows, columns]` shape.
    pub(crate) fn matrix(rows: usize, columns: usize) -> Self {
        let mut dims = [1; MAX_RANK];
        dims[0] = rows;
        dims[1] = columns;
        Shape { dims, rank: 2 }
    }

    /// The shape of a scalar (rank 0, one element).
    pub const fn scalar() -> Self {
        Shape {
            dims: [1; MAX_RANK],
            rank: 0,
        }
    }

    /// All ones, of the given rank: what a full reduction keeps before dropping the axes.
    pub(crate) fn scalar_of_rank(rank: usize) -> Self {
        Shape {
            dims: [1; MAX_RANK],
            rank: rank as u8,
        }
    }

    pub fn dims(&self) -> &[usize] {
        &self.dims[..self.rank as usize]
    }

    pub fn rank(&self) -> usize {
        self.rank as usize
    }

    pub fn numel(&self) -> usize {
        self.dims().iter().product()
    }

    /// Size of one axis.
    pub fn dim(&self, axis: usize) -> usize {
        self.dims()[axis]
    }

    /// The shape padded on the left with ones to rank 4, as broadcasting aligns shapes.
    pub(crate) fn padded(&self) -> [usize; MAX_RANK] {
        let mut out = [1; MAX_RANK];
        let r = self.rank();
        out[MAX_RANK - r..].copy_from_slice(self.dims());
        out
    }

    /// Row-major strides of [`Self::padded`], with 0 where the dimension is 1 so that a
    /// broadcast operand can be read with the output's index.
    pub(crate) fn broadcast_strides(&self) -> [usize; MAX_RANK] {
        let p = self.padded();
        let mut s = [0; MAX_RANK];
        let mut acc = 1;
        for i in (0..MAX_RANK).rev() {
            s[i] = if p[i] == 1 { 0 } else { acc };
            acc *= p[i];
        }
        s
    }

    /// The same shape with one axis replaced by `size`.
    pub(crate) fn with_dim(&self, axis: usize, size: usize) -> Shape {
        let mut s = *self;
        s.dims[axis] = size;
        s
    }

    /// The same shape without one axis.
    pub(crate) fn without_dim(&self, axis: usize) -> Shape {
        let mut d = [1; MAX_RANK];
        let mut k = 0;
        for (i, &x) in self.dims().iter().enumerate() {
            if i != axis {
                d[k] = x;
                k += 1;
            }
        }
        Shape {
            dims: d,
            rank: self.rank - 1,
        }
    }

    /// NumPy broadcasting of two shapes, or a mismatch error naming `op`.
    pub fn broadcast(op: &'static str, a: &Shape, b: &Shape) -> Result<Shape> {
        let rank = a.rank().max(b.rank());
        let (pa, pb) = (a.padded(), b.padded());
        let mut d = [1; MAX_RANK];
        for i in 0..MAX_RANK {
            d[i] = match (pa[i], pb[i]) {
                (x, y) if x == y => x,
                (1, y) => y,
                (x, 1) => x,
                _ => {
                    return Err(Error::ShapeMismatch {
                        op,
                        lhs: *a,
                        rhs: *b,
                    })
                }
            };
        }
        let mut out = [1; MAX_RANK];
        out[..rank].copy_from_slice(&d[MAX_RANK - rank..]);
        Ok(Shape {
            dims: out,
            rank: rank as u8,
        })
    }

    /// True when `self` can be broadcast to `target`.
    pub fn broadcasts_to(&self, target: &Shape) -> bool {
        if self.rank() > target.rank() {
            return false;
        }
        let (ps, pt) = (self.padded(), target.padded());
        (0..MAX_RANK).all(|i| ps[i] == pt[i] || ps[i] == 1)
    }

    /// Checks an axis index against the rank.
    pub(crate) fn check_axis(&self, op: &'static str, axis: usize) -> Result<()> {
        if axis >= self.rank() {
            return Err(Error::invalid(
                op,
                format!("axis {axis} out of range for shape {self}"),
            ));
        }
        Ok(())
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (i, d) in self.dims().iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{d}")?;
        }
        write!(f, "]")
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_numpy() {
        let s = |d: &[usize]| Shape::new(d).unwrap();
        assert_eq!(
            Shape::broadcast("add", &s(&[3, 1]), &s(&[4])).unwrap(),
            s(&[3, 4])
        );
        assert_eq!(
            Shape::broadcast("add", &s(&[]), &s(&[2, 3])).unwrap(),
            s(&[2, 3])
        );
        let err = Shape::broadcast("add", &s(&[3, 2]), &s(&[4])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "shape mismatch in add: lhs [3, 2], rhs [4]"
        );
        assert!(Shape::new(&[1, 2, 3, 4, 5]).is_err());
        assert_eq!(s(&[2, 3]).broadcast_strides(), [0, 0, 3, 1]);
        assert_eq!(s(&[2, 1]).broadcast_strides(), [0, 0, 1, 0]);
    }
}
