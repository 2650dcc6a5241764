// Exercise 07_parallel/streaming_stats: statistics of data too large to hold, one chunk at a time.
//
// A dataset of 100 GB does not fit in memory, but its mean, its variance and the logsumexp of a
// column do: they can be computed from chunks that arrive one after another (from disk, from a
// data loader) and are dropped once used. The function takes an iterator and must not collect
// it: the memory it needs is a few chunks, however many chunks there are (the checks measure it
// with the allocator's statistics).
//
// Mean and variance: keep, per column, the count n, the mean, and M2 = the sum of squared
// deviations from the mean (the variance is M2 / n). Two summaries merge exactly (Chan, Golub
// and LeVeque, 1979; Welford's update is the case of a chunk of one row):
//
//     n     = n_a + n_b
//     delta = mean_b - mean_a
//     mean  = mean_a + delta * n_b / n
//     M2    = M2_a + M2_b + delta^2 * n_a * n_b / n
//
// A chunk's own summary is its mean and the sum of its squared deviations from that mean (two
// passes over the chunk, which is in memory anyway). The obvious alternative, sums of x and of
// x^2 and var = E[x^2] - E[x]^2, cancels catastrophically: for data around 10,000 with a
// standard deviation of 1, E[x^2] is 1e8 and float32 keeps 7 digits of it, so the variance comes
// out as noise of size 10 or more (even negative).
//
// logsumexp over a huge dimension: log sum exp(x) = m + log sum exp(x - m) for any m, and two
// partial results merge the same way: lse(a ++ b) = logaddexp(lse(a), lse(b)), which
// `Tensor::logaddexp` computes stably. Summing exp(x) directly overflows for x above 88 in float32.
// Entries of -inf (masked) are exp = 0; a column of only -inf has logsumexp -inf, and a running
// maximum of -inf gives exp(-inf - (-inf)) = exp(NaN): logaddexp handles it.
//
// Empty chunks can occur (the last batch of a loader, a filter that kept nothing): their mean is
// 0 / 0, so skip them.

use tch::{Device, Kind, Tensor};

/// Per-column count, mean and M2 (sum of squared deviations from the mean) of some rows.
pub struct Moments {
    pub count: i64,
    pub mean: Tensor,
    pub m2: Tensor,
}

/// The moments of the rows of `chunk` (shape `[n, d]`, `n >= 1`): its count, its column means,
/// and the sums of squared deviations from them, in `chunk`'s kind.
///
/// PyTorch: `Moments(len(chunk), chunk.mean(0), ((chunk - chunk.mean(0)) ** 2).sum(0))`
pub fn chunk_moments(chunk: &Tensor) -> Moments {
    let mean = chunk.mean_dim(0, false, chunk.kind());
    let m2 = (chunk - &mean).square().sum_dim_intlist(0, false, chunk.kind());
    Moments { count: chunk.size()[0], mean, m2 }
}

/// The moments of the rows of `a` and `b` together, from theirs alone (the merge above).
pub fn merge_moments(a: &Moments, b: &Moments) -> Moments {
    let count = a.count + b.count;
    let delta = &b.mean - &a.mean;
    let (na, nb, n) = (a.count as f64, b.count as f64, count as f64);
    let mean = &a.mean + &delta * (nb / n);
    let m2 = &a.m2 + &b.m2 + delta.square() * (na * nb / n);
    Moments { count, mean, m2 }
}

/// The per-column mean and (population) variance of all the rows of all the chunks, each chunk
/// of shape `[n_i, d]` (some possibly empty, at least one not), taken one at a time and dropped
/// after use. Returns `(mean, var)`, both of shape `[d]` and of the chunks' kind.
///
/// PyTorch, if it all fit: `x = torch.cat(chunks); x.mean(0), x.var(0, correction=0)`.
pub fn streaming_mean_var(chunks: impl IntoIterator<Item = Tensor>) -> (Tensor, Tensor) {
    let mut total: Option<Moments> = None;
    for chunk in chunks {
        if chunk.size()[0] == 0 {
            continue;
        }
        let moments = chunk_moments(&chunk);
        total = Some(match total {
            None => moments,
            Some(total) => merge_moments(&total, &moments),
        });
    }
    let total = total.expect("streaming_mean_var needs at least one row");
    let var = &total.m2 / total.count as f64;
    (total.mean, var)
}

/// The per-column logsumexp over all the rows of all the chunks (each `[n_i, d]`, some possibly
/// empty, at least one chunk), one chunk at a time: shape `[d]`, the chunks' kind. Stable for
/// large values, and -inf for a column of only -inf.
///
/// PyTorch, if it all fit: `torch.cat(chunks).logsumexp(0)`; streaming:
/// `lse = torch.logaddexp(lse, chunk.logsumexp(0))`.
pub fn streaming_logsumexp(chunks: impl IntoIterator<Item = Tensor>) -> Tensor {
    let mut lse: Option<Tensor> = None;
    for chunk in chunks {
        // An empty chunk's logsumexp is -inf, which logaddexp leaves alone.
        let part = chunk.logsumexp([0i64], false);
        lse = Some(match lse {
            None => part,
            Some(lse) => lse.logaddexp(&part),
        });
    }
    lse.expect("streaming_logsumexp needs at least one chunk")
}

fn main() {
    // 1000 chunks of 100 rows, generated on demand: 100,000 rows around 10,000, never all at once.
    let chunks = (0..1000).map(|_| Tensor::randn([100, 3], (Kind::Float, Device::Cpu)) + 10_000.0);
    let (mean, var) = streaming_mean_var(chunks);
    // About 10000 and 1.
    mean.print();
    var.print();
    let chunks = (0..10).map(|i| Tensor::full([5, 2], 1000.0 + i as f64, (Kind::Float, Device::Cpu)));
    // About 1009.46: dominated by the largest value, and no overflow.
    streaming_logsumexp(chunks).print();
}
