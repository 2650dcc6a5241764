//! Checks of 08_losses_metrics/ranking_metrics.
//!
//! - Each metric against sklearn's numbers, carried below as literals: a table of 4 rows of 6
//!   items with tied scores (one row all tied), and a table of 8 rows of 12 items whose scores,
//!   labels and relevances come from integer formulas written the same way here and in Python
//!   (many ties); NDCG at k = 1, 3, 5, 6, 12 and at a k larger than the row.
//! - Edge rows: AUC is NaN without positives or without negatives (sklearn raises); average
//!   precision is 0 without positives (sklearn's value); NDCG is 0 where every relevance is 0
//!   (sklearn's value); rows of one item.
//! - Against the reference on a random batch of 64 rows of 30 items with ties, on a transposed
//!   (non-contiguous) batch, and with float64 scores.
//! - Results are float64 of shape [B]; inputs left as they were.
//! - No Rust loop over samples or rows: the exercise's code may not use `for`, `while`, `loop` or
//!   iterator adaptors.
//!
//! The sklearn numbers (scikit-learn 1.9) come from, per row,
//!
//! ```python
//! roc_auc_score(y, s), average_precision_score(y, s), ndcg_score([g], [s], k=k)
//! ```
//! on the tables below (for the formula table, `S`, `Y` and `G` as in `formula_table`).

use tch::{Device, Kind, Tensor};
use tensorlings_support::compare::kind_name;
use tensorlings_support::random::{randint, randn};
use tensorlings_support::source::{assert_no_method_calls, calls};
use tensorlings_support::{
    CheckResult, Checks, Tolerance, assert_close, assert_unchanged, check_that, within,
};

tensorlings_support::exercise_modules!("08_losses_metrics/ranking_metrics.rs");

const SCORES: [[f64; 6]; 4] = [
    [0.9, 0.8, 0.8, 0.3, 0.1, 0.5],
    [0.2, 0.2, 0.2, 0.2, 0.7, 0.1],
    [0.1, 0.4, 0.35, 0.8, 0.65, 0.05],
    [0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
];
const LABELS: [[bool; 6]; 4] = [
    [true, false, true, false, false, true],
    [false, true, true, false, true, false],
    [false, false, true, true, false, true],
    [true, false, false, true, false, false],
];
const GAINS: [[f64; 6]; 4] = [
    [3.0, 2.0, 3.0, 0.0, 1.0, 2.0],
    [0.0, 1.0, 2.0, 0.0, 3.0, 0.0],
    [0.0; 6],
    [2.0, 0.0, 1.0, 0.0, 0.0, 3.0],
];
const TABLE_AUC: [f64; 4] = [0.8333333333333334, 0.7777777777777778, 0.4444444444444444, 0.5];
const TABLE_AP: [f64; 4] = [0.8055555555555556, 0.7333333333333334, 0.6666666666666667, 0.3333333333333333];
const TABLE_NDCG: [(i64, [f64; 4]); 3] = [
    (1, [1.0, 1.0, 0.0, 0.3333333333333333]),
    (3, [0.9888906808152524, 0.808129116242551, 0.0, 0.447499501061509]),
    (6, [0.9865410220236104, 0.9368912149691543, 0.0, 0.6939865195582372]),
];

const FORMULA_AUC: [f64; 8] = [0.59375, 0.40625, 0.375, 0.46875, 0.671875, 0.375, 0.453125, 0.515625];
const FORMULA_AP: [f64; 8] = [
    0.41547619047619044,
    0.3005952380952381,
    0.30416666666666664,
    0.3416666666666666,
    0.5099206349206349,
    0.3075757575757576,
    0.49851190476190477,
    0.39299242424242425,
];
const FORMULA_NDCG: [(i64, [f64; 8]); 3] = [
    (1, [0.5, 0.6666666666666666, 0.6666666666666666, 0.5555555555555556, 1.0, 0.3333333333333333, 0.0, 1.0]),
    (
        5,
        [
            0.574475588331976,
            0.6520883247208508,
            0.6204544287741586,
            0.5863637141505609,
            0.5087403079104242,
            0.6608397947263838,
            0.3600546145772339,
            0.7994765465672331,
        ],
    ),
    (
        12,
        [
            0.7947098281835818,
            0.8636160760522761,
            0.8273223452306228,
            0.8354950571155974,
            0.8326544196681568,
            0.8373611753052811,
            0.7027683787527175,
            0.9475511963385463,
        ],
    ),
];

/// The 8 x 12 table of integer formulas, the same as in Python:
///
/// ```python
/// S = [[((b * 7 + i * 3) % 5) / 4 + (0.1 * ((b + i) % 2) if b >= 4 else 0.0) for i in range(12)] for b in range(8)]
/// Y = [[int((b * 5 + i * 11) % 3 == 0) for i in range(12)] for b in range(8)]
/// G = [[float((b + 2 * i) % 4) for i in range(12)] for b in range(8)]
/// ```
fn formula_table(device: Device) -> (Tensor, Tensor, Tensor) {
    let (rows, n) = (8usize, 12usize);
    let mut s = Vec::new();
    let mut y = Vec::new();
    let mut g = Vec::new();
    for b in 0..rows {
        for i in 0..n {
            let bump = if b >= 4 { 0.1 * ((b + i) % 2) as f64 } else { 0.0 };
            s.push(((b * 7 + i * 3) % 5) as f64 / 4.0 + bump);
            y.push((b * 5 + i * 11) % 3 == 0);
            g.push(((b + 2 * i) % 4) as f64);
        }
    }
    let shape = [rows as i64, n as i64];
    let t = |v: Tensor| v.reshape(shape).to_device(device);
    (t(Tensor::from_slice(&s)), t(Tensor::from_slice(&y)), t(Tensor::from_slice(&g)))
}

fn table(device: Device) -> (Tensor, Tensor, Tensor) {
    let flat = |rows: &[[f64; 6]]| {
        Tensor::from_slice(&rows.concat()).reshape([rows.len() as i64, 6]).to_device(device)
    };
    let labels = Tensor::from_slice(&LABELS.concat()).reshape([4, 6]).to_device(device);
    (flat(&SCORES), labels, flat(&GAINS))
}

#[derive(Clone, Copy, Debug)]
enum Metric {
    Auc,
    Ap,
    Ndcg(i64),
}

impl Metric {
    fn call(&self) -> String {
        match self {
            Metric::Auc => "roc_auc(scores, labels)".into(),
            Metric::Ap => "average_precision(scores, labels)".into(),
            Metric::Ndcg(k) => format!("ndcg_at_k(scores, relevance, {k})"),
        }
    }

    fn sklearn(&self) -> &'static str {
        match self {
            Metric::Auc => "roc_auc_score",
            Metric::Ap => "average_precision_score",
            Metric::Ndcg(_) => "ndcg_score",
        }
    }

    /// The metric of the exercise or of the reference; `target` is the labels or the relevance.
    fn of(&self, reference: bool, scores: &Tensor, target: &Tensor) -> Tensor {
        match (*self, reference) {
            (Metric::Auc, false) => exercise::roc_auc(scores, target),
            (Metric::Auc, true) => solution::roc_auc(scores, target),
            (Metric::Ap, false) => exercise::average_precision(scores, target),
            (Metric::Ap, true) => solution::average_precision(scores, target),
            (Metric::Ndcg(k), false) => exercise::ndcg_at_k(scores, target, k),
            (Metric::Ndcg(k), true) => solution::ndcg_at_k(scores, target, k),
        }
    }
}

