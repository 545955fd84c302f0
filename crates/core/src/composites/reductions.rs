use crate::element::Element;
use crate::error::Result;
use crate::shape::Shape;
use crate::tensor::Tensor;

impl<T: Element> Tensor<T> {
    /// Sum of all elements (rank 0).
    pub fn sum(&self) -> Tensor<T> {
        self.sum_to_shape(Shape::scalar_of_rank(self.rank()))
            .and_then(|s| s.reshape_to(Shape::scalar()))
            .expect("every shape reduces to a scalar")
    }

    /// Mean of all elements (rank 0).
    pub fn mean(&self) -> Tensor<T> {
        let n = self.numel().max(1);
        self.sum().mul_scalar(T::one() / T::from_f64(n as f64))
    }

    /// Sum over one axis; `keepdim` keeps it with size 1.
    pub fn sum_axis(&self, axis: usize, keepdim: bool) -> Result<Tensor<T>> {
        self.shape().check_axis("sum_axis", axis)?;
        let kept = self.shape().with_dim(axis, 1);
        let s = self.sum_to_shape(kept)?;
        if keepdim {
            Ok(s)
        } else {
            s.reshape_to(self.shape().without_dim(axis))
        }
    }

    /// Mean over one axis.
    pub fn mean_axis(&self, axis: usize, keepdim: bool) -> Result<Tensor<T>> {
        let n = self.shape().dims().get(axis).copied().unwrap_or(1).max(1);
        Ok(self
            .sum_axis(axis, keepdim)?
            .mul_scalar(T::one() / T::from_f64(n as f64)))
    }

    /// Maximum over one axis. The gradient goes to the first maximal element (as
    /// `torch.max(dim)`); it is a gather at the argmax, so it needs no rule of its own.
    pub fn max_axis(&self, axis: usize, keepdim: bool) -> Result<Tensor<T>> {
        let idx = self.argmax(axis)?;
        let m = self.gather_unchecked(axis, idx.into());
        if keepdim {
            Ok(m)
        } else {
            m.reshape_to(self.shape().without_dim(axis))
        }
    }
}
