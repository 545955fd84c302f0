//! Data augmentation of training images: every image of a training batch shifted by a random
//! whole number of pixels in each direction (vacated pixels zero) and flipped left to right
//! with probability 1/2, drawn from its own generator. Validation, test and every diagnostic
//! see the images as they are.

use rand_chacha::rand_core::RngCore;
use trainscope_core::{Element, Rng};
use trainscope_data::Standardizer;

/// How one image moves: `dy` rows down, `dx` columns right, after a left-right mirror if
/// `flip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transform {
    /// Rows down (negative: up).
    pub dy: isize,
    /// Columns right (negative: left).
    pub dx: isize,
    /// Mirror left to right first.
    pub flip: bool,
}

impl Transform {
    /// Whether the image stays as it is.
    pub fn is_identity(self) -> bool {
        self.dy == 0 && self.dx == 0 && !self.flip
    }
}

/// `image` (`[C, H, W]` row-major) moved by `t` into `out`: `out[c][y][x]` is the mirrored
/// image's pixel at `(y − dy, x − dx)`, or `fill` where that lies outside.
pub fn transform_image(image: &[f64], shape: [usize; 3], t: Transform, fill: f64, out: &mut [f64]) {
    let [c, h, w] = shape;
    debug_assert!(image.len() == c * h * w && out.len() == image.len());
    for ch in 0..c {
        let plane = ch * h * w;
        for y in 0..h {
            let sy = y as isize - t.dy;
            for x in 0..w {
                let sx = x as isize - t.dx;
                out[plane + y * w + x] = if sy < 0 || sy >= h as isize || sx < 0 || sx >= w as isize
                {
                    fill
                } else {
                    let sx = if t.flip {
                        w - 1 - sx as usize
                    } else {
                        sx as usize
                    };
                    image[plane + sy as usize * w + sx]
                };
            }
        }
    }
}

/// The augmentation of a run: what to draw, the images' shape, and the standardization the
/// rows went through (shifts and flips act on the pixels in the data's own units, so that a
/// vacated pixel is a zero of the data, and each moved pixel is standardized for its new place).
pub(crate) struct Augmenter {
    shift: usize,
    hflip: bool,
    shape: [usize; 3],
    /// Per-pixel mean and standard deviation of the standardization, if any.
    standardizer: Option<(Vec<f64>, Vec<f64>)>,
    raw: Vec<f64>,
    moved: Vec<f64>,
}

impl Augmenter {
    /// Shifts of up to ±`shift` pixels and, if `hflip`, mirrors, of images of `shape` whose
    /// rows were standardized by `standardizer`. `None` when neither is asked for.
    pub(crate) fn new(
        shift: usize,
        hflip: bool,
        shape: [usize; 3],
        standardizer: Option<&Standardizer>,
    ) -> Option<Augmenter> {
        if shift == 0 && !hflip {
            return None;
        }
        let n = shape.iter().product();
        Some(Augmenter {
            shift,
            hflip,
            shape,
            standardizer: standardizer.map(|s| (s.mean().to_vec(), s.std().to_vec())),
            raw: vec![0.0; n],
            moved: vec![0.0; n],
        })
    }

    /// The next image's transform from `rng`: for a shift, `dy` then `dx`, each uniform on
    /// −shift..=shift; for a flip, one fair coin.
    pub(crate) fn draw(&self, rng: &mut Rng) -> Transform {
        let mut uniform = |n: u64| ((u128::from(rng.next_u64()) * u128::from(n)) >> 64) as isize;
        let (mut dy, mut dx) = (0, 0);
        if self.shift > 0 {
            let span = 2 * self.shift as u64 + 1;
            dy = uniform(span) - self.shift as isize;
            dx = uniform(span) - self.shift as isize;
        }
        let flip = self.hflip && uniform(2) == 1;
        Transform { dy, dx, flip }
    }

