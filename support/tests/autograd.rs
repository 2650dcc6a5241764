//! Custom autograd functions against libtorch's built-ins, and their error paths.

use std::sync::{Arc, Mutex};
use std::thread;

use tch::{Kind, Tensor};
use tensorlings_support::autograd::{Context, CustomFunction, Function, f_retain_grad, retain_grad};

/// A leaf tensor of f64 that requires grad.
fn leaf(values: &[f64]) -> Tensor {
    Tensor::from_slice(values).set_requires_grad(true)
}

fn values(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(&t.flatten(0, -1).to_kind(Kind::Double)).unwrap()
}

#[track_caller]
fn assert_close(actual: &Tensor, expected: &Tensor) {
    assert_eq!(actual.size(), expected.size(), "shapes differ");
    assert!(
        actual.allclose(expected, 1e-12, 1e-12, false),
        "\n  actual: {:?}\nexpected: {:?}",
        values(actual),
        values(expected)
    );
}

/// A ReLU, with relu's gradient 0 at x = 0.
fn relu() -> CustomFunction {
    CustomFunction::new(
        "relu",
        |ctx: &mut Context, inputs: &[Tensor]| {
            ctx.save_for_backward(&[&inputs[0]]);
            vec![inputs[0].clamp_min(0.0)]
        },
        |ctx: &Context, grads: &[Tensor]| {
            let x = &ctx.saved()[0];
            vec![Some(&grads[0] * x.gt(0.0).to_kind(grads[0].kind()))]
        },
    )
}

/// Sigmoid as a type; it saves its output, not its input.
struct Sigmoid;

impl Function for Sigmoid {
    const NAME: &'static str = "sigmoid";

    fn forward(ctx: &mut Context, inputs: &[Tensor]) -> Vec<Tensor> {
        let y = inputs[0].sigmoid();
        ctx.save_for_backward(&[&y]);
        vec![y]
    }

    fn backward(ctx: &Context, grads: &[Tensor]) -> Vec<Option<Tensor>> {
        let y = &ctx.saved()[0];
        vec![Some(&grads[0] * y * (1.0 - y))]
    }
}

/// x^3 whose backward is made of differentiable operations, so it can be differentiated again.
fn cube() -> CustomFunction {
    CustomFunction::new(
        "cube",
        |ctx, inputs| {
            ctx.save_for_backward(&[&inputs[0]]);
            vec![inputs[0].pow_tensor_scalar(3)]
        },
        |ctx, grads| {
            let x = &ctx.saved()[0];
            vec![Some(&grads[0] * 3.0 * x * x)]
        },
    )
}

/// f(a, b) = (a * b, a + b).
fn product_and_sum() -> CustomFunction {
    CustomFunction::new(
        "product_and_sum",
        |ctx, inputs| {
            let (a, b) = (&inputs[0], &inputs[1]);
            ctx.save_for_backward(&[a, b]);
            vec![a * b, a + b]
        },
        |ctx, grads| {
            let (a, b) = (&ctx.saved()[0], &ctx.saved()[1]);
            let (g_product, g_sum) = (&grads[0], &grads[1]);
            vec![Some(g_product * b + g_sum), Some(g_product * a + g_sum)]
        },
    )
}

#[test]
fn relu_matches_the_builtin_including_at_zero() {
    let data = [-2.0, -0.5, 0.0, 0.5, 3.0];
    // A weight per element, so a gradient in the wrong place shows.
    let weights = Tensor::from_slice(&[1.0, 2.0, 3.0, 4.0, 5.0]);

    let x = leaf(&data);
    let y = relu().apply(&[&x]).unwrap().remove(0);
    assert!(y.requires_grad());
    (&y * &weights).sum(None).backward();

    let x_ref = leaf(&data);
    let y_ref = x_ref.relu();
    (&y_ref * &weights).sum(None).backward();

    assert_close(&y, &y_ref);
    assert_close(&x.grad(), &x_ref.grad());
    assert_eq!(values(&x.grad()), [0.0, 0.0, 0.0, 4.0, 5.0]);
}

#[test]
fn sigmoid_as_a_type_matches_the_builtin() {
    let data = [-3.0, -0.5, 0.0, 0.25, 2.0];
    let weights = Tensor::from_slice(&[0.5, -1.0, 2.0, 3.0, 1.5]);

    let x = leaf(&data);
    let y = Sigmoid::apply(&[&x]).unwrap().remove(0);
    (&y * &weights).sum(None).backward();

    let x_ref = leaf(&data);
    let y_ref = x_ref.sigmoid();
    (&y_ref * &weights).sum(None).backward();

    assert_close(&y, &y_ref);
    assert_close(&x.grad(), &x_ref.grad());
}