/// Counting and sorting are exact; the sums of a few fractions and discounts are not quite.
const TOLERANCE: Tolerance = Tolerance::new(1e-12, 1e-10);

/// The exercise's metric on a batch: against sklearn's numbers when given, and the reference.
fn metric_matches(metric: Metric, scores: &Tensor, target: &Tensor, sklearn: Option<&[f64]>) -> CheckResult {
    let description = format!(
        "for {} scores of shape {:?}{}",
        kind_name(scores.kind()),
        scores.size(),
        if scores.size()[0] <= 8 {
            format!(
                " {:?} and {} {:?}",
                Vec::<Vec<f64>>::try_from(&scores.to_kind(Kind::Double).to_device(Device::Cpu))
                    .unwrap_or_default(),
                if matches!(metric, Metric::Ndcg(_)) { "relevance" } else { "labels" },
                Vec::<Vec<f64>>::try_from(&target.to_kind(Kind::Double).to_device(Device::Cpu))
                    .unwrap_or_default()
            )
        } else {
            String::new()
        }
    );
    within(description, || {
        let (scores_before, target_before) = (scores.copy(), target.copy());
        let expected = metric.of(true, &scores.copy(), &target.copy());
        let got = metric.of(false, scores, target);
        assert_unchanged("scores", scores, &scores_before)?;
        assert_unchanged(
            if matches!(metric, Metric::Ndcg(_)) { "relevance" } else { "labels" },
            target,
            &target_before,
        )?;
        let what = metric.call();
        if let Some(values) = sklearn {
            let numbers = Tensor::from_slice(values).to_device(scores.device());
            assert_close(
                &format!("{what}, compared with sklearn's {},", metric.sklearn()),
                &got,
                &numbers,
                TOLERANCE,
            )?;
        }
        assert_close(&what, &got, &expected, TOLERANCE)
    })
}

/// A batch with ties: scores rounded to halves.
fn random_batch(b: i64, n: i64, kind: Kind, device: Device) -> (Tensor, Tensor, Tensor) {
    let scores = ((randn(&[b, n], kind, device) * 2.0).round() / 2.0).to_kind(kind);
    let labels = randint(&[b, n], 2, device).to_kind(Kind::Bool);
    let relevance = randint(&[b, n], 4, device).to_kind(Kind::Float);
    (scores, labels, relevance)
}

