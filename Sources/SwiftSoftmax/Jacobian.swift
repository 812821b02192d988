import SoftmaxCore

/// The softmax Jacobian `J[i][j] = ∂p_i/∂x_j = p_i (δ_ij - p_j) / T` of every slice of an
/// `[outer, n, inner]` array, with `p = softmax(x / T)`.
///
/// `jac` receives one `n × n` block per slice, laid out `[outer, inner, n, n]` (the Jacobian
/// axes last). The matrix is symmetric; its diagonal `p_i (1 - p_i)` peaks at 1/4 where
/// `p_i = 1/2`, and `1 - p_i` of the largest probability is computed as the sum of the other
/// terms over the total, so it stays accurate when `p_i` is close to 1. A NaN slice gives a NaN
/// block, an all -inf slice a zero block.
///
/// ```swift
/// let x: [Double] = [0, 2, 4]
/// var jac = [Double](repeating: 0, count: 9)
/// try softmaxJacobian(x, into: &jac, shape: RowShape(n: 3))
/// // jac[8] = p_2 (1 - p_2) = 0.1155, jac[1] = -p_0 p_1 = -0.00186
/// ```
///
/// - Throws: `.nullPointer`, `.invalidShape` (when `outer · inner · n · n` overflows),
///   `.overlappingBuffers`, `.invalidArgument` (temperature not finite and > 0), before any write.
@_specialize(exported: true, where T == Float)
@_specialize(exported: true, where T == Double)
public func softmaxJacobian<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>?, into jac: UnsafeMutablePointer<T>?, shape: RowShape, temperature: T = 1
) throws(SoftmaxError) {
    let size = MemoryLayout<T>.stride
    let (nn, o1) = shape.n.multipliedReportingOverflow(by: shape.n)
    let (jcount, o2) = nn.multipliedReportingOverflow(by: shape.slices)
    let (_, o3) = jcount.multipliedReportingOverflow(by: 8)
    // No slices: an empty Jacobian, however long the (empty) class axis.
    guard !(o1 || o2 || o3) || shape.slices == 0 else {
        throw SoftmaxError(.invalidShape, "jac: shape \(shape) needs outer·inner·n·n elements, which overflows")
    }
    try Check.pointer(x, count: shape.count, "x")
    try Check.pointer(jac, count: jcount, "jac")
    try Check.disjoint(jac, jcount * size, "jac", x, shape.count * size, "x", allowAlias: false)
    try Check.temperature(temperature)
    guard jcount > 0, let x, let jac else { return }
    let k = Tier.kernels
    Threads.forEachChunk(units: shape.slices, costPerUnit: nn + 3 * shape.n) { r in
        k.softmaxJacobian(x, jac, n: shape.n, inner: shape.inner, slices: r, temperature: temperature)
    }
}

/// The Jacobian of the softmax of one row, as `n` rows of `n`.
///
/// ```swift
/// let j = try softmaxJacobian([0, 0] as [Double])   // [[0.25, -0.25], [-0.25, 0.25]]
/// ```
public func softmaxJacobian<T: SoftmaxScalar>(_ x: [T], temperature: T = 1) throws(SoftmaxError) -> [[T]] {
    let shape = try RowShape(n: x.count)
    var flat = [T](repeating: 0, count: x.count * x.count)
    try x.withUnsafeBufferPointer { (xb) throws(SoftmaxError) in
        try flat.withUnsafeMutableBufferPointer { (jb) throws(SoftmaxError) in
            try softmaxJacobian(xb.baseAddress, into: jb.baseAddress, shape: shape, temperature: temperature)
        }
    }
    return (0..<x.count).map { i in Array(flat[(i * x.count)..<((i + 1) * x.count)]) }
}