#[test]
fn outputs_require_grad_only_when_an_input_does_and_grad_mode_is_on() {
    let f = relu();
    let plain = Tensor::from_slice(&[1.0, -1.0]);
    assert!(!f.apply(&[&plain]).unwrap()[0].requires_grad());

    let x = leaf(&[1.0, -1.0]);
    assert!(f.apply(&[&x]).unwrap()[0].requires_grad());
    let y = tch::no_grad(|| f.apply(&[&x]).unwrap().remove(0));
    assert!(!y.requires_grad());
}

#[test]
fn forward_runs_with_grad_mode_off() {
    let seen = Arc::new(Mutex::new(None));
    let seen_in_forward = Arc::clone(&seen);
    let f = CustomFunction::new(
        "double",
        move |_, inputs| {
            let y = &inputs[0] * 2.0;
            *seen_in_forward.lock().unwrap() = Some(y.requires_grad());
            vec![y]
        },
        |_, grads| vec![Some(&grads[0] * 2.0)],
    );
    let x = leaf(&[1.0, 2.0]);
    let y = f.apply(&[&x]).unwrap().remove(0);
    assert_eq!(*seen.lock().unwrap(), Some(false));
    assert!(y.requires_grad());
}

#[test]
fn several_inputs_and_outputs_get_every_gradient() {
    let (a_data, b_data) = ([1.0, -2.0, 3.0], [0.5, 4.0, -1.5]);
    let w_product = Tensor::from_slice(&[1.0, 2.0, 3.0]);
    let w_sum = Tensor::from_slice(&[-1.0, 0.5, 2.0]);

    let (a, b) = (leaf(&a_data), leaf(&b_data));
    let outputs = product_and_sum().apply(&[&a, &b]).unwrap();
    assert_eq!(outputs.len(), 2);
    ((&outputs[0] * &w_product).sum(None) + (&outputs[1] * &w_sum).sum(None)).backward();

    let (a_ref, b_ref) = (leaf(&a_data), leaf(&b_data));
    let (product, sum) = (&a_ref * &b_ref, &a_ref + &b_ref);
    ((&product * &w_product).sum(None) + (&sum * &w_sum).sum(None)).backward();

    assert_close(&outputs[0], &product);
    assert_close(&outputs[1], &sum);
    assert_close(&a.grad(), &a_ref.grad());
    assert_close(&b.grad(), &b_ref.grad());
}

#[test]
fn an_unused_output_gets_a_zero_gradient() {
    let (a, b) = (leaf(&[1.0, -2.0]), leaf(&[3.0, 5.0]));
    let outputs = product_and_sum().apply(&[&a, &b]).unwrap();
    // Only a * b takes part: d/da = b, d/db = a.
    outputs[0].sum(None).backward();
    assert_eq!(values(&a.grad()), [3.0, 5.0]);
    assert_eq!(values(&b.grad()), [1.0, -2.0]);
}

#[test]
fn none_means_no_gradient_and_needs_input_grad_says_which_are_wanted() {
    let needs = Arc::new(Mutex::new(Vec::new()));
    let needs_in_backward = Arc::clone(&needs);
    let masked = CustomFunction::new(
        "masked",
        |ctx, inputs| {
            ctx.save_for_backward(&[&inputs[1]]);
            vec![&inputs[0] * &inputs[1]]
        },
        move |ctx, grads| {
            needs_in_backward.lock().unwrap().push(ctx.needs_input_grad().to_vec());
            vec![Some(&grads[0] * &ctx.saved()[0]), None]
        },
    );

    let x = leaf(&[1.0, 2.0, 3.0]);
    let mask = Tensor::from_slice(&[1.0, 0.0, 1.0]);
    masked.apply(&[&x, &mask]).unwrap()[0].sum(None).backward();
    assert_eq!(values(&x.grad()), [1.0, 0.0, 1.0]);

    // Now the mask requires grad too, but backward gives it none.
    let x = leaf(&[1.0, 2.0, 3.0]);
    let mask = leaf(&[1.0, 0.0, 1.0]);
    masked.apply(&[&x, &mask]).unwrap()[0].sum(None).backward();
    assert_eq!(values(&x.grad()), [1.0, 0.0, 1.0]);
    assert!(!mask.grad().defined());

    assert_eq!(*needs.lock().unwrap(), [[true, false], [true, true]]);
}

