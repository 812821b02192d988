/// Array conveniences: one row (or one vector) in, a new array out. They call the pointer API,
/// so they validate and compute exactly as the C library does.

/// Softmax of one row.
///
/// ```swift
/// try softmax([0, 2, 4] as [Double])   // [0.01588, 0.11731, 0.86681]
/// ```
public func softmax<T: SoftmaxScalar>(_ x: [T], temperature: T = 1) throws(SoftmaxError) -> [T] {
    try rowOp(x) { (x, y, shape) throws(SoftmaxError) in try softmax(x, into: y, shape: shape, temperature: temperature) }
}

/// Log-softmax of one row.
///
/// ```swift
/// try logSoftmax([0, 2, 4] as [Double])   // [-4.14293, -2.14293, -0.14293]
/// ```
public func logSoftmax<T: SoftmaxScalar>(_ x: [T], temperature: T = 1) throws(SoftmaxError) -> [T] {
    try rowOp(x) { (x, y, shape) throws(SoftmaxError) in try logSoftmax(x, into: y, shape: shape, temperature: temperature) }
}

/// Sum-normalisation of one row.
///
/// ```swift
/// try normalize([0, 102, 104] as [Double])   // [0, 0.49515, 0.50485]
/// ```
public func normalize<T: SoftmaxScalar>(_ x: [T]) throws(SoftmaxError) -> [T] {
    try rowOp(x) { (x, y, shape) throws(SoftmaxError) in try normalize(x, into: y, shape: shape) }
}

/// Elementwise sigmoid.
///
/// ```swift
/// try sigmoid([0] as [Float])   // [0.5]
/// ```
public func sigmoid<T: SoftmaxScalar>(_ x: [T]) throws(SoftmaxError) -> [T] {
    try rowOp(x) { (x, y, shape) throws(SoftmaxError) in try sigmoid(x, into: y, count: shape.count) }
}

/// Elementwise log-sigmoid.
///
/// ```swift
/// try logSigmoid([-800] as [Double])   // [-800]
/// ```
public func logSigmoid<T: SoftmaxScalar>(_ x: [T]) throws(SoftmaxError) -> [T] {
    try rowOp(x) { (x, y, shape) throws(SoftmaxError) in try logSigmoid(x, into: y, count: shape.count) }
}

/// Log-sum-exp of one row (-inf for an empty row).
///
/// ```swift
/// try logSumExp([1000, 1000] as [Double])   // 1000.6931471805599
/// ```
public func logSumExp<T: SoftmaxScalar>(_ x: [T]) throws(SoftmaxError) -> T {
    let shape = try RowShape(n: x.count)
    var out = T.zero
    try x.withUnsafeBufferPointer { (b) throws(SoftmaxError) in
        try logSumExp(b.baseAddress, into: &out, shape: shape)
    }
    return out
}

/// Log-sum-exp of one row with scale factors: `log|Σ b·exp(x)|` and the sign of the sum (see
/// `logSumExp(_:scaledBy:into:sign:shape:)`).
///
/// ```swift
/// try logSumExp([1, 2] as [Double], scaledBy: [1, -1])   // (value: 1.5413248546129181, sign: -1)
/// ```
///
/// - Throws: `.invalidShape` when `b` and `x` differ in length.
public func logSumExp<T: SoftmaxScalar>(_ x: [T], scaledBy b: [T]) throws(SoftmaxError) -> (value: T, sign: T) {
    guard b.count == x.count else {
        throw SoftmaxError(.invalidShape, "b: expected \(x.count) scale factors, one per element of x, got \(b.count)")
    }
    let shape = try RowShape(n: x.count)
    var out = T.zero, sign = T.zero
    try x.withUnsafeBufferPointer { (xb) throws(SoftmaxError) in
        try b.withUnsafeBufferPointer { (bb) throws(SoftmaxError) in
            try logSumExp(xb.baseAddress, scaledBy: bb.baseAddress, into: &out, sign: &sign, shape: shape)
        }
    }
    return (out, sign)
}

/// The running log-sum-exp of one row.
///
/// ```swift
/// try logCumSumExp([0, 0, 0] as [Double])   // [0, 0.69315, 1.09861]
/// ```
public func logCumSumExp<T: SoftmaxScalar>(_ x: [T]) throws(SoftmaxError) -> [T] {
    try rowOp(x) { (x, y, shape) throws(SoftmaxError) in try logCumSumExp(x, into: y, shape: shape) }
}

private func rowOp<T: SoftmaxScalar>(
    _ x: [T],
    _ op: (UnsafePointer<T>?, UnsafeMutablePointer<T>?, RowShape) throws(SoftmaxError) -> Void
) throws(SoftmaxError) -> [T] {
    let shape = try RowShape(n: x.count)
    var y = [T](repeating: 0, count: x.count)
    try x.withUnsafeBufferPointer { (xb) throws(SoftmaxError) in
        try y.withUnsafeMutableBufferPointer { (yb) throws(SoftmaxError) in
            try op(xb.baseAddress, yb.baseAddress, shape)
        }
    }
    return y
}
