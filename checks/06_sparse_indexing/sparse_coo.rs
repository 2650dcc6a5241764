//! Checks of 06_sparse_indexing/sparse_coo. Regimes visited:
//! - `coo_from_triplets`: the seed's example plus a repeated position; 40 random entries in a
//!   5 x 7 matrix (most positions repeated, and rows != cols, so swapped coordinates are out of
//!   bounds); a square 6 x 6 matrix (where swapped coordinates silently transpose); no entries;
//!   a 1 x 1 matrix; float64; coordinates that are strided views (columns of an [nnz, 2] tensor).
//!   The result must be sparse, coalesced, with the reference's indices (exactly) and values,
//!   and the inputs untouched.
//! - `sparse_row_sums`: rows without entries (0), float64, and a 1,000,000 x 1,000,000 matrix with
//!   50 entries, which is 4 TB dense: densifying the matrix instead of the sums fails there.
//! - `sparse_dense_matmul`: against the dense product, with a transposed (non-contiguous) `b`, no
//!   entries, float64, and the 4 TB matrix again.
//! - `sparse_linear`: the output and the gradients of `weight` and `x` against the dense
//!   `weight.mm(x)`; an all-zero column of weight against an infinite row of x, which a sparse
//!   product skips and a dense one turns into NaN; the code must use `to_sparse` and must not
//!   make the sparse copy dense again.
//! - `coo_bytes`: 1% of a 1000 x 1000 float32 matrix, float64, a 3-d tensor (three rows of
//!   indices), no entries; compared with the bytes the tensors hold.
//! - `coo_break_even_density`: float32, float64 and float16 in 1 to 3 dimensions, and confirmed
//!   by building tensors just below and just above the density it returns.

use tch::{Device, Kind, Tensor};
use tensorlings_support::compare::{assert_equal, assert_grad_close};
use tensorlings_support::memory;
use tensorlings_support::random::{randint, randn, uniform};
use tensorlings_support::source::{assert_calls, assert_does_not_call, function};
use tensorlings_support::{
    CheckResult, Checks, Failure, Tolerance, assert_close, assert_unchanged, check_that, within,
};

tensorlings_support::exercise_modules!("06_sparse_indexing/sparse_coo.rs");

/// The matrix the triplets describe, built densely: repeated positions accumulate.
fn dense_from_triplets(row: &Tensor, col: &Tensor, values: &Tensor, shape: [i64; 2]) -> Tensor {
    let zeros = Tensor::zeros(shape, (values.kind(), values.device()));
    zeros.index_put(&[Some(row.shallow_clone()), Some(col.shallow_clone())], values, true)
}

/// Fails unless `got` is a coalesced sparse tensor with the reference's entries: the same
/// indices (coalesced order is unique) and values within `tol`.
fn coo_matches(what: &str, got: &Tensor, expected: &Tensor, tol: Tolerance) -> CheckResult {
    check_that!(
        got.is_sparse(),
        "`{what}` is a dense tensor: return the sparse COO tensor (sparse_coo_tensor_indices_size), \
         not its to_dense()"
    );
    check_that!(
        got.size() == expected.size(),
        "`{what}` has shape {:?} but the reference has {:?}",
        got.size(),
        expected.size()
    );
    check_that!(
        !(got.is_coalesced() && got.internal_nnz() > expected.internal_nnz()),
        "`{what}` says it is coalesced but holds {} entries where the reference holds {} after \
         summing the repeated positions: is_coalesced = true in the constructor is a promise that \
         the indices are sorted and unique, and libtorch believes it without checking. Pass false \
         and call .coalesce()",
        got.internal_nnz(),
        expected.internal_nnz()
    );
    check_that!(
        got.is_coalesced(),
        "`{what}` is not coalesced: it holds {} entries, some at the same position, where the \
         reference holds {} after summing them. Call .coalesce() on the result (it sorts the \
         entries and sums the repeated ones)",
        got.internal_nnz(),
        expected.internal_nnz()
    );
    assert_equal(&format!("{what}.indices()"), &got.indices(), &expected.indices())?;
    assert_close(&format!("{what}.values()"), &got.values(), &expected.values(), tol)?;
    assert_close(what, got, expected, tol)
}

