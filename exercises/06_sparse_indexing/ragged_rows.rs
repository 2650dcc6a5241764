// Exercise 06_sparse_indexing/ragged_rows: ragged tensors as values plus offsets, reduced by
// segment operations.
//
// A ragged batch (the neighbours of each node of a graph, the tokens of each document) can be
// padded to a rectangle, which wastes memory when lengths vary a lot, or stored flat: every
// row's values one after another in `values` ([total]), and `offsets` ([rows + 1], int64) saying
// where each row starts, so that row i is values[offsets[i]..offsets[i + 1]]. Rows may be empty
// (two equal offsets). This is what torch.nested's jagged layout, TensorFlow's RaggedTensor and
// CSR's row pointers are. (torch.nested is not in tch: here it is two tensors.)
//
// The point of the layout is that nothing needs a loop over the rows. One tensor does it all:
// the row of each value, row_ids = [0, 0, 0, 2, 2] for lengths [3, 0, 2], which
// torch.repeat_interleave(lengths) makes. Then every per-row reduction is a segment reduction
// of the previous exercise:
//
//     sums  = zeros(rows).index_add(0, row_ids, values)
//     maxes = full(rows, -inf).scatter_reduce(0, row_ids, values, "amax")
//
// and anything per row can be sent back to the values with an index_select: maxes[row_ids] is
// each value's row maximum. A softmax per row is then the stable softmax of einsum_attention,
// written with these: subtract the row's max, exp, divide by the row's sum of exps.
//
// Empty rows: the sum is 0, the mean 0 (not 0 / 0), the max -inf (the identity of max: nothing
// is smaller), and the softmax has no values to produce.
//
// The checks read your code: no loop over the rows in Rust (for, while, loop, or closures over
// a range), which would be one libtorch call per row: slow on a CPU, slower on a GPU.

use tch::{Kind, Tensor};

/// Rows of different lengths in one flat tensor: row `i` is
/// `values[offsets[i]..offsets[i + 1]]`.
#[derive(Debug)]
pub struct Ragged {
    /// Every row's values, row after row: `[total]`.
    pub values: Tensor,
    /// Where each row starts, and the end: `[rows + 1]`, int64, from 0 up to `total`.
    pub offsets: Tensor,
}

impl Ragged {
    /// The number of rows.
    pub fn rows(&self) -> i64 {
        self.offsets.size()[0] - 1
    }

    /// The length of each row: `[rows]`, int64: `offsets[1:] - offsets[:-1]`.
    pub fn lengths(&self) -> Tensor {
        // TODO: two narrows of offsets, subtracted.
        todo!("lengths of {} rows", self.rows())
    }

    /// The row of each value: `[total]`, int64, `[0, 0, 0, 2, 2]` for lengths `[3, 0, 2]`.
    ///
    /// PyTorch: `torch.repeat_interleave(lengths, output_size=total)`
    pub fn row_ids(&self) -> Tensor {
        // TODO
        todo!("row_ids of {} rows", self.rows())
    }

    /// The sum of each row: `[rows]`, 0 for an empty row.
    ///
    /// PyTorch: `torch.zeros(rows).index_add(0, row_ids, values)`
    pub fn row_sums(&self) -> Tensor {
        // TODO
        todo!("row_sums of {} rows", self.rows())
    }

    /// The mean of each row: `[rows]`, 0 for an empty row.
    pub fn row_means(&self) -> Tensor {
        // TODO
        todo!("row_means of {} rows", self.rows())
    }

    /// The maximum of each row: `[rows]`, -inf for an empty row.
    ///
    /// PyTorch: `torch.full((rows,), -inf).scatter_reduce(0, row_ids, values, "amax")`
    pub fn row_maxes(&self) -> Tensor {
        // TODO: tch's name for torch.scatter_reduce is internal_scatter_reduce.
        todo!("row_maxes of {} rows", self.rows())
    }

    /// The softmax of each row, with the same offsets: the values of a row are
    /// `exp(x - max) / sum(exp(x - max))` over that row, stable for any magnitude.
    pub fn row_softmax(&self) -> Ragged {
        // TODO: maxes[row_ids] is each value's row maximum (index_select).
        todo!("row_softmax of {} rows", self.rows())
    }

    /// The rows as a `[rows, max_len]` tensor, `max_len` being the longest row's length (0
    /// without rows), each row padded with `fill` after its values.
    ///
    /// PyTorch:
    /// ```python
    /// mask = torch.arange(max_len)[None, :] < lengths[:, None]
    /// out = torch.full((rows, max_len), fill)
    /// out[mask] = values
    /// ```
    pub fn to_padded(&self, fill: f64) -> Tensor {
        // TODO: one scalar read of the largest length is fine (`lengths.max().int64_value(&[])`).
        todo!("to_padded of {} rows with fill {fill}", self.rows())
    }

    /// The ragged rows of `padded` (`[rows, width]`): row `i` is its first `lengths[i]` values
    /// (`lengths`: `[rows]`, int64); the rest is padding, whatever it holds.
    ///
    /// PyTorch: `values = padded[mask]; offsets = F.pad(lengths.cumsum(0), (1, 0))`
    pub fn from_padded(padded: &Tensor, lengths: &Tensor) -> Ragged {
        // TODO
        todo!("from_padded of {:?} and lengths {:?}", padded.size(), lengths.size())
    }
}

fn main() {
    // Rows [1, 2, 3], [] and [4, 5].
    let ragged = Ragged {
        values: Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0, 5.0]),
        offsets: Tensor::from_slice(&[0i64, 3, 3, 5]),
    };
    ragged.row_ids().print(); // [0, 0, 0, 2, 2]
    ragged.row_sums().print(); // [6, 0, 9]
    ragged.row_means().print(); // [2, 0, 4.5]
    ragged.row_maxes().print(); // [3, -inf, 5]
    ragged.row_softmax().values.print();
    let padded = ragged.to_padded(0.0);
    padded.print(); // [[1, 2, 3], [0, 0, 0], [4, 5, 0]]
    let back = Ragged::from_padded(&padded, &ragged.lengths());
    back.offsets.print(); // [0, 3, 3, 5]
    assert_eq!(back.values.kind(), Kind::Float);
}
