// Reference solution of 06_sparse_indexing/padded_sequences.

use tch::{Kind, Tensor};

/// `[b, max_len]` booleans, true at step `j` of sequence `i` when `j < lengths[i]`.
pub fn length_mask(lengths: &Tensor, max_len: i64) -> Tensor {
    // [1, max_len] against [b, 1]: broadcasting compares every step with every length.
    let steps = Tensor::arange(max_len, (Kind::Int64, lengths.device()));
    steps.unsqueeze(0).lt_tensor(&lengths.unsqueeze(1))
}

/// The last valid step of each sequence of `padded` (`[b, t, d]`): `[b, d]`, zeros for an empty
/// sequence.
pub fn last_valid(padded: &Tensor, lengths: &Tensor) -> Tensor {
    let (b, d) = (padded.size()[0], padded.size()[2]);
    // Step lengths - 1, clamped so that an empty sequence reads step 0 (then zeroed).
    let last = (lengths - 1).clamp_min(0);
    let index = last.view([b, 1, 1]).expand([b, 1, d], false);
    let picked = padded.gather(1, &index, false).squeeze_dim(1);
    // masked_fill, not a multiplication: whatever step 0 of an empty sequence holds (NaN
    // included) becomes 0.
    picked.masked_fill(&lengths.eq(0).unsqueeze(1), 0.0)
}

/// The mean of the valid steps of each sequence: `[b, d]`, zeros for an empty sequence,
/// whatever the padding holds.
pub fn masked_mean(padded: &Tensor, lengths: &Tensor) -> Tensor {
    let mask = length_mask(lengths, padded.size()[1]).unsqueeze(2);
    // Zero the padding by selection (masked_fill), so a NaN there cannot leak: NaN * 0 is NaN.
    let sums = padded.masked_fill(&mask.logical_not(), 0.0).sum_dim_intlist(1, false, None::<Kind>);
    // An empty sequence sums to 0; dividing by max(length, 1) keeps it 0 instead of 0 / 0.
    let counts = lengths.clamp_min(1).to_kind(padded.kind()).unsqueeze(1);
    sums / counts
}

/// The valid steps of all sequences, sequence after sequence: `[sum(lengths), d]`.
pub fn pack(padded: &Tensor, lengths: &Tensor) -> Tensor {
    // Boolean indexing with a [b, t] mask walks [b, t] in row-major order: sequence 0's steps,
    // then sequence 1's, and keeps the last dimension.
    padded.index(&[Some(length_mask(lengths, padded.size()[1]))])
}

/// The inverse of `pack`: `[b, max_len, d]` with sequence `i`'s `lengths[i]` steps first and
/// zeros after them.
pub fn unpack(flat: &Tensor, lengths: &Tensor, max_len: i64) -> Tensor {
    let b = lengths.size()[0];
    let zeros = Tensor::zeros([b, max_len, flat.size()[1]], (flat.kind(), flat.device()));
    zeros.index_put(&[Some(length_mask(lengths, max_len))], flat, false)
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
