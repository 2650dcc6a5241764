// Exercise 06_sparse_indexing/padded_sequences: a batch of sequences of different lengths.
//
// Sentences, audio clips and user histories differ in length, and a tensor is rectangular. The
// usual batch pads them to the longest: `padded` of shape [b, t, d] and `lengths` of shape [b]
// (int64), sequence i valid at steps 0..lengths[i]. What lies beyond is padding: zeros, often,
// but nothing promises it. It may be whatever a previous layer wrote there, NaN included.
//
// Everything here comes from one mask, made by broadcasting without a loop:
//
//     mask = torch.arange(t)[None, :] < lengths[:, None]       # [b, t], true where valid
//
// - The last valid step of each sequence (what an RNN's final state reads) is at index
//   lengths - 1: one gather. An empty sequence (length 0) has none: index -1 is out of bounds
//   for gather, so clamp the index at 0 and set those rows to 0 afterwards.
// - Mean pooling divides the sum of the valid steps by the length, not by t. Zero the padding by
//   selection (masked_fill or where), not by multiplying by the mask: NaN * 0 is NaN. And an
//   empty sequence would be 0 / 0: divide by max(length, 1).
// - Packing removes the padding: padded[mask] (boolean indexing) is [sum(lengths), d], sequence
//   0's steps, then sequence 1's, and so on. This is not torch's pack_padded_sequence, which
//   orders by time step (every sequence's step 0 first) for RNN kernels: here it is the order of
//   torch.cat([padded[i, :lengths[i]] for i in range(b)]).
// - Unpacking puts them back: zeros, then an index_put with the same mask (out[mask] = flat).
//
// No loop over the sequences is needed anywhere.

use tch::{Kind, Tensor};

/// The `[b, max_len]` boolean mask of the valid steps: true at `(i, j)` when `j < lengths[i]`.
///
/// PyTorch: `torch.arange(max_len)[None, :] < lengths[:, None]`
pub fn length_mask(lengths: &Tensor, max_len: i64) -> Tensor {
    // TODO
    todo!("length_mask of lengths {:?} up to {max_len}", lengths.size())
}

/// The last valid step of each sequence of `padded` (`[b, t, d]`), as `[b, d]`: row `i` is
/// `padded[i, lengths[i] - 1]`, and zeros when `lengths[i]` is 0.
///
/// PyTorch:
/// ```python
/// last = (lengths - 1).clamp(min=0)
/// out = padded[torch.arange(b), last]            # or a gather along dim 1
/// out.masked_fill(lengths[:, None] == 0, 0.0)
/// ```
pub fn last_valid(padded: &Tensor, lengths: &Tensor) -> Tensor {
    // TODO
    todo!("last_valid of padded {:?} and lengths {:?}", padded.size(), lengths.size())
}

/// The mean over the valid steps of each sequence, as `[b, d]`; zeros for an empty sequence;
/// whatever the padding holds (NaN included) must not change the result.
///
/// PyTorch:
/// ```python
/// sums = padded.masked_fill(~mask[:, :, None], 0.0).sum(1)
/// sums / lengths.clamp(min=1)[:, None]
/// ```
pub fn masked_mean(padded: &Tensor, lengths: &Tensor) -> Tensor {
    // TODO
    todo!("masked_mean of padded {:?} and lengths {:?}", padded.size(), lengths.size())
}

/// The valid steps of every sequence, sequence after sequence, as `[sum(lengths), d]`.
///
/// PyTorch: `padded[mask]`
pub fn pack(padded: &Tensor, lengths: &Tensor) -> Tensor {
    // TODO
    todo!("pack of padded {:?} and lengths {:?}", padded.size(), lengths.size())
}

/// The inverse of `pack`: `[b, max_len, d]`, sequence `i`'s `lengths[i]` rows of `flat` first,
/// then zeros.
///
/// PyTorch:
/// ```python
/// out = torch.zeros(b, max_len, d)
/// out[mask] = flat
/// ```
pub fn unpack(flat: &Tensor, lengths: &Tensor, max_len: i64) -> Tensor {
    // TODO
    todo!("unpack of flat {:?} and lengths {:?} into {max_len} steps", flat.size(), lengths.size())
}

fn main() {
    // Two sequences of one feature, of lengths 3 and 1, padded with -1.
    let padded = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0, -1.0, -1.0]).reshape([2, 3, 1]);
    assert_eq!(padded.kind(), Kind::Float);
    let lengths = Tensor::from_slice(&[3i64, 1]);
    length_mask(&lengths, 3).print();
    // [[3], [4]]
    last_valid(&padded, &lengths).print();
    // [[2], [4]]
    masked_mean(&padded, &lengths).print();
    // [[1], [2], [3], [4]]
    let flat = pack(&padded, &lengths);
    flat.print();
    // [[[1], [2], [3]], [[4], [0], [0]]]
    unpack(&flat, &lengths, 3).print();
}
