import SoftmaxCore

extension ScalarKernels {
    /// One-hot rows: `out[r * numClasses + labels[r]] = 1`, every other entry 0, for rows
    /// `rows`. The labels have been checked to lie in `0..<numClasses`.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    package static func oneHot<T: SoftmaxScalar>(
        _ labels: UnsafePointer<Int64>, _ out: UnsafeMutablePointer<T>, numClasses: Int, rows: Range<Int>
    ) {
        for r in rows {
            let row = out + r * numClasses
            for c in 0..<numClasses { row[c] = 0 }
            row[Int(labels[r])] = 1
        }
    }
}