#[test]
fn double_backward_through_a_differentiable_backward() {
    let data = [-1.5, 0.0, 0.5, 2.0];
    let x = leaf(&data);
    let y = cube().apply(&[&x]).unwrap().remove(0);

    let dy_dx = Tensor::run_backward(&[y.sum(None)], &[&x], true, true).remove(0);
    assert!(dy_dx.requires_grad());
    assert_close(&dy_dx, &(&x * &x * 3.0).detach());

    dy_dx.sum(None).backward();
    assert_close(&x.grad(), &(6.0 * x.detach()));
}

#[test]
fn save_data_carries_a_value_to_backward() {
    // sum of all elements; backward needs the input's shape, not the input.
    let sum_all = CustomFunction::new(
        "sum_all",
        |ctx, inputs| {
            ctx.save_data(inputs[0].size());
            vec![inputs[0].sum(None)]
        },
        |ctx, grads| {
            let shape = ctx.data::<Vec<i64>>().expect("the input's shape");
            assert!(ctx.data::<String>().is_none());
            vec![Some(grads[0].expand(shape.as_slice(), false).contiguous())]
        },
    );
    let x = Tensor::from_slice(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).reshape([2, 3]).set_requires_grad(true);
    let y = sum_all.apply(&[&x]).unwrap().remove(0);
    (y * 2.0).backward();
    assert_close(&x.grad(), &Tensor::full([2, 3], 2.0, (Kind::Double, x.device())));
}

#[test]
fn a_non_differentiable_output_does_not_require_grad_and_gets_zeros() {
    let grads_seen = Arc::new(Mutex::new(Vec::new()));
    let grads_in_backward = Arc::clone(&grads_seen);
    let with_mask = CustomFunction::new(
        "double_with_mask",
        |ctx, inputs| {
            let mask = inputs[0].gt(0.0).to_kind(Kind::Double);
            ctx.mark_non_differentiable(&[&mask]);
            vec![&inputs[0] * 2.0, mask]
        },
        move |_, grads| {
            *grads_in_backward.lock().unwrap() = values(&grads[1]);
            vec![Some(&grads[0] * 2.0)]
        },
    );
    let x = leaf(&[-1.0, 1.0]);
    let outputs = with_mask.apply(&[&x]).unwrap();
    assert!(outputs[0].requires_grad());
    assert!(!outputs[1].requires_grad());
    assert_eq!(values(&outputs[1]), [0.0, 1.0]);
    outputs[0].sum(None).backward();
    assert_eq!(values(&x.grad()), [2.0, 2.0]);
    assert_eq!(*grads_seen.lock().unwrap(), [0.0, 0.0]);
}

#[test]
fn marking_a_tensor_that_is_not_an_output_is_an_error() {
    let f = CustomFunction::new(
        "mark_wrong",
        |ctx, inputs| {
            let mask = inputs[0].gt(0.0);
            ctx.mark_non_differentiable(&[&mask]);
            vec![&inputs[0] * 2.0]
        },
        |_, grads| vec![Some(&grads[0] * 2.0)],
    );
    let err = f.apply(&[leaf(&[1.0])]).unwrap_err().to_string();
    assert!(err.contains("custom function `mark_wrong`: mark_non_differentiable"), "{err}");
}

#[test]
fn a_panic_in_forward_is_an_error() {
    let f = CustomFunction::new(
        "broken_forward",
        |_, _| panic!("forward is not written yet"),
        |_, grads| vec![Some(grads[0].shallow_clone())],
    );
    let err = f.apply(&[leaf(&[1.0])]).unwrap_err().to_string();
    assert!(
        err.contains("custom function `broken_forward`: forward panicked at tests/autograd.rs:"),
        "{err}"
    );
    assert!(err.contains("forward is not written yet"), "{err}");
}

#[test]
fn a_backward_that_reads_what_forward_did_not_save_is_told_to_save_it() {
    let f = CustomFunction::new(
        "forgot_to_save",
        |_, inputs| vec![inputs[0].square()],
        |ctx, grads| vec![Some(&grads[0] * 2.0 * &ctx.saved()[0])],
    );
    let y = f.apply(&[leaf(&[1.0])]).unwrap().remove(0);
    let err = y.sum(None).f_backward().unwrap_err().to_string();
    assert!(err.contains("index out of bounds"), "{err}");
    assert!(err.contains("save what backward needs with ctx.save_for_backward in forward"), "{err}");
}

