// Exercise 06_sparse_indexing/sparse_coo: sparse COO tensors, built, coalesced, multiplied and
// measured.
//
// A matrix that is mostly zeros (a graph's adjacency matrix, a bag of words, a pruned weight)
// wastes memory and time in dense form. The COO ("coordinate") format stores only the nonzero
// entries: an int64 tensor `indices` of shape [ndim, nnz] (column i holds the coordinates of
// entry i) and a tensor `values` of shape [nnz]. PyTorch builds one with
// torch.sparse_coo_tensor(indices, values, size); tch with
// Tensor::sparse_coo_tensor_indices_size(&indices, &values, size, options, is_coalesced).
// (Old tutorials and a well-known exercise sheet use torch.sparse.FloatTensor(indices, values,
// size): it is deprecated, and so is every torch.sparse.XTensor constructor.)
//
// Nothing stops two entries from having the same coordinates. Such a tensor is "uncoalesced":
// it means the sum of the duplicates, and most operations coalesce it first. coalesce() sorts
// the entries by their coordinates and sums the duplicates, after which `indices()` and
// `values()` are unique and in order (on an uncoalesced tensor they refuse to run).
//
// Operations on sparse tensors:
// - a.mm(b) (torch.sparse.mm or a @ b) multiplies a sparse a by a dense b: nnz * m products
//   instead of n * k * m, and a dense result;
// - a.sum_dim_intlist(1, ..) (torch.sparse.sum(a, dim=1)) sums rows and stays sparse: a row
//   without entries has no entry in the result; to_dense() gives the ordinary tensor;
// - dense.to_sparse() converts the other way.
//
// Gradients: the constructor from indices and values does not carry autograd from `values`
// (in tch through libtorch 2.13 the result never requires grad). dense.to_sparse() is
// differentiable: build the sparse tensor that way when a gradient must reach the dense weight.
//
// Memory: a dense tensor takes numel * e bytes (e = 4 for float32). COO takes nnz * (ndim * 8 + e):
// every entry pays for its int64 coordinates as well. So COO is not always smaller: for a
// float32 matrix, only below a density of 4 / (2 * 8 + 4) = 20%.
//
// The checks also try a 1,000,000 x 1,000,000 matrix with a few entries: 4 TB if ever made
// dense. Stay sparse until the result is small.

use tch::{Device, Kind, Tensor};

/// The sparse COO matrix of shape `shape` (`[rows, cols]`) with `values[i]` at
/// `(row[i], col[i])`, coalesced: entries sorted by position and repeated positions summed into
/// one entry. `row` and `col` are int64 tensors of shape `[nnz]`, `values` has shape `[nnz]`;
/// the result has the kind and device of `values`.
///
/// PyTorch:
/// ```python
/// indices = torch.stack([row, col])                          # [2, nnz]
/// torch.sparse_coo_tensor(indices, values, shape).coalesce()
/// ```
pub fn coo_from_triplets(row: &Tensor, col: &Tensor, values: &Tensor, shape: [i64; 2]) -> Tensor {
    // TODO: stack the coordinates into [2, nnz], build the tensor, coalesce.
    todo!(
        "coo_from_triplets of rows {:?}, cols {:?}, values {:?} into {shape:?}",
        row.size(),
        col.size(),
        values.size()
    )
}

/// The sum of each row of the sparse `[rows, cols]` matrix `a`, as a dense `[rows]` tensor
/// (0 for a row without entries).
///
/// PyTorch: `torch.sparse.sum(a, dim=1).to_dense()`
pub fn sparse_row_sums(a: &Tensor) -> Tensor {
    // TODO
    todo!("sparse_row_sums of a sparse {:?}", a.size())
}

/// The dense `[n, m]` product of the sparse `[n, k]` matrix `a` and the dense `[k, m]` matrix
/// `b`, without making `a` dense.
///
/// PyTorch: `torch.sparse.mm(a, b)` (or `a @ b`)
pub fn sparse_dense_matmul(a: &Tensor, b: &Tensor) -> Tensor {
    // TODO
    todo!("sparse_dense_matmul of {:?} and {:?}", a.size(), b.size())
}

/// `weight @ x` computed through a sparse copy of the dense, mostly zero `[n, k]` matrix
/// `weight` (a pruned layer), such that a backward pass gives gradients to both `weight` and
/// `x`, the same as the dense product would.
///
/// PyTorch: `torch.sparse.mm(weight.to_sparse(), x)`
pub fn sparse_linear(weight: &Tensor, x: &Tensor) -> Tensor {
    // TODO: which way of building the sparse tensor keeps weight in the graph?
    todo!("sparse_linear of {:?} and {:?}", weight.size(), x.size())
}

/// The number of bytes the coalesced sparse COO tensor `a` stores: its indices and its values.
///
/// PyTorch: `a.indices().nbytes + a.values().nbytes`
/// (in tch: `numel()` times `kind().elt_size_in_bytes()`).
pub fn coo_bytes(a: &Tensor) -> i64 {
    // TODO
    todo!("coo_bytes of a sparse {:?}", a.size())
}

/// The density (nnz / numel) below which a COO tensor with `ndim` sparse dimensions and values
/// of kind `kind` takes fewer bytes than the same tensor dense: 0.2 for a float32 matrix.
pub fn coo_break_even_density(ndim: i64, kind: Kind) -> f64 {
    // TODO: compare numel * e with nnz * (bytes of one entry's coordinates + e).
    todo!("coo_break_even_density for {ndim} dimensions of {kind:?}")
}

fn main() {
    // The seed's example: 3 at (0, 2), 4 at (1, 0), 5 at (1, 2); and 6 at (1, 2) once more.
    let row = Tensor::from_slice(&[0i64, 1, 1, 1]);
    let col = Tensor::from_slice(&[2i64, 0, 2, 2]);
    let values = Tensor::from_slice(&[3.0f32, 4.0, 5.0, 6.0]);
    let a = coo_from_triplets(&row, &col, &values, [2, 3]);
    // [[0, 0, 3], [4, 0, 11]]: the two entries at (1, 2) are summed.
    a.to_dense(None, false).print();
    sparse_row_sums(&a).print();
    sparse_dense_matmul(&a, &Tensor::ones([3, 1], (Kind::Float, Device::Cpu))).print();
    println!("{} bytes sparse, {} dense", coo_bytes(&a), 2 * 3 * 4);
    println!("float32 matrices: COO saves memory below density {}", coo_break_even_density(2, Kind::Float));
}