/// The reference first, then the exercise, the inputs as they were, then the comparison with
/// the reference and with the matrix built densely.
fn triplets_match(row: &Tensor, col: &Tensor, values: &Tensor, shape: [i64; 2]) -> CheckResult {
    let description = format!(
        "for {} entries (row, col, values) in a {shape:?} matrix of {:?}",
        values.numel(),
        values.kind()
    );
    within(description, || {
        let before = (row.copy(), col.copy(), values.copy());
        let expected = solution::coo_from_triplets(&row.copy(), &col.copy(), &values.copy(), shape);
        let got = exercise::coo_from_triplets(row, col, values, shape);
        assert_unchanged("row", row, &before.0)?;
        assert_unchanged("col", col, &before.1)?;
        assert_unchanged("values", values, &before.2)?;
        // Sums of a few float32 values, in another order maybe: a few roundings.
        let tol = Tolerance::for_kind(values.kind());
        coo_matches("coo_from_triplets(row, col, values, shape)", &got, &expected, tol)?;
        let dense = dense_from_triplets(row, col, values, shape);
        assert_close(
            "coo_from_triplets(..).to_dense(), compared with the matrix built densely,",
            &got.to_dense(None, false),
            &dense,
            tol,
        )
    })
}

/// `nnz` random triplets in a matrix of `shape`.
fn random_triplets(nnz: i64, shape: [i64; 2], kind: Kind, device: Device) -> (Tensor, Tensor, Tensor) {
    (randint(&[nnz], shape[0], device), randint(&[nnz], shape[1], device), randn(&[nnz], kind, device))
}

/// A random coalesced sparse matrix of `shape` with (up to) `nnz` entries, built by the reference.
fn random_sparse(nnz: i64, shape: [i64; 2], kind: Kind, device: Device) -> Tensor {
    let (row, col, values) = random_triplets(nnz, shape, kind, device);
    solution::coo_from_triplets(&row, &col, &values, shape)
}

/// A copy of the coalesced sparse tensor `a` that shares nothing with it.
fn copy_sparse(a: &Tensor) -> Tensor {
    let options = (a.kind(), a.device());
    Tensor::sparse_coo_tensor_indices_size(&a.indices().copy(), &a.values().copy(), a.size(), options, true)
}

/// `assert_unchanged` for a coalesced sparse input, on its indices and values (comparing it
/// densely would make the 4 TB matrix).
fn sparse_unchanged(name: &str, a: &Tensor, before: &Tensor) -> CheckResult {
    check_that!(
        a.is_sparse() && a.is_coalesced(),
        "the exercise changed its input `{name}`: it is no longer a coalesced sparse tensor"
    );
    assert_unchanged(&format!("{name}.indices()"), &a.indices(), &before.indices())?;
    assert_unchanged(&format!("{name}.values()"), &a.values(), &before.values())
}

/// The 1,000,000 x 1,000,000 float32 matrix with 50 entries: 4 TB dense.
const HUGE: i64 = 1_000_000;
fn huge_sparse(device: Device) -> Tensor {
    random_sparse(50, [HUGE, HUGE], Kind::Float, device)
}

/// What to add to a failure on the huge matrix, when the learner's code tried to densify it.
fn explain_huge(failure: Failure) -> Failure {
    if failure.message().contains("allocate") || failure.message().contains("memory") {
        Failure::new(format!(
            "{}\n  this matrix is 1,000,000 x 1,000,000 with 50 entries: 4 TB dense. Work on the \
             sparse tensor (mm, sum_dim_intlist) and make only the small result dense",
            failure.message()
        ))
    } else {
        failure
    }
}

fn row_sums_match(a: &Tensor) -> CheckResult {
    within(format!("for a sparse matrix of shape {:?} with {} entries", a.size(), a.internal_nnz()), || {
        let before = copy_sparse(a);
        let expected = solution::sparse_row_sums(&copy_sparse(a));
        let got = exercise::sparse_row_sums(a);
        sparse_unchanged("a", a, &before)?;
        assert_close("sparse_row_sums(a)", &got, &expected, Tolerance::for_kind(a.kind()))
    })
    .map_err(explain_huge)
}

