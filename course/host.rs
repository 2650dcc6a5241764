//! The warm check host that the runner starts (see `tensorlings_support::host`): it loads
//! libtorch once, then forks a child per check that loads the freshly built check library.

fn main() {
    // Makes libtorch do its lazy set-up once here rather than in every check: a CPU tensor,
    // created without an operator that would start a thread pool or touch CUDA (neither would
    // survive the fork).
    let _ = tch::Tensor::from_slice(&[0f32, 1.0]);
    tensorlings_support::host::main_with_args()
}
