// A wrong answer to 00_intro/tensors.
// Converts to float32 instead of float64.
// expect: `to_double(x)` has kind Float (float32) but the reference has Double (float64)

use tch::{Device, Kind, Tensor};

/// A `rows` x `cols` float32 matrix holding 0, 1, 2, ... in row-major order, on `device`.
pub fn grid(rows: i64, cols: i64, device: Device) -> Tensor {
    // Without Kind::Float, arange would give int64, as torch.arange does.
    Tensor::arange(rows * cols, (Kind::Float, device)).reshape([rows, cols])
}

/// `x` converted to float64, with the same values and on the same device.
pub fn to_double(x: &Tensor) -> Tensor {
    x.to_kind(Kind::Float)
}

/// A tensor of ones with the shape, dtype and device of `x`.
pub fn ones_like(x: &Tensor) -> Tensor {
    x.ones_like()
}

fn main() {
    let g = grid(2, 3, Device::Cpu);
    g.print();
    println!("dtype {:?}, device {:?}", g.kind(), g.device());
    to_double(&g).print();
    ones_like(&Tensor::zeros([2, 2], (Kind::Int64, Device::Cpu))).print();
}