fn matmul_matches(a: &Tensor, b: &Tensor) -> CheckResult {
    let description = format!(
        "for a sparse a of shape {:?} with {} entries and b of shape {:?}{}",
        a.size(),
        a.internal_nnz(),
        b.size(),
        if b.is_contiguous() { "" } else { " (a transposed view)" }
    );
    within(description, || {
        let (a_before, b_before) = (copy_sparse(a), b.copy());
        let expected = solution::sparse_dense_matmul(&copy_sparse(a), &b.copy());
        let got = exercise::sparse_dense_matmul(a, b);
        sparse_unchanged("a", a, &a_before)?;
        assert_unchanged("b", b, &b_before)?;
        // Dot products of up to k terms, summed in another order by another kernel.
        let tol =
            if a.kind() == Kind::Double { Tolerance::new(1e-12, 1e-12) } else { Tolerance::new(1e-5, 1e-5) };
        assert_close("sparse_dense_matmul(a, b)", &got, &expected, tol)?;
        if a.size()[0] < HUGE {
            let dense = a.to_dense(None, false).mm(b);
            assert_close("sparse_dense_matmul(a, b), compared with the dense product,", &got, &dense, tol)?;
        }
        Ok(())
    })
    .map_err(explain_huge)
}

/// A dense [n, k] matrix with about 75% of its entries exactly 0.
fn pruned(n: i64, k: i64, device: Device) -> Tensor {
    let keep = uniform(&[n, k], 0.0, 1.0, Kind::Float, device).lt(0.25);
    randn(&[n, k], Kind::Float, device) * keep
}

fn sparse_linear_matches(weight: &Tensor, x: &Tensor) -> CheckResult {
    within(format!("for weight of shape {:?} and x of shape {:?}", weight.size(), x.size()), || {
        let (w_before, x_before) = (weight.copy(), x.copy());
        // The reference: the dense product, differentiated by autograd.
        let w_ref = weight.copy().set_requires_grad(true);
        let x_ref = x.copy().set_requires_grad(true);
        let expected = w_ref.mm(&x_ref);
        let upstream = randn(&expected.size(), Kind::Float, expected.device());
        (&expected * &upstream).sum(Kind::Float).backward();

        let w = weight.copy().set_requires_grad(true);
        let x_leaf = x.copy().set_requires_grad(true);
        let got = exercise::sparse_linear(&w, &x_leaf);
        let tol = Tolerance::new(1e-5, 1e-5);
        assert_close("sparse_linear(weight, x)", &got.detach(), &expected.detach(), tol)?;
        check_that!(
            got.requires_grad(),
            "`sparse_linear(weight, x)` does not require grad although weight and x do: was the \
             result detached, or computed under no_grad?"
        );
        (&got * &upstream).sum(Kind::Float).backward();
        assert_grad_close("weight", &w.grad(), &w_ref.grad(), tol).map_err(|f| {
            Failure::new(format!(
                "{}\n  the gradient must reach the dense weight: a sparse tensor built with \
                 sparse_coo_tensor(indices, values, ..) drops autograd from values, \
                 weight.to_sparse(..) keeps it",
                f.message()
            ))
        })?;
        assert_grad_close("x", &x_leaf.grad(), &x_ref.grad(), tol)?;
        assert_unchanged("weight", weight, &w_before)?;
        assert_unchanged("x", x, &x_before)
    })
}

/// A sparse product multiplies only the entries it stores: where a column of weight is all
/// zero, an infinite row of x contributes nothing, where the dense product makes 0 * inf = NaN.
/// So a product that is dense after all (`weight.mm(x)` next to an unused `to_sparse`, or the
/// sparse copy made dense again) fails, whatever the source looks like.
fn sparse_linear_skips_zeros(device: Device) -> CheckResult {
    let weight = pruned(4, 5, device);
    let _ = weight.narrow(1, 0, 1).fill_(0.0);
    let x = randn(&[5, 3], Kind::Float, device);
    let _ = x.narrow(0, 0, 1).fill_(f64::INFINITY);
    within("for weight whose column 0 is all zero and x whose row 0 is infinite", || {
        let expected = weight.mm(&x.index_fill(0, &Tensor::from_slice(&[0i64]).to_device(device), 0.0));
        let got = tch::no_grad(|| exercise::sparse_linear(&weight, &x));
        assert_close("sparse_linear(weight, x)", &got, &expected, Tolerance::new(1e-5, 1e-5)).map_err(|f| {
            Failure::new(format!(
                "{}\n  a sparse product skips weight's zeros, so 0 * inf never happens: NaN here means \
                 the product was dense (weight.mm(x), or the sparse copy made dense again)",
                f.message()
            ))
        })
    })
}

