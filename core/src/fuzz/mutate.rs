//! Byte-level mutations of an input, as libFuzzer's and AFL's: change a byte, set one to an
//! interesting value, insert or remove bytes, copy a run within the input, splice with
//! another input. Each decoded choice takes a byte or two (`decode`), so one mutation
//! changes one or two choices and leaves the others alone, mostly.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{Genome, MAX_GENOME};

/// A mutation of `parent` (`other`: another input to splice with); one to four mutations
/// stacked, as AFL's havoc stage does.
pub fn mutate(parent: &Genome, other: Option<&Genome>, rng: &mut ChaCha8Rng) -> Genome {
    let mut bytes = parent.0.clone();
    for _ in 0..rng.random_range(1..=4) {
        mutate_once(&mut bytes, other, rng);
    }
    bytes.truncate(MAX_GENOME);
    Genome(bytes)
}

/// A fresh input: random bytes, short or long.
pub fn fresh(rng: &mut ChaCha8Rng) -> Genome {
    let len = rng.random_range(0..=64);
    Genome((0..len).map(|_| rng.random()).collect())
}

fn mutate_once(bytes: &mut Vec<u8>, other: Option<&Genome>, rng: &mut ChaCha8Rng) {
    if bytes.is_empty() {
        bytes.extend((0..rng.random_range(1..=8)).map(|_| rng.random::<u8>()));
        return;
    }
    let at = rng.random_range(0..bytes.len());
    match rng.random_range(0..9) {
        0 => bytes[at] = rng.random(),
        1 => bytes[at] ^= 1 << rng.random_range(0..8),
        2 => bytes[at] = bytes[at].wrapping_add(rng.random_range(1..=4)),
        3 => bytes[at] = bytes[at].wrapping_sub(rng.random_range(1..=4)),
        4 => bytes[at] = [0, 1, 2, 3, 0x7f, 0x80, 0xff][rng.random_range(0..7)],
        5 if bytes.len() < MAX_GENOME => {
            let count = rng.random_range(1..=4);
            for _ in 0..count {
                bytes.insert(at, rng.random());
            }
        }
        6 if bytes.len() > 1 => {
            let end = (at + rng.random_range(1..=4)).min(bytes.len());
            bytes.drain(at..end);
        }
        7 => {
            let from = rng.random_range(0..bytes.len());
            let len = rng
                .random_range(1..=4)
                .min(bytes.len() - from)
                .min(bytes.len() - at);
            let run: Vec<u8> = bytes[from..from + len].to_vec();
            bytes[at..at + len].copy_from_slice(&run);
        }
        _ => match other {
            // Splice: this input's head, the other's tail.
            Some(other) if !other.0.is_empty() => {
                let from = rng.random_range(0..other.0.len());
                bytes.truncate(at);
                bytes.extend_from_slice(&other.0[from..]);
            }
            _ => bytes[at] = rng.random(),
        },
    }
}
