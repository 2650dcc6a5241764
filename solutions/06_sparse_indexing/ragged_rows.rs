// Reference solution of 06_sparse_indexing/ragged_rows.

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

    /// The length of each row: `[rows]`, int64.
    pub fn lengths(&self) -> Tensor {
        let rows = self.rows();
        self.offsets.narrow(0, 1, rows) - self.offsets.narrow(0, 0, rows)
    }

    /// The row of each value: `[total]`, int64, `[0, 0, 0, 2, 2]` for lengths `[3, 0, 2]`.
    pub fn row_ids(&self) -> Tensor {
        // torch.repeat_interleave(lengths): row i repeated lengths[i] times. output_size spares
        // libtorch a sum of the lengths (and a device sync on a GPU).
        Tensor::repeat_interleave(&self.lengths(), self.values.size()[0])
    }

    /// The sum of each row: `[rows]`, 0 for an empty row.
    pub fn row_sums(&self) -> Tensor {
        let zeros = Tensor::zeros([self.rows()], (self.values.kind(), self.values.device()));
        zeros.index_add(0, &self.row_ids(), &self.values)
    }

    /// The mean of each row: `[rows]`, 0 for an empty row.
    pub fn row_means(&self) -> Tensor {
        self.row_sums() / self.lengths().clamp_min(1).to_kind(self.values.kind())
    }

    /// The maximum of each row: `[rows]`, -inf for an empty row (nothing is larger than -inf,
    /// the identity of max).
    pub fn row_maxes(&self) -> Tensor {
        let lowest =
            Tensor::full([self.rows()], f64::NEG_INFINITY, (self.values.kind(), self.values.device()));
        // include_self = true is harmless here: -inf never wins a max, and stays for empty rows.
        lowest.internal_scatter_reduce(0, &self.row_ids(), &self.values, "amax", true)
    }

    /// The softmax of each row, with the same offsets.
    pub fn row_softmax(&self) -> Ragged {
        let ids = self.row_ids();
        // Subtract each row's maximum, sent back to its values: exp never overflows.
        let shifted = &self.values - self.row_maxes().index_select(0, &ids);
        let exps = shifted.exp();
        let zeros = Tensor::zeros([self.rows()], (self.values.kind(), self.values.device()));
        let sums = zeros.index_add(0, &ids, &exps);
        Ragged { values: exps / sums.index_select(0, &ids), offsets: self.offsets.copy() }
    }

    /// The rows as a `[rows, max_len]` tensor (`max_len` the longest row's length, 0 without
    /// rows), padded with `fill`.
    pub fn to_padded(&self, fill: f64) -> Tensor {
        let lengths = self.lengths();
        let max_len = if self.rows() == 0 { 0 } else { lengths.max().int64_value(&[]) };
        let steps = Tensor::arange(max_len, (Kind::Int64, self.values.device()));
        let mask = steps.unsqueeze(0).lt_tensor(&lengths.unsqueeze(1));
        let padded = Tensor::full([self.rows(), max_len], fill, (self.values.kind(), self.values.device()));
        // Boolean indexing fills the mask's true places in row-major order: row after row.
        padded.index_put(&[Some(mask)], &self.values, false)
    }

    /// The ragged rows of `padded` (`[rows, width]`), row `i` being its first `lengths[i]`
    /// values.
    pub fn from_padded(padded: &Tensor, lengths: &Tensor) -> Ragged {
        let steps = Tensor::arange(padded.size()[1], (Kind::Int64, padded.device()));
        let mask = steps.unsqueeze(0).lt_tensor(&lengths.unsqueeze(1));
        let zero = Tensor::zeros([1], (Kind::Int64, lengths.device()));
        // offsets = [0, l0, l0 + l1, ...]: the running sum of the lengths after a 0.
        let offsets = Tensor::cat(&[zero, lengths.cumsum(0, Kind::Int64)], 0);
        Ragged { values: padded.index(&[Some(mask)]), offsets }
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
