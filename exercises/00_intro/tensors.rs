// Exercise 00_intro/tensors: creating tensors, their dtype and their device.
//
// How tensorlings works
// ---------------------
// You edit this file; the checks live in checks/00_intro/tensors.rs, where you cannot weaken
// them by accident. Every time you save, tensorlings compiles this file into the check and
// calls your functions and the reference solution's on the same random inputs, then compares
// shapes, dtypes, devices and values. A failed check says which input and where the values
// differ. Replace each `todo!()` with your code; press h in watch mode for a hint.
//
// The `main` at the bottom is yours to play with: `cargo run --bin tensors` in course/.
//
// tch for a PyTorch user
// ----------------------
// `tch::Tensor` is `torch.Tensor`. Most methods keep their PyTorch names; what Python passes as
// keyword arguments becomes positional, and the dtype and device of a new tensor travel
// together as `(Kind, Device)`, e.g. `(Kind::Float, Device::Cpu)`. Kind::Float is float32,
// Kind::Double is float64, Kind::Int64 is int64. `x.size()` is `x.shape`, `x.kind()` is
// `x.dtype`, `x.device()` is `x.device`.

use tch::{Device, Kind, Tensor};

/// A `rows` x `cols` float32 matrix holding 0, 1, 2, ... in row-major order, on `device`.
///
/// PyTorch: `torch.arange(rows * cols, dtype=torch.float32, device=device).reshape(rows, cols)`
pub fn grid(rows: i64, cols: i64, device: Device) -> Tensor {
    // TODO: make the numbers with Tensor::arange, then give them the right shape.
    todo!("grid({rows}, {cols}, {device:?})")
}

/// `x` converted to float64, with the same values and on the same device.
///
/// PyTorch: `x.to(torch.float64)`
pub fn to_double(x: &Tensor) -> Tensor {
    // TODO
    todo!("to_double of a {:?} tensor", x.kind())
}

/// A tensor of ones with the shape, dtype and device of `x`.
///
/// PyTorch: `torch.ones_like(x)`
pub fn ones_like(x: &Tensor) -> Tensor {
    // TODO
    todo!("ones_like of shape {:?}", x.size())
}

fn main() {
    let g = grid(2, 3, Device::Cpu);
    g.print();
    println!("dtype {:?}, device {:?}", g.kind(), g.device());
    to_double(&g).print();
    ones_like(&Tensor::zeros([2, 2], (Kind::Int64, Device::Cpu))).print();
}