fn all_metrics_match(scores: &Tensor, labels: &Tensor, relevance: &Tensor) -> CheckResult {
    metric_matches(Metric::Auc, scores, labels, None)?;
    metric_matches(Metric::Ap, scores, labels, None)?;
    for k in [1, 5, 10] {
        metric_matches(Metric::Ndcg(k), scores, relevance, None)?;
    }
    Ok(())
}

fn main() {
    Checks::new()
        .check("roc_auc equals sklearn's roc_auc_score, ties counting one half", |ctx| {
            let (s, y, _) = table(ctx.device());
            metric_matches(Metric::Auc, &s.to_kind(Kind::Float), &y, Some(&TABLE_AUC))?;
            let (s, y, _) = formula_table(ctx.device());
            metric_matches(Metric::Auc, &s, &y, Some(&FORMULA_AUC))
        })
        .check("average_precision equals sklearn's average_precision_score, with ties", |ctx| {
            let (s, y, _) = table(ctx.device());
            metric_matches(Metric::Ap, &s.to_kind(Kind::Float), &y, Some(&TABLE_AP))?;
            let (s, y, _) = formula_table(ctx.device());
            metric_matches(Metric::Ap, &s, &y, Some(&FORMULA_AP))
        })
        .check("ndcg_at_k equals sklearn's ndcg_score, ties averaged, k = 1, 3, 5, 6, 12", |ctx| {
            let (s, _, g) = table(ctx.device());
            for (k, values) in TABLE_NDCG {
                metric_matches(Metric::Ndcg(k), &s.to_kind(Kind::Float), &g, Some(&values))?;
            }
            let (s, _, g) = formula_table(ctx.device());
            for (k, values) in FORMULA_NDCG {
                metric_matches(Metric::Ndcg(k), &s, &g, Some(&values))?;
            }
            Ok(())
        })
        .check("ndcg_at_k with k larger than the row is NDCG of the whole row", |ctx| {
            let (s, _, g) = table(ctx.device());
            metric_matches(Metric::Ndcg(20), &s, &g, Some(&TABLE_NDCG[2].1))
        })
        .check("edge rows: no positive, no negative, one item", |ctx| {
            let s = Tensor::from_slice(&[0.1f32, 0.5, 0.2, 0.3, 0.3, 0.9])
                .reshape([2, 3])
                .to_device(ctx.device());
            let y = Tensor::from_slice(&[false, false, false, true, true, true])
                .reshape([2, 3])
                .to_device(ctx.device());
            // sklearn raises for the AUC of a single class: NaN here; its AP without positives is 0.
            metric_matches(Metric::Auc, &s, &y, Some(&[f64::NAN, f64::NAN]))?;
            metric_matches(Metric::Ap, &s, &y, Some(&[0.0, 1.0]))?;
            let one = Tensor::from_slice(&[0.4f32, -1.0]).reshape([2, 1]).to_device(ctx.device());
            let one_label = Tensor::from_slice(&[true, false]).reshape([2, 1]).to_device(ctx.device());
            let one_gain = Tensor::from_slice(&[2.0f32, 0.0]).reshape([2, 1]).to_device(ctx.device());
            metric_matches(Metric::Ap, &one, &one_label, Some(&[1.0, 0.0]))?;
            metric_matches(Metric::Ndcg(3), &one, &one_gain, Some(&[1.0, 0.0]))
        })
        .check("every metric on a random batch of 64 rows of 30 items with ties", |ctx| {
            let (s, y, g) = random_batch(64, 30, Kind::Float, ctx.device());
            all_metrics_match(&s, &y, &g)
        })
        .check("every metric on a transposed (non-contiguous) batch, and on float64 scores", |ctx| {
            let (s, y, g) = random_batch(12, 5, Kind::Float, ctx.device());
            all_metrics_match(&s.tr(), &y.tr(), &g.tr())?;
            let (s, y, g) = random_batch(6, 9, Kind::Double, ctx.device());
            all_metrics_match(&s, &y, &g)
        })
        .check("no Rust loop over the samples or the rows", |_ctx| {
            for keyword in ["for", "while", "loop"] {
                check_that!(
                    !calls(EXERCISE_SOURCE, keyword),
                    "your code uses `{keyword}`: compute every row and every item at once with tensor \
                     operations (pairwise comparisons of [B, n, n], sums, sort, cumsum, gather), no Rust loop"
                );
            }
            assert_no_method_calls(
                EXERCISE_SOURCE,
                &["map", "for_each", "fold", "iter", "into_iter"],
                "compute every row and every item at once with tensor operations, not with Rust iterators",
            )
        })
        .run()
}
