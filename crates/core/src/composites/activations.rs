use crate::element::Element;
use crate::error::Result;
use crate::tensor::Tensor;

impl<T: Element> Tensor<T> {
    /// `max(0, x)` from primitives (the reference for the fused [`Tensor::relu`]); derivative 0
    /// at 0 (as PyTorch), second derivative 0 almost everywhere.
    pub fn relu_composite(&self) -> Tensor<T> {
        self.gt_scalar(T::zero())
            .select(self, &Tensor::scalar(T::zero()))
            .expect("a mask of the input's own shape")
    }

    /// `1 / (1 + e^−x)`, evaluated so that neither it nor any derivative overflows:
    /// with `z = −|x|` (the sign taken as a constant), `r = 1/(1+e^z)` and σ = r for x ≥ 0,
    /// 1 − r otherwise.
    pub fn sigmoid_composite(&self) -> Tensor<T> {
        let pos = self.ge_scalar(T::zero());
        let flip = pos.affine(T::from_f64(-2.0), T::one()); // −1 where x ≥ 0, +1 elsewhere
        let r = self
            .mul(&flip)
            .map(|z| z.exp().add_scalar(T::one()).powf(-T::one()))
            .expect("same shapes");
        pos.select(&r, &r.affine(-T::one(), T::one()))
            .expect("same shapes")
    }

    /// `tanh(x) = 2σ(2x) − 1`, from primitives (the reference for the fused [`Tensor::tanh`]).
    pub fn tanh_composite(&self) -> Tensor<T> {
        let two = T::from_f64(2.0);
        self.mul_scalar(two)
            .sigmoid_composite()
            .affine(two, -T::one())
    }

    /// `ln(1 + eˣ) = max(x, 0) + ln(1 + e^−|x|)`, stable for large |x|.
    pub fn softplus(&self) -> Tensor<T> {
        let pos = self.ge_scalar(T::zero());
        let flip = pos.affine(T::from_f64(-2.0), T::one());
        let tail = self
            .mul(&flip)
            .map(|z| z.exp().add_scalar(T::one()).log())
            .expect("same shapes");
        pos.select(self, &Tensor::scalar(T::zero()))
            .and_then(|r| r.add(&tail))
            .expect("same shapes")
    }

    /// Hard sigmoid `clamp(x/6 + 1/2, 0, 1)` (PyTorch's `Hardsigmoid`), written as the
    /// lectures' difference of two ReLUs.
    pub fn hard_sigmoid(&self) -> Tensor<T> {
        let sixth = T::one() / T::from_f64(6.0);
        let half = T::from_f64(0.5);
        let a = self.affine(sixth, half).relu();
        // The upper kink takes derivative 1 at 0 so that at x = 3 the two kinks cancel to 0,
        // as PyTorch's Hardsigmoid (slope 1/6 only strictly inside (−3, 3)).
        let z = self.affine(sixth, half - T::one());
        let b = z
            .ge_scalar(T::zero())
            .select(&z, &Tensor::scalar(T::zero()))
            .expect("a mask of the input's own shape");
        a.sub(&b).expect("same shapes")
    }

    /// Numerically stable `log(softmax(x))` along `axis`: the maximum is subtracted as a
    /// constant, which leaves the function (and all its derivatives) unchanged.
    pub fn log_softmax(&self, axis: usize) -> Result<Tensor<T>> {
        let m = self.max_axis(axis, true)?.detach();
        let z = self.sub(&m)?;
        let lse = z.exp().sum_axis(axis, true)?.log();
        z.sub(&lse)
    }

    /// `softmax(x) = eˣ / Σ eˣ` along `axis`, stable for large inputs.
    pub fn softmax(&self, axis: usize) -> Result<Tensor<T>> {
        let m = self.max_axis(axis, true)?.detach();
        let e = self.sub(&m)?.exp();
        let s = e.sum_axis(axis, true)?;
        e.div(&s)
    }
}
