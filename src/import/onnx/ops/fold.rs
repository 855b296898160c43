//! Constant folding helpers: NumPy broadcasting over constant tensors and row-major
//! index arithmetic.

use super::super::tensor::{Data, Int, Tensor};

/// The broadcast shape of `a` and `b` (NumPy rules), or `None` when they do not broadcast.
pub(super) fn broadcast_dims(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    let at = |d: &[usize], i: usize| (i + d.len()).checked_sub(rank).map_or(1, |j| d[j]);
    (0..rank)
        .map(|i| match (at(a, i), at(b, i)) {
            (x, y) if x == y => Some(x),
            (1, y) => Some(y),
            (x, 1) => Some(x),
            _ => None,
        })
        .collect()
}

/// For each element of `out` (row-major), the index of the element of a tensor of shape
/// `dims` that broadcasting maps onto it.
pub(super) fn broadcast_indices(dims: &[usize], out: &[usize]) -> Vec<usize> {
    let offset = out.len() - dims.len();
    let mut strides = vec![0; out.len()];
    let mut stride = 1;
    for i in (0..dims.len()).rev() {
        if dims[i] != 1 {
            strides[i + offset] = stride;
        }
        stride *= dims[i];
    }
    let total: usize = out.iter().product();
    let mut indices = Vec::with_capacity(total);
    let mut index = vec![0; out.len()];
    for _ in 0..total {
        indices.push(index.iter().zip(&strides).map(|(i, s)| i * s).sum());
        for axis in (0..out.len()).rev() {
            index[axis] += 1;
            if index[axis] < out[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
    indices
}

/// `f(a, b)` element-wise with broadcasting, on floats (any float operand) or integers.
pub(super) fn binary(
    a: &Tensor,
    b: &Tensor,
    float: impl Fn(f32, f32) -> f32,
    int: impl Fn(i64, i64) -> Option<i64>,
) -> Result<Tensor, String> {
    let dims = broadcast_dims(&a.dims, &b.dims)
        .ok_or_else(|| format!("shapes {:?} and {:?} do not broadcast", a.dims, b.dims))?;
    let (ia, ib) = (
        broadcast_indices(&a.dims, &dims),
        broadcast_indices(&b.dims, &dims),
    );
    match (&a.data, &b.data) {
        (Data::Int(x), Data::Int(y)) => {
            let values = ia
                .iter()
                .zip(&ib)
                .map(|(&i, &j)| match (x[i], y[j]) {
                    (Int::Known(p), Int::Known(q)) => int(p, q)
                        .map(Int::Known)
                        .ok_or_else(|| format!("integer arithmetic on {p} and {q} fails")),
                    _ => Err("arithmetic on the symbolic batch size is not supported".into()),
                })
                .collect::<Result<Vec<Int>, String>>()?;
            Ok(Tensor {
                dims,
                elem: a.elem,
                data: Data::Int(values),
            })
        }
        _ => {
            let (x, y) = (a.to_f32()?, b.to_f32()?);
            let values = ia
                .iter()
                .zip(&ib)
                .map(|(&i, &j)| float(x[i], y[j]))
                .collect();
            Ok(Tensor::floats(values, dims))
        }
    }
}
