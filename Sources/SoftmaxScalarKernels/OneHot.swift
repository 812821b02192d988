import SoftmaxCore

extension ScalarKernels {
    /// One-hot rows: `out[r * numClasses + labels[r]] = 1`, every other entry 0, for rows
    /// `rows`. The labels have been checked to lie in `0..<numClasses`.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    package static func oneHot<T: SoftmaxScalar>(
        _ labels: UnsafePointer<Int64>, _ out: UnsafeMutablePointer<T>, numClasses: Int, rows: Range<Int>
    ) {
        // The rows are one contiguous block: zeroed at once (one memset rather than one a row,
        // which rows of ten classes would spend most of their time calling), then the ones.
        (out + rows.lowerBound * numClasses).update(repeating: 0, count: rows.count * numClasses)
        for r in rows { out[r * numClasses + Int(labels[r])] = 1 }
    }
}