/// The bytes the allocator hands out for the sparse tensor that `make` returns (what it keeps
/// once temporaries are freed: its indices and values).
fn measured_bytes(device: Device, make: impl FnOnce() -> Tensor) -> Result<(Tensor, i64), Failure> {
    let (a, measurement) = memory::measure(device, make)?;
    Ok((a, measurement.retained_bytes))
}

fn bytes_match(a: &Tensor) -> CheckResult {
    within(
        format!(
            "for a sparse tensor of shape {:?} of {:?} with {} entries",
            a.size(),
            a.kind(),
            a.internal_nnz()
        ),
        || {
            let expected = solution::coo_bytes(&copy_sparse(a));
            let got = exercise::coo_bytes(a);
            // What the two tensors hold, counted from their storage: nnz * ndim int64 indices and nnz values.
            let measured = a.indices().numel() as i64 * 8
                + a.values().numel() as i64 * a.kind().elt_size_in_bytes() as i64;
            check_that!(
                expected == measured,
                "the reference counts {expected} bytes but the tensors hold {measured} (a bug in the check)"
            );
            check_that!(
                got == expected,
                "`coo_bytes(a)` is {got} but the tensor stores {expected} bytes: {} of int64 indices \
             ([{}, {}], 8 bytes each) and {} of values ({} bytes each)",
                a.indices().numel() * 8,
                a.sparse_dim(),
                a.internal_nnz(),
                a.values().numel() * a.kind().elt_size_in_bytes(),
                a.kind().elt_size_in_bytes()
            );
            Ok(())
        },
    )
}

