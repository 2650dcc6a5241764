// Exercise 05_linalg/pca_svd: principal component analysis from the SVD of the centred data.
//
// PCA finds the orthogonal directions along which data ([n, d], a sample per row) varies most.
// With the data centred (the mean of every feature subtracted) and written as its SVD
//     centred = u diag(s) v^T,
// the columns of v are those directions (the principal axes), largest variance first, and the
// variance of the data along axis j is s[j]^2 / (n - 1) (n - 1: the unbiased sample variance,
// as sklearn and torch.var give). Its share of the total variance is the explained variance
// ratio: s[j]^2 over the sum of ALL s^2, not only of the k components kept, so the ratios of
// k < d components add up to less than 1.
//
// Why the SVD of the data and not the eigenvectors of the covariance centred^T centred / (n-1),
// as textbooks write it? Forming centred^T centred squares every singular value, and with them
// the condition number: float32 keeps about 7 digits, so in data whose standard deviations
// span 1000 to 0.01 (variances 1e6 to 1e-4) the smallest variance is below the rounding error
// of the largest, and comes out wrong by orders of magnitude, with its axis. The SVD works on
// the data itself and keeps it. The checks try such data.
//
// An axis is only defined up to its sign (v and -v are both singular vectors): fix it the way
// sklearn does, with the entry of largest absolute value of each component positive, so that
// your PCA gives the same numbers whatever the SVD returned. The checks compare with sklearn's
// numbers on a small data set.
//
// Use `centred.svd(true, true)` -> (u, s, v) (v, not v^T; `Tensor::linalg_svd` fails on the
// CPU in this libtorch). Do not change the struct: the checks build one to test pca_transform.

use tch::Tensor;

/// A fitted PCA: what `pca_fit` learns from the data.
pub struct Pca {
    /// The mean of every feature, `[d]`.
    pub mean: Tensor,
    /// The principal axes as rows, `[k, d]`, largest variance first, each with its entry of
    /// largest absolute value positive.
    pub components: Tensor,
    /// The variance of the data along each component, `[k]`.
    pub explained_variance: Tensor,
    /// Each component's share of the total variance of the data (all components, not only the
    /// `k` kept), `[k]`.
    pub explained_variance_ratio: Tensor,
}

/// PCA of `x` (`[n, d]`, a sample per row) with `k` components, from the SVD of the centred data.
///
/// PyTorch (what sklearn.decomposition.PCA(k).fit(x) computes):
/// ```python
/// mean = x.mean(0)
/// u, s, vh = torch.linalg.svd(x - mean, full_matrices=False)
/// variance = s**2 / (n - 1)
/// ratio = variance / variance.sum()
/// components = vh[:k]
/// signs = components.gather(1, components.abs().argmax(1, keepdim=True)).sign()
/// components = components * signs
/// ```
pub fn pca_fit(x: &Tensor, k: i64) -> Pca {
    // TODO: centre, SVD, variances and ratios, the first k axes as rows, then the signs.
    todo!("pca_fit of shape {:?} with k = {k}", x.size())
}

/// The coordinates of the rows of `x` (`[m, d]`) along the components: `[m, k]`. New data is
/// centred with the mean the PCA was fitted with, not with its own.
///
/// PyTorch:
/// ```python
/// (x - mean) @ components.T
/// ```
pub fn pca_transform(pca: &Pca, x: &Tensor) -> Tensor {
    // TODO
    todo!("pca_transform of shape {:?} with {:?} components", x.size(), pca.components.size())
}

/// The points of the data space (`[m, d]`) whose coordinates along the components are `z`
/// (`[m, k]`): the projection of the original points when `z` came from `pca_transform`.
///
/// PyTorch:
/// ```python
/// z @ components + mean
/// ```
pub fn pca_inverse_transform(pca: &Pca, z: &Tensor) -> Tensor {
    // TODO
    todo!("pca_inverse_transform of shape {:?} with {:?} components", z.size(), pca.components.size())
}

fn main() {
    // Points along the diagonal y = x, a little off it: one component carries nearly everything.
    let x = Tensor::from_slice(&[0.0f64, 0.1, 1.0, 0.9, 2.0, 2.1, 3.0, 2.9]).reshape([4, 2]);
    let pca = pca_fit(&x, 1);
    pca.components.print();
    pca.explained_variance_ratio.print();
    let z = pca_transform(&pca, &x);
    // The points projected onto the diagonal.
    pca_inverse_transform(&pca, &z).print();
}
