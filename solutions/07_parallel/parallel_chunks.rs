// Exercise 07_parallel/parallel_chunks: several CPU cores, two ways, without fighting over them.
//
// libtorch already uses several cores inside one operation: a large matmul or sum is split over
// its intra-op thread pool (`torch.set_num_threads(n)`, `tch::set_num_threads(n)`, by default
// one thread per core). That is intra-op parallelism, and it pays off for big operations.
//
// Many small, independent pieces of work (a model applied to many small inputs, a per-chunk
// preprocessing step) gain more from inter-op parallelism: run the pieces themselves on
// different threads at the same time. In Rust that is `std::thread::scope`: threads that may
// borrow from the caller and are all joined when the scope ends.
//
// Both at once oversubscribe: k Rust threads, each running operations on an intra-op pool of
// c threads, ask for k * c threads on c cores, and they spend their time being switched in
// and out and waiting for each other. So inside the workers, intra-op threads go down to 1, and
// afterwards they go back to what they were: a library function must not leave the process
// slower than it found it.
//
// How libtorch counts its threads (OpenMP, as in the PyTorch wheels), measured:
// `set_num_threads(n)` sets the count of the calling thread and a process-wide default, and a
// thread that starts libtorch work later takes that default. So setting 1 around the scope, in
// the calling thread, gives every worker 1; setting it back in the calling thread after the
// scope is what restores the default. Restoring from inside a worker is a race: a worker that
// read the count after another worker had set it to 1 "restores" 1.
//
// Two more Rust facts meet here. `tch::Tensor` is `Send` but not `Sync`: a tensor may move to
// another thread, but two threads may not share a `&Tensor`. So the caller splits `x` into
// pieces (tensors of their own, views of x) and moves one into each thread. And `f` is shared
// by every thread, so it must be `Sync`.

use std::thread;

use tch::{Device, Kind, Tensor};

/// Runs `f` with libtorch's intra-op thread count set to `threads`, then sets the count back to
/// what it was before the call, also when `f` panics (a guard whose `Drop` restores it).
///
/// PyTorch:
/// ```python
/// before = torch.get_num_threads()
/// torch.set_num_threads(threads)
/// try:
///     return f()
/// finally:
///     torch.set_num_threads(before)
/// ```
pub fn with_intra_op_threads<T>(threads: i32, f: impl FnOnce() -> T) -> T {
    struct Restore(i32);
    impl Drop for Restore {
        fn drop(&mut self) {
            tch::set_num_threads(self.0);
        }
    }
    let _restore = Restore(tch::get_num_threads());
    tch::set_num_threads(threads);
    f()
}

/// `f` applied to `x` piece by piece, the pieces at the same time: `x` split along dimension 0
/// into `chunks` pieces of nearly equal size (`tensor_split`; fewer non-empty pieces when `x`
/// has fewer rows), `f` called on each piece in a thread of its own with 1 intra-op thread, and
/// the results concatenated along dimension 0 in the order of the pieces. The intra-op thread
/// count is as before afterwards. `f` works row by row, so the result equals `f(x)`.
///
/// PyTorch has no scoped threads; the closest is
/// ```python
/// with ThreadPoolExecutor(chunks) as pool:     # and torch.set_num_threads(1) around it
///     torch.cat(list(pool.map(f, x.tensor_split(chunks))))
/// ```
pub fn parallel_map_chunks(x: &Tensor, chunks: i64, f: impl Fn(&Tensor) -> Tensor + Sync) -> Tensor {
    let pieces: Vec<Tensor> = x.tensor_split(chunks, 0).into_iter().filter(|p| p.size()[0] > 0).collect();
    if pieces.is_empty() {
        return f(x);
    }
    let f = &f;
    let results: Vec<Tensor> = with_intra_op_threads(1, || {
        thread::scope(|scope| {
            let workers: Vec<_> = pieces.into_iter().map(|piece| scope.spawn(move || f(&piece))).collect();
            // Joined in the order of the pieces, whatever order they finish in.
            workers.into_iter().map(|w| w.join().expect("a worker panicked")).collect()
        })
    });
    Tensor::cat(&results, 0)
}

fn main() {
    println!("intra-op threads: {}", tch::get_num_threads());
    let x = Tensor::arange(12, (Kind::Float, Device::Cpu)).reshape([6, 2]);
    let y = parallel_map_chunks(&x, 4, |piece| {
        println!(
            "{:?} on {:?} with {} intra-op thread(s)",
            piece.size(),
            thread::current().id(),
            tch::get_num_threads()
        );
        piece.softmax(-1, Kind::Float)
    });
    y.print();
    println!("intra-op threads afterwards: {}", tch::get_num_threads());
}