fn main() {
    Checks::new()
        .check("coo_from_triplets: the seed's example, with one position given twice", |ctx| {
            let d = ctx.device();
            let row = Tensor::from_slice(&[0i64, 1, 1, 1]).to_device(d);
            let col = Tensor::from_slice(&[2i64, 0, 2, 2]).to_device(d);
            let values = Tensor::from_slice(&[3.0f32, 4.0, 5.0, 6.0]).to_device(d);
            triplets_match(&row, &col, &values, [2, 3])
        })
        .check("coo_from_triplets: 40 random entries in a 5 x 7 matrix, most positions repeated", |ctx| {
            let (row, col, values) = random_triplets(40, [5, 7], Kind::Float, ctx.device());
            triplets_match(&row, &col, &values, [5, 7])
        })
        .check("coo_from_triplets: a square 6 x 6 matrix, where swapped coordinates keep the shape", |ctx| {
            let (row, col, values) = random_triplets(12, [6, 6], Kind::Float, ctx.device());
            triplets_match(&row, &col, &values, [6, 6])
        })
        .check("coo_from_triplets: no entries, a 1 x 1 matrix, float64 and strided coordinates", |ctx| {
            let d = ctx.device();
            let none = Tensor::zeros([0], (Kind::Int64, d));
            triplets_match(&none, &none, &Tensor::zeros([0], (Kind::Float, d)), [3, 4])?;
            let zero = Tensor::zeros([2], (Kind::Int64, d));
            triplets_match(&zero, &zero, &randn(&[2], Kind::Float, d), [1, 1])?;
            let (row, col, values) = random_triplets(10, [4, 3], Kind::Double, d);
            triplets_match(&row, &col, &values, [4, 3])?;
            // Columns of an [nnz, 2] tensor: strided views, not contiguous.
            let pairs = Tensor::stack(&[randint(&[9], 4, d), randint(&[9], 5, d)], 1);
            triplets_match(&pairs.select(1, 0), &pairs.select(1, 1), &randn(&[9], Kind::Float, d), [4, 5])
        })
        .check("sparse_row_sums: 8 entries in a 6 x 5 matrix (empty rows), float64", |ctx| {
            row_sums_match(&random_sparse(8, [6, 5], Kind::Float, ctx.device()))?;
            row_sums_match(&random_sparse(0, [3, 2], Kind::Float, ctx.device()))?;
            row_sums_match(&random_sparse(9, [4, 4], Kind::Double, ctx.device()))
        })
        .check("coo_from_triplets into a 1,000,000 x 1,000,000 matrix (4 TB dense)", |ctx| {
            let (row, col, values) = random_triplets(50, [HUGE, HUGE], Kind::Float, ctx.device());
            within("for 50 entries (row, col, values) in a [1000000, 1000000] matrix of Float", || {
                let expected = solution::coo_from_triplets(&row, &col, &values, [HUGE, HUGE]);
                let got = exercise::coo_from_triplets(&row, &col, &values, [HUGE, HUGE]);
                check_that!(
                    got.is_sparse(),
                    "`coo_from_triplets(row, col, values, shape)` is a dense tensor"
                );
                assert_equal(
                    "coo_from_triplets(row, col, values, shape).indices()",
                    &got.indices(),
                    &expected.indices(),
                )?;
                assert_close(
                    "coo_from_triplets(row, col, values, shape).values()",
                    &got.values(),
                    &expected.values(),
                    Tolerance::default(),
                )
            })
            .map_err(explain_huge)
        })
        .check("sparse_row_sums of a 1,000,000 x 1,000,000 matrix with 50 entries (4 TB dense)", |ctx| {
            row_sums_match(&huge_sparse(ctx.device()))
        })
        .check("sparse_dense_matmul: [5, 7] @ [7, 3], b a transposed view, no entries, float64", |ctx| {
            let d = ctx.device();
            matmul_matches(&random_sparse(10, [5, 7], Kind::Float, d), &randn(&[7, 3], Kind::Float, d))?;
            matmul_matches(&random_sparse(10, [5, 7], Kind::Float, d), &randn(&[3, 7], Kind::Float, d).tr())?;
            matmul_matches(&random_sparse(0, [2, 3], Kind::Float, d), &randn(&[3, 4], Kind::Float, d))?;
            matmul_matches(&random_sparse(12, [6, 4], Kind::Double, d), &randn(&[4, 2], Kind::Double, d))
        })
        .check("sparse_dense_matmul of a 1,000,000 x 1,000,000 matrix with 50 entries (4 TB dense)", |ctx| {
            matmul_matches(&huge_sparse(ctx.device()), &randn(&[HUGE, 2], Kind::Float, ctx.device()))
        })
        .check("sparse_linear: output and gradients of weight and x equal the dense product's", |ctx| {
            let d = ctx.device();
            sparse_linear_matches(&pruned(6, 8, d), &randn(&[8, 3], Kind::Float, d))?;
            sparse_linear_matches(&pruned(1, 5, d), &randn(&[5, 1], Kind::Float, d))
        })
        .check(
            "sparse_linear skips weight's zeros, as a sparse product does (0 * inf is not computed)",
            |ctx| sparse_linear_skips_zeros(ctx.device()),
        )
        .check("sparse_linear multiplies a sparse tensor (to_sparse, not made dense again)", |_ctx| {
            assert_calls(
                EXERCISE_SOURCE,
                "to_sparse",
                "sparse_linear must multiply through a sparse copy of weight (a dense product gives \
                 the same numbers, but not what the exercise teaches): weight.to_sparse(None, \
                 None::<i64>, None::<i64>).mm(x)",
            )?;
            // A sparse copy made dense again before the product is the dense product.
            assert_does_not_call(
                &function(EXERCISE_SOURCE, "sparse_linear"),
                "to_dense",
                "sparse_linear must multiply the sparse copy itself: to_dense() turns it back into \
                 the dense matrix (sparse.mm(dense) is already a dense result)",
            )
        })
        .check("coo_bytes: 1% of a 1000 x 1000 float32 matrix, float64, a 3-d tensor, no entries", |ctx| {
            let d = ctx.device();
            bytes_match(&random_sparse(10_000, [1000, 1000], Kind::Float, d))?;
            bytes_match(&random_sparse(30, [20, 20], Kind::Double, d))?;
            let three_d = (randn(&[4, 5, 6], Kind::Float, d)
                * uniform(&[4, 5, 6], 0.0, 1.0, Kind::Float, d).lt(0.1))
            .to_sparse(None, None::<i64>, None::<i64>);
            bytes_match(&three_d)?;
            bytes_match(&random_sparse(0, [7, 7], Kind::Float, d))
        })
        .check("coo_bytes is what the allocator measures, and 1% of a 1000 x 1000 matrix saves 95%", |ctx| {
            let d = ctx.device();
            // 10,000 distinct positions out of 1,000,000: exactly 1%.
            let positions = Tensor::randperm(1_000_000, (Kind::Int64, d)).narrow(0, 0, 10_000);
            let (row, col) = (positions.divide_scalar_mode(1000, "floor"), positions.remainder(1000));
            let values = randn(&[10_000], Kind::Float, d);
            let (a, sparse_bytes) =
                measured_bytes(d, || solution::coo_from_triplets(&row, &col, &values, [1000, 1000]))?;
            let (_, dense_measurement) = memory::measure(d, || a.to_dense(None, false))?;
            let dense_bytes = dense_measurement.retained_bytes;
            let got = within("for 1% of a 1000 x 1000 float32 matrix", || Ok(exercise::coo_bytes(&a)))?;
            check_that!(
                got == sparse_bytes,
                "`coo_bytes(a)` is {got}, but the allocator handed out {sparse_bytes} bytes for a \
                 ({} entries: their int64 indices, 2 x 8 bytes each, and their float32 values, 4 \
                 bytes each); dense it takes {dense_bytes}",
                a.internal_nnz()
            );
            check_that!(
                sparse_bytes * 20 == dense_bytes,
                "measured: COO {sparse_bytes} bytes, dense {dense_bytes}: expected COO to take 5% of \
                 the dense bytes at 1% density (a bug in the check)"
            );
            Ok(())
        })
        .check("coo_break_even_density: float32, float64 and float16 in 1 to 3 dimensions", |_ctx| {
            for kind in [Kind::Float, Kind::Double, Kind::Half] {
                for ndim in 1..=3 {
                    let expected = solution::coo_break_even_density(ndim, kind);
                    let got = within(format!("for {ndim} dimensions of {kind:?}"), || {
                        Ok(exercise::coo_break_even_density(ndim, kind))
                    })?;
                    let e = kind.elt_size_in_bytes();
                    check_that!(
                        (got - expected).abs() <= 1e-12,
                        "`coo_break_even_density({ndim}, {kind:?})` is {got} but the reference is \
                         {expected}: a dense tensor costs {e} bytes per element, COO {ndim} * 8 + {e} \
                         bytes per stored entry (its int64 coordinates and its value)"
                    );
                }
            }
            Ok(())
        })
        .check("coo_break_even_density: just below it COO is smaller, just above it larger", |ctx| {
            // 200 x 200 float32: break-even at 20%, 8000 entries. Exact densities (distinct
            // positions) of 19% and 21%.
            let d = ctx.device();
            let density =
                within("for 2 dimensions of Float", || Ok(exercise::coo_break_even_density(2, Kind::Float)))?;
            let dense_bytes = 200 * 200 * 4;
            for (label, factor) in [("below", 0.95), ("above", 1.05)] {
                let nnz = (density * factor * 40_000.0).round().clamp(0.0, 40_000.0) as i64;
                let positions = Tensor::randperm(40_000, (Kind::Int64, d)).narrow(0, 0, nnz);
                let values = randn(&[nnz], Kind::Float, d);
                let flat =
                    Tensor::zeros([40_000], (Kind::Float, d)).index_put(&[Some(positions)], &values, false);
                let dense = flat.reshape([200, 200]);
                let (_, bytes) = measured_bytes(d, || dense.to_sparse(None, None::<i64>, None::<i64>))?;
                let smaller = bytes < dense_bytes;
                check_that!(
                    smaller == (label == "below"),
                    "just {label} the density {density} that `coo_break_even_density(2, Float)` \
                     returns, a 200 x 200 float32 matrix with {nnz} entries takes {bytes} bytes as \
                     COO (measured by the allocator) and {dense_bytes} dense: that is not where the \
                     two cross"
                );
            }
            Ok(())
        })
        .run()
}
