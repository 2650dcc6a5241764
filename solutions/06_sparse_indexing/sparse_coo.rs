// Reference solution of 06_sparse_indexing/sparse_coo.

use tch::{Device, Kind, Tensor};

/// The `[rows, cols]` sparse COO matrix with `values[i]` at `(row[i], col[i])`, coalesced: sorted,
/// with the values of repeated positions summed.
pub fn coo_from_triplets(row: &Tensor, col: &Tensor, values: &Tensor, shape: [i64; 2]) -> Tensor {
    // indices is [2, nnz]: the row indices above the column indices, one column per entry.
    let indices = Tensor::stack(&[row, col], 0);
    let options = (values.kind(), values.device());
    // is_coalesced = false: we do not promise sorted, unique indices, so coalesce() does the
    // work (sorts and sums duplicates) instead of trusting them.
    Tensor::sparse_coo_tensor_indices_size(&indices, values, shape, options, false).coalesce()
}

/// The sum of each row of a sparse `[rows, cols]` matrix, as a dense `[rows]` tensor.
pub fn sparse_row_sums(a: &Tensor) -> Tensor {
    // torch.sparse.sum(a, dim=1) is sparse (a row without entries has no entry): densify it.
    a.sum_dim_intlist(1, false, None::<Kind>).to_dense(None, false)
}

/// The dense product of a sparse `[n, k]` matrix and a dense `[k, m]` matrix.
pub fn sparse_dense_matmul(a: &Tensor, b: &Tensor) -> Tensor {
    // Sparse @ dense multiplies only the stored entries: nnz * m products, not n * k * m.
    a.mm(b)
}

/// `weight @ x` computed through a sparse copy of the (mostly zero) dense `weight`, with the
/// gradient flowing back to both `weight` and `x`.
pub fn sparse_linear(weight: &Tensor, x: &Tensor) -> Tensor {
    // to_sparse() is differentiable; sparse_coo_tensor(indices, values) is not: it would cut
    // `weight` off from the graph.
    weight.to_sparse(None, None::<i64>, None::<i64>).mm(x)
}

/// The bytes a coalesced sparse COO tensor stores: its int64 indices and its values.
pub fn coo_bytes(a: &Tensor) -> i64 {
    let indices = a.indices();
    let values = a.values();
    indices.numel() as i64 * indices.kind().elt_size_in_bytes() as i64
        + values.numel() as i64 * values.kind().elt_size_in_bytes() as i64
}

/// The density (fraction of nonzero entries) below which a COO tensor with `ndim` sparse
/// dimensions and values of `kind` takes fewer bytes than the dense tensor.
pub fn coo_break_even_density(ndim: i64, kind: Kind) -> f64 {
    // Dense: numel * e bytes. COO: nnz * (ndim * 8 + e) bytes. Equal at nnz / numel = e / (ndim * 8 + e).
    let e = kind.elt_size_in_bytes() as f64;
    e / (ndim as f64 * 8.0 + e)
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
