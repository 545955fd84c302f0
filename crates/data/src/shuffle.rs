use rand::RngCore;
use rand_chacha::ChaCha8Rng;

/// Fisher–Yates shuffle (Knuth, TAOCP vol. 2, Algorithm P) driven by `rng`.
///
/// Written out rather than taken from `rand` so that the permutation for a given seed depends
/// only on this code and the ChaCha8 stream, which is fixed by its specification: upgrading
/// `rand` cannot silently change which rows land in which split or batch.
pub(crate) fn shuffle<T>(items: &mut [T], rng: &mut ChaCha8Rng) {
    for i in (1..items.len()).rev() {
        let j = below(rng, i as u64 + 1) as usize;
        items.swap(i, j);
    }
}

/// A uniform integer in `0..bound` (`bound > 0`), by Lemire's multiply-and-reject method
/// ("Fast Random Integer Generation in an Interval", 2019), which has no modulo bias.
fn below(rng: &mut ChaCha8Rng, bound: u64) -> u64 {
    let threshold = bound.wrapping_neg() % bound;
    loop {
        let product = u128::from(rng.next_u64()) * u128::from(bound);
        if (product as u64) >= threshold {
            return (product >> 64) as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn below_is_roughly_uniform() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut counts = [0u32; 3];
        for _ in 0..30_000 {
            counts[below(&mut rng, 3) as usize] += 1;
        }
        // Expected 10,000 each, standard deviation about 82; 500 is over 6 of them.
        for c in counts {
            assert!((9_500..10_500).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut v: Vec<usize> = (0..100).collect();
        shuffle(&mut v, &mut rng);
        assert_ne!(v, (0..100).collect::<Vec<_>>());
        v.sort_unstable();
        assert_eq!(v, (0..100).collect::<Vec<_>>());
    }
}