#[test]
fn a_todo_in_backward_says_where_to_write_the_code() {
    let f =
        CustomFunction::new("unwritten", |_, inputs| vec![&inputs[0] * 2.0], |_, _| todo!("the gradient"));
    let y = f.apply(&[leaf(&[1.0])]).unwrap().remove(0);
    let err = y.sum(None).f_backward().unwrap_err().to_string();
    assert!(
        err.contains(
            "custom function `unwritten`: backward: not implemented yet: replace the `todo!()` at tests/autograd.rs:"
        ),
        "{err}"
    );
    assert!(err.contains("(todo!() says: the gradient)"), "{err}");
}

#[test]
fn a_panic_in_backward_is_an_error_where_backward_was_called() {
    let f = CustomFunction::new(
        "broken_backward",
        |_, inputs| vec![&inputs[0] * 2.0],
        |_, _| panic!("backward is not written yet: {}", 42),
    );
    let x = leaf(&[1.0, 2.0]);
    let y = f.apply(&[&x]).unwrap().remove(0);
    let err = y.sum(None).f_backward().unwrap_err().to_string();
    assert!(err.contains("custom function `broken_backward`"), "{err}");
    assert!(err.contains("backward is not written yet: 42"), "{err}");
}

#[test]
fn the_wrong_number_of_gradients_is_an_error_naming_the_function() {
    let f = CustomFunction::new(
        "relu",
        |_, inputs| vec![inputs[0].relu()],
        |_, grads| vec![Some(grads[0].shallow_clone()), None],
    );
    let x = leaf(&[1.0, 2.0]);
    let y = f.apply(&[&x]).unwrap().remove(0);
    let err = y.sum(None).f_backward().unwrap_err().to_string();
    assert!(err.contains("custom function `relu`: backward returned 2 gradients for 1 input"), "{err}");
}

#[test]
fn a_gradient_of_the_wrong_shape_is_an_error() {
    let f = CustomFunction::new(
        "bad_shape",
        |_, inputs| vec![&inputs[0] * &inputs[1]],
        // The gradient for `b` is summed over rows: shape [3] where b has shape [2, 3].
        |_, grads| vec![Some(grads[0].shallow_clone()), Some(grads[0].sum_dim_intlist(0, false, None))],
    );
    let a = Tensor::ones([2, 3], (Kind::Double, tch::Device::Cpu)).set_requires_grad(true);
    let b = Tensor::ones([2, 3], (Kind::Double, tch::Device::Cpu)).set_requires_grad(true);
    let y = f.apply(&[&a, &b]).unwrap().remove(0);
    let err = y.sum(None).f_backward().unwrap_err().to_string();
    assert!(err.contains("custom function `bad_shape`"), "{err}");
    assert!(err.contains("[3]") && err.contains("[2, 3]") && err.contains("input 1"), "{err}");
}

#[test]
fn a_gradient_of_the_broadcast_shape_is_summed_to_the_inputs_shape_as_in_pytorch() {
    // b of shape [2, 1] broadcasts against a of shape [2, 3]; backward returns the product's
    // gradient for b without reducing it.
    let f = CustomFunction::new(
        "broadcast_mul",
        |ctx, inputs| {
            ctx.save_for_backward(inputs);
            vec![&inputs[0] * &inputs[1]]
        },
        |ctx, grads| vec![Some(&grads[0] * &ctx.saved()[1]), Some(&grads[0] * &ctx.saved()[0])],
    );
    let a = Tensor::from_slice(&[1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0]).reshape([2, 3]).set_requires_grad(true);
    let b = Tensor::from_slice(&[10.0f64, 20.0]).reshape([2, 1]).set_requires_grad(true);
    f.apply(&[&a, &b]).unwrap().remove(0).sum(None).backward();
    assert_eq!(b.grad().size(), [2, 1]);
    assert_eq!(values(&b.grad()), [6.0, 15.0]);
    assert_eq!(values(&a.grad()), [10.0, 10.0, 10.0, 20.0, 20.0, 20.0]);
}

#[test]
fn a_saved_tensor_modified_in_place_is_an_error() {
    let x = leaf(&[1.0, 2.0]);
    let mut h = &x * 1.0;
    let y = cube().apply(&[&h]).unwrap().remove(0);
    let _ = h.g_add_scalar_(1.0);
    let err = y.sum(None).f_backward().unwrap_err().to_string();
    assert!(err.contains("modified by an inplace operation"), "{err}");
}

