/// Array conveniences of the partial-statistics API for one row (one slice): they call the
/// pointer API, so they validate and compute exactly as the C library does.

/// The softmax statistics of one chunk of a row.
///
/// ```swift
/// let s = try softmaxStatistics([0, 2] as [Double])   // max 2, sum 1 + e^-2
/// ```
public func softmaxStatistics<T: SoftmaxScalar>(_ x: [T], temperature: T = 1) throws(SoftmaxError) -> SoftmaxStatistics {
    let shape = try RowShape(n: x.count)
    var s = SoftmaxStatistics.empty
    try x.withUnsafeBufferPointer { (b) throws(SoftmaxError) in
        try softmaxStatistics(b.baseAddress, into: &s, shape: shape, temperature: temperature)
    }
    return s
}

/// Softmax of one chunk of a row from the merged statistics of the whole row.
///
/// ```swift
/// let s = try softmaxStatistics([0, 2] as [Double]).merged(with: try softmaxStatistics([4] as [Double]))
/// try softmax([4] as [Double], statistics: s)   // [0.8668]
/// ```
public func softmax<T: SoftmaxScalar>(
    _ x: [T], statistics: SoftmaxStatistics, temperature: T = 1
) throws(SoftmaxError) -> [T] {
    try chunkOp(x, statistics) { (x, s, y, shape) throws(SoftmaxError) in
        try softmax(x, statistics: s, into: y, shape: shape, temperature: temperature)
    }
}

/// Log-softmax of one chunk of a row from the merged statistics of the whole row.
///
/// ```swift
/// let s = try softmaxStatistics([0, 2] as [Double]).merged(with: try softmaxStatistics([4] as [Double]))
/// try logSoftmax([4] as [Double], statistics: s)   // [-0.1429]
/// ```
public func logSoftmax<T: SoftmaxScalar>(
    _ x: [T], statistics: SoftmaxStatistics, temperature: T = 1
) throws(SoftmaxError) -> [T] {
    try chunkOp(x, statistics) { (x, s, y, shape) throws(SoftmaxError) in
        try logSoftmax(x, statistics: s, into: y, shape: shape, temperature: temperature)
    }
}

/// `log Σ exp(x)` of a whole row from its merged statistics.
///
/// ```swift
/// let s = try softmaxStatistics([1000] as [Double]).merged(with: try softmaxStatistics([1000] as [Double]))
/// try logSumExp(statistics: s) as Double   // 1000.6931471805599
/// ```
public func logSumExp<T: SoftmaxScalar>(statistics: SoftmaxStatistics, temperature: T = 1) throws(SoftmaxError) -> T {
    var s = statistics
    var out = T.zero
    try logSumExp(statistics: &s, into: &out, count: 1, temperature: temperature)
    return out
}

private func chunkOp<T: SoftmaxScalar>(
    _ x: [T], _ statistics: SoftmaxStatistics,
    _ op: (UnsafePointer<T>?, UnsafePointer<SoftmaxStatistics>, UnsafeMutablePointer<T>?, RowShape) throws(SoftmaxError) -> Void
) throws(SoftmaxError) -> [T] {
    let shape = try RowShape(n: x.count)
    var y = [T](repeating: 0, count: x.count)
    var s = statistics
    try x.withUnsafeBufferPointer { (xb) throws(SoftmaxError) in
        try y.withUnsafeMutableBufferPointer { (yb) throws(SoftmaxError) in
            try withUnsafePointer(to: &s) { (sp) throws(SoftmaxError) in
                try op(xb.baseAddress, sp, yb.baseAddress, shape)
            }
        }
    }
    return y
}
