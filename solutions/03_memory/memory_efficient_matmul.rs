// Exercise 03_memory/memory_efficient_matmul: a result of A @ B^T without A @ B^T.
//
// Attention-like computations take, for each of n rows of `a`, a score against each of m rows of
// `b` (the matrix product a @ b^T, [n, m]) and reduce the scores of a row to something small: a
// softmax-weighted sum of the rows of `v` ([n, e]), or the k best scores ([n, k]). Written
// naively, the whole [n, m] score matrix exists at once, and the softmax makes a second one: for
// n = m = 100,000 rows that is 40 GB in float32 each, for a result of a few MB.
//
// Each row's result depends on its own row of scores only. So compute it in blocks of rows:
// take `block` rows of `a` (`a.narrow(0, start, len)`: a view, no copy), compute their
// [block, m] scores, reduce them, and keep only the reduced [block, e] piece. The peak is then
// about block * m scores instead of n * m, and the values are the same (each row is computed by
// the same operations). The last block is smaller when `block` does not divide n: `narrow`
// past the end is an error, so its length is `min(block, n - start)`.
//
// The block size trades memory for speed: tiny blocks make many small matrix products
// (slow), huge ones bring back the peak. The checks measure your peak with the support
// library's allocator statistics (`tensorlings_support::memory`) against the naive version's,
// in the same process, and check that a smaller block gives a smaller peak.

use tch::{Kind, Tensor};

/// `softmax(a @ b^T, dim=-1) @ v`, written whole: the reference the blocked version must equal.
/// `a` is [n, d], `b` is [m, d], `v` is [m, e]; the result is [n, e].
pub fn naive_softmax_weighted_sum(a: &Tensor, b: &Tensor, v: &Tensor) -> Tensor {
    a.matmul(&b.tr()).softmax(-1, a.kind()).matmul(v)
}

/// The k largest scores of each row of `a @ b^T` and their column indices, largest first,
/// written whole.
pub fn naive_topk_scores(a: &Tensor, b: &Tensor, k: i64) -> (Tensor, Tensor) {
    a.matmul(&b.tr()).topk(k, -1, true, true)
}

/// `softmax(a @ b^T, dim=-1) @ v` in blocks of `block` rows of `a` (block >= 1; the last block
/// may be smaller), so that at most about block * m scores exist at once. Equal to
/// `naive_softmax_weighted_sum`, for n = 0 rows too.
///
/// PyTorch:
/// ```python
/// pieces = []
/// for start in range(0, n, block):
///     rows = a[start:start + block]                      # a view
///     pieces.append((rows @ b.T).softmax(-1) @ v)        # [len, e]
/// torch.cat(pieces)  # or write each piece into torch.empty(n, e)
/// ```
pub fn softmax_weighted_sum(a: &Tensor, b: &Tensor, v: &Tensor, block: i64) -> Tensor {
    let n = a.size()[0];
    let out = Tensor::empty([n, v.size()[1]], (v.kind(), v.device()));
    let bt = b.tr();
    let mut start = 0;
    while start < n {
        let len = block.min(n - start);
        let rows = a.narrow(0, start, len);
        let piece = rows.matmul(&bt).softmax(-1, a.kind()).matmul(v);
        out.narrow(0, start, len).copy_(&piece);
        start += len;
    }
    out
}

/// The k largest scores of each row of `a @ b^T` and their column indices (int64), largest
/// first, as `naive_topk_scores`, in blocks of `block` rows of `a`.
///
/// PyTorch:
/// ```python
/// values, indices = [], []
/// for start in range(0, n, block):
///     top = (a[start:start + block] @ b.T).topk(k, dim=-1)
///     values.append(top.values); indices.append(top.indices)
/// torch.cat(values), torch.cat(indices)
/// ```
pub fn topk_scores(a: &Tensor, b: &Tensor, k: i64, block: i64) -> (Tensor, Tensor) {
    let n = a.size()[0];
    let bt = b.tr();
    let (mut values, mut indices) = (Vec::new(), Vec::new());
    let mut start = 0;
    while start < n {
        let len = block.min(n - start);
        let (top, at) = a.narrow(0, start, len).matmul(&bt).topk(k, -1, true, true);
        values.push(top);
        indices.push(at);
        start += len;
    }
    if values.is_empty() {
        // No rows: an empty result of the right shape and kinds.
        return (
            Tensor::empty([0, k], (a.kind(), a.device())),
            Tensor::empty([0, k], (Kind::Int64, a.device())),
        );
    }
    (Tensor::cat(&values, 0), Tensor::cat(&indices, 0))
}

fn main() {
    let opts = (Kind::Float, tch::Device::Cpu);
    let (a, b, v) = (Tensor::randn([10, 4], opts), Tensor::randn([6, 4], opts), Tensor::randn([6, 3], opts));
    // The same numbers, block by block (the last block of 3 holds one row).
    let blocked = softmax_weighted_sum(&a, &b, &v, 3);
    let naive = naive_softmax_weighted_sum(&a, &b, &v);
    println!("largest difference: {}", (blocked - naive).abs().max().double_value(&[]));
    let (values, indices) = topk_scores(&a, &b, 2, 4);
    values.print();
    indices.print();
}
