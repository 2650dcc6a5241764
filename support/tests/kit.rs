//! The authoring kit as a check file uses it, from outside the crate: the prelude, `call!` on
//! modules named `exercise` and `solution`, and `Checks::new()` naming the exercise after the
//! file it is called from.

use tensorlings_support::prelude::*;

/// What `exercise_modules!` makes of a reference solution.
mod solution {
    use tch::Tensor;

    pub fn scale(x: &Tensor, w: &Tensor, by: f64) -> Tensor {
        x * w * by
    }

    pub fn split(x: &Tensor) -> (Tensor, Tensor) {
        (x.relu(), (-x).relu())
    }
}

/// ... and of a learner's exercise with two mistakes to find.
mod exercise {
    use tch::Tensor;

    pub fn scale(x: &Tensor, w: &Tensor, by: f64) -> Tensor {
        let mut y = x.shallow_clone();
        y *= w * by;
        y
    }

    pub fn split(x: &Tensor) -> (Tensor, Tensor) {
        ((-x).relu(), x.relu())
    }
}

#[test]
fn call_runs_the_protocol_on_the_modules_of_the_check() {
    let (x, w) = (Tensor::from_slice(&[1.0f32, -2.0]), Tensor::from_slice(&[3.0f32, 4.0]));
    // Non-tensor arguments follow the `;`; tensors may be `Tensor`s or `&Tensor`s.
    let w_ref = &w;
    let changed = call!(scale(x, w_ref; 2.0)).check().unwrap_err();
    assert!(
        changed
            .message()
            .starts_with("for x of shape [2] and w_ref of shape [2]: the exercise changed its input `x`"),
        "{changed}"
    );
    let y = Tensor::from_slice(&[1.0f32, -2.0]);
    let swapped = call!(split(y)).outputs(&["positive part", "negative part"]).check().unwrap_err();
    assert_eq!(
        swapped.message(),
        "for y of shape [2]: `split(y)` returns its results in the wrong order: what it returns as \
         `positive part` is the reference's `negative part`, and the other way round"
    );
}

#[test]
fn checks_are_named_after_their_file() {
    let report = Checks::new().check("passes", |_| Ok(())).execute();
    assert_eq!(report.checks.len(), 1);
    // This file is support/tests/kit.rs: the header printed was "checking `kit`", which the
    // report does not keep; the name is checked through `file_stem` in the unit tests.
    assert_eq!(tensorlings_support::check::file_stem(file!()), "kit");
}
