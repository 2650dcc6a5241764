// Reference solution of 05_linalg/pca_svd.

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
pub fn pca_fit(x: &Tensor, k: i64) -> Pca {
    let n = x.size()[0];
    let mean = x.mean_dim(0, false, x.kind());
    let centred = x - &mean;
    // centred = u diag(s) v^T: the columns of v are the principal axes, and the variance along
    // axis j is s[j]^2 / (n - 1). Never through centred^T centred: it squares the condition
    // number, and the small variances drown in the rounding of the large ones.
    let (_, s, v) = centred.svd(true, true);
    let variance = s.square() / (n - 1) as f64;
    let ratio = &variance / variance.sum(variance.kind());
    let components = v.narrow(1, 0, k).tr();
    // Each axis is only defined up to its sign: make the entry of largest absolute value of
    // each row positive (sklearn's convention), so that the result does not depend on the SVD.
    let largest = components.abs().argmax(1, true);
    let signs = components.gather(1, &largest, false).sign();
    Pca {
        mean,
        components: components * signs,
        explained_variance: variance.narrow(0, 0, k),
        explained_variance_ratio: ratio.narrow(0, 0, k),
    }
}

/// The coordinates of the rows of `x` (`[m, d]`) along the components: `[m, k]`.
pub fn pca_transform(pca: &Pca, x: &Tensor) -> Tensor {
    // Centred with the mean of the data the PCA was fitted on, not of x.
    (x - &pca.mean).matmul(&pca.components.tr())
}

/// The points of the data space (`[m, d]`) with coordinates `z` (`[m, k]`) along the components.
pub fn pca_inverse_transform(pca: &Pca, z: &Tensor) -> Tensor {
    z.matmul(&pca.components) + &pca.mean
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
