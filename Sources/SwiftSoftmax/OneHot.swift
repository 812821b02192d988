import SoftmaxScalarKernels

/// One-hot encoding: row `r` of `out` (`count` rows of `numClasses`) is 1 at `labels[r]` and 0
/// elsewhere.
///
/// ```swift
/// let labels: [Int64] = [2, 0]
/// var out = [Float](repeating: -1, count: 6)
/// try oneHot(labels, count: 2, numClasses: 3, into: &out)   // [0, 0, 1, 1, 0, 0]
/// ```
///
/// - Throws: `.labelOutOfRange` naming the first label outside `0..<numClasses` and its
///   position, `.nullPointer`, `.invalidShape`, `.overlappingBuffers`, before any write.
@_specialize(exported: true, where T == Float)
@_specialize(exported: true, where T == Double)
public func oneHot<T: SoftmaxScalar>(
    _ labels: UnsafePointer<Int64>?, count: Int, numClasses: Int, into out: UnsafeMutablePointer<T>?
) throws(SoftmaxError) {
    let shape = try RowShape(outer: count, n: numClasses)
    try Check.pointer(labels, count: count, "labels")
    try Check.pointer(out, count: shape.count, "out")
    try Check.disjoint(out, shape.count * MemoryLayout<T>.stride, "out",
                       labels, count * MemoryLayout<Int64>.stride, "labels", allowAlias: false)
    if let labels {
        for r in 0..<count where labels[r] < 0 || labels[r] >= Int64(numClasses) {
            throw SoftmaxError(.labelOutOfRange,
                               "labels[\(r)] = \(labels[r]) is outside [0, \(numClasses)) (num_classes = \(numClasses))")
        }
    }
    guard shape.count > 0, let labels, let out else { return }
    // A row is a memset, about a quarter of a pass's work per element (`Threads`): 64x1000
    // Floats took 3.4 us on one thread and 6.0 on two, 4096x1000 123 us and 66.
    Threads.forEachChunk(units: count, costPerUnit: max(1, numClasses / 4)) { r in
        ScalarKernels.oneHot(labels, out, numClasses: numClasses, rows: r)
    }
}