#[test]
fn works_from_several_threads() {
    let f = relu();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let f = f.clone();
            thread::spawn(move || {
                for _ in 0..20 {
                    let data: Vec<f64> = (0..8).map(|j| f64::from(j - 4 + i)).collect();
                    let x = leaf(&data);
                    let y = f.apply(&[&x]).unwrap().remove(0);
                    (&y * &y).sum(None).backward();
                    let x_ref = leaf(&data);
                    let y_ref = x_ref.relu();
                    (&y_ref * &y_ref).sum(None).backward();
                    assert_close(&x.grad(), &x_ref.grad());
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
}

#[test]
fn backward_works_after_the_function_is_dropped_and_the_graph_frees_it() {
    let token = Arc::new(());
    let (in_forward, in_backward) = (Arc::clone(&token), Arc::clone(&token));
    let f = CustomFunction::new(
        "times_three",
        move |ctx, inputs| {
            let _ = &in_forward;
            let y = &inputs[0] * 3.0;
            // Saving an output must not make a reference cycle that keeps the graph alive.
            ctx.save_for_backward(&[&y]);
            vec![y]
        },
        move |ctx, grads| {
            let _ = &in_backward;
            assert_eq!(ctx.saved().len(), 1);
            vec![Some(&grads[0] * 3.0)]
        },
    );
    let x = leaf(&[1.0, 2.0]);
    let y = f.apply(&[&x]).unwrap().remove(0);
    drop(f);
    // The graph (through y) still holds the closures.
    assert_eq!(Arc::strong_count(&token), 3);
    y.sum(None).backward();
    assert_eq!(values(&x.grad()), [3.0, 3.0]);
    drop(y);
    assert_eq!(Arc::strong_count(&token), 1);
}

#[test]
fn a_second_backward_without_keep_graph_is_an_error() {
    let x = leaf(&[1.0, 2.0]);
    let y = relu().apply(&[&x]).unwrap().remove(0).sum(None);
    y.backward();
    let err = y.f_backward().unwrap_err().to_string();
    assert!(err.contains("second time"), "{err}");
}

#[test]
fn retain_grad_keeps_the_gradient_of_a_non_leaf() {
    let x = leaf(&[1.0, -2.0, 3.0]);
    let h = &x * 2.0;
    let kept = &x * 2.0;
    retain_grad(&kept);
    ((&h * &h).sum(None) + (&kept * &kept).sum(None)).backward();
    // d/dh of h^2 = 2h.
    assert!(!h.grad().defined());
    assert_close(&kept.grad(), &(2.0 * kept.detach()));
}

#[test]
fn retain_grad_on_a_tensor_without_grad_is_an_error() {
    let err = f_retain_grad(&Tensor::from_slice(&[1.0])).unwrap_err().to_string();
    assert!(err.contains("requires_grad=False"), "{err}");
}

/// build.rs links libtorch_cuda (with `--no-as-needed -ltorch`) when it decided to
/// (TENSORLINGS_LINKED_CUDA: libtorch has a CUDA part and the machine an NVIDIA driver, or
/// TENSORLINGS_CUDA=1), and only then; and with an rpath (this test binary started without
/// LD_LIBRARY_PATH, unless the environment set one).
#[cfg(target_os = "linux")]
#[test]
fn test_binaries_load_libtorch_cuda_exactly_when_linked_for_it() {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let cpu = maps
        .lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .find(|path| path.ends_with("/libtorch_cpu.so"))
        .expect("libtorch_cpu.so is mapped");
    let cuda = std::path::Path::new(cpu).with_file_name("libtorch_cuda.so");
    let linked = env!("TENSORLINGS_LINKED_CUDA") == "1";
    assert_eq!(maps.contains(&*cuda.to_string_lossy()), linked, "build.rs linked CUDA: {linked}");
}

#[test]
#[cfg_attr(
    not(tensorlings_gpu_tests),
    ignore = "needs a GPU: no NVIDIA driver here (TENSORLINGS_REQUIRE_GPU=1 runs it)"
)]
fn on_cuda_when_there_is_a_gpu() {
    assert!(tch::Cuda::is_available(), "no CUDA device, on a machine that should have one");
    let device = tch::Device::Cuda(0);
    let data = Tensor::from_slice(&[-1.0, 0.0, 2.0, 3.0]);
    let x = data.to_device(device).set_requires_grad(true);
    let y = relu().apply(&[&x]).unwrap().remove(0);
    assert_eq!(y.device(), device);
    (&y * &y).sum(None).backward();
    let x_ref = data.to_device(device).set_requires_grad(true);
    let y_ref = x_ref.relu();
    (&y_ref * &y_ref).sum(None).backward();
    assert_close(&x.grad(), &x_ref.grad());
}
