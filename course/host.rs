//! The warm check host that watch mode starts (see `tensorlings_support::host`): it loads
//! libtorch once, then forks a child per check that loads the freshly built check library.

fn main() {
    let Some(socket) = std::env::args().nth(1) else {
        eprintln!("tensorlings_host: the tensorlings runner starts this program with a socket path");
        std::process::exit(2)
    };
    // Makes libtorch do its lazy set-up once here rather than in every check: a CPU tensor,
    // created without an operator that would start a thread pool or touch CUDA (neither would
    // survive the fork).
    let _ = tch::Tensor::from_slice(&[0f32, 1.0]);
    tensorlings_support::host::serve(&socket)
}