    /// Moves every image (row) of the batch `x` in place, each by its own draw from `rng`.
    pub(crate) fn apply<T: Element>(&mut self, x: &mut [T], rng: &mut Rng) {
        let n = self.raw.len();
        for row in x.chunks_exact_mut(n) {
            let t = self.draw(rng);
            if t.is_identity() {
                continue;
            }
            for (j, (r, &v)) in self.raw.iter_mut().zip(row.iter()).enumerate() {
                *r = match &self.standardizer {
                    Some((mean, std)) => v.to_f64() * std[j] + mean[j],
                    None => v.to_f64(),
                };
            }
            transform_image(&self.raw, self.shape, t, 0.0, &mut self.moved);
            for (j, (v, &m)) in row.iter_mut().zip(&self.moved).enumerate() {
                *v = T::from_f64(match &self.standardizer {
                    Some((mean, std)) => (m - mean[j]) / std[j],
                    None => m,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trainscope_core::seeded_rng;

    /// A 2 × 3 × 4 image whose pixel value names its place: 100·c + 10·y + x + 1.
    fn image() -> Vec<f64> {
        (0..2)
            .flat_map(|c| {
                (0..3).flat_map(move |y| (0..4).map(move |x| (100 * c + 10 * y + x + 1) as f64))
            })
            .collect()
    }

    fn moved(t: Transform) -> Vec<f64> {
        let mut out = vec![f64::NAN; 24];
        transform_image(&image(), [2, 3, 4], t, 0.0, &mut out);
        out
    }

    #[test]
    fn shifts_and_flips_move_the_known_pixels() {
        let none = Transform {
            dy: 0,
            dx: 0,
            flip: false,
        };
        assert_eq!(moved(none), image());
        // One row down, two columns left: row 0 is vacated, columns 2 and 3 too.
        let shifted = moved(Transform {
            dy: 1,
            dx: -2,
            ..none
        });
        #[rustfmt::skip]
        let want = [
            0.0, 0.0, 0.0, 0.0,
            3.0, 4.0, 0.0, 0.0,
            13.0, 14.0, 0.0, 0.0,
            0.0, 0.0, 0.0, 0.0,
            103.0, 104.0, 0.0, 0.0,
            113.0, 114.0, 0.0, 0.0,
        ];
        assert_eq!(shifted, want);
        // A mirror reverses each row of each channel.
        let flipped = moved(Transform { flip: true, ..none });
        assert_eq!(&flipped[..8], &[4.0, 3.0, 2.0, 1.0, 14.0, 13.0, 12.0, 11.0]);
        assert_eq!(&flipped[20..], &[124.0, 123.0, 122.0, 121.0]);
        // Mirror, then one column right and one row up.
        let both = moved(Transform {
            dy: -1,
            dx: 1,
            flip: true,
        });
        assert_eq!(
            &both[..12],
            &[0.0, 14.0, 13.0, 12.0, 0.0, 24.0, 23.0, 22.0, 0.0, 0.0, 0.0, 0.0]
        );
    }

    #[test]
    fn draws_cover_every_shift_and_both_sides_and_nothing_else() {
        let a = Augmenter::new(2, true, [1, 5, 5], None).unwrap();
        let mut rng = seeded_rng(7);
        let mut seen = std::collections::BTreeSet::new();
        let mut flips = 0;
        for _ in 0..4000 {
            let t = a.draw(&mut rng);
            seen.insert((t.dy, t.dx));
            flips += usize::from(t.flip);
        }
        assert_eq!(seen.len(), 25);
        assert!(seen.iter().all(|&(y, x)| y.abs() <= 2 && x.abs() <= 2));
        assert!((1800..2200).contains(&flips), "{flips} flips in 4000");
        assert!(Augmenter::new(0, false, [1, 5, 5], None).is_none());
        let shift_only = Augmenter::new(1, false, [1, 5, 5], None).unwrap();
        assert!((0..200).all(|_| !shift_only.draw(&mut rng).flip));
    }

    #[test]
    fn standardized_rows_move_in_the_datas_units() {
        // Pixels of means 2, 3, 4 and standard deviation 2: a raw value v is stored as
        // (v − mean) / 2.
        let s = Standardizer::fit(&[0.0, 1.0, 2.0, 4.0, 5.0, 6.0], 3).unwrap();
        assert_eq!(s.mean(), [2.0, 3.0, 4.0]);
        assert_eq!(s.std(), [2.0, 2.0, 2.0]);
        let mut a = Augmenter::new(0, true, [1, 1, 3], Some(&s)).unwrap();
        let raw = [10.0, 20.0, 30.0];
        let mut row: Vec<f64> = raw
            .iter()
            .zip(s.mean())
            .map(|(v, m)| (v - m) / 2.0)
            .collect();
        // Draw until a flip comes (a fair coin; the seed makes it the same every time).
        let mut rng = seeded_rng(3);
        let mut flipped = false;
        while !flipped {
            let before = row.clone();
            a.apply(&mut row, &mut rng);
            flipped = row != before;
        }
        let want: Vec<f64> = [30.0, 20.0, 10.0]
            .iter()
            .zip(s.mean())
            .map(|(v, m)| (v - m) / 2.0)
            .collect();
        assert_eq!(row, want);
    }
}
