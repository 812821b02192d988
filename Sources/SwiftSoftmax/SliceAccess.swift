import SoftmaxCore

/// One slice of an `[outer, n, inner]` array as a contiguous row, for the row kernels of the
/// partial-statistics API: a row is used where it lies (inner == 1); a column (inner > 1) is
/// gathered into scratch and, for outputs, scattered back. The scratch belongs to one thread.
struct SliceAccess<T: SoftmaxScalar> {
    let shape: RowShape
    let x: UnsafePointer<T>
    let mask: UnsafePointer<UInt8>?
    private let xs: UnsafeMutablePointer<T>?
    private let ms: UnsafeMutablePointer<UInt8>?

    /// Runs `body` with access that owns scratch for one column (none for rows).
    static func with<R>(
        _ x: UnsafePointer<T>, _ mask: UnsafePointer<UInt8>?, _ shape: RowShape,
        _ body: (SliceAccess) -> R
    ) -> R {
        if shape.inner == 1 {
            return body(SliceAccess(shape: shape, x: x, mask: mask, xs: nil, ms: nil))
        }
        return withUnsafeTemporaryAllocation(of: T.self, capacity: max(1, shape.n)) { xb in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: mask == nil ? 1 : max(1, shape.n)) { mb in
                body(SliceAccess(shape: shape, x: x, mask: mask, xs: xb.baseAddress!,
                                 ms: mask == nil ? nil : mb.baseAddress!))
            }
        }
    }

    /// The offset of element j of slice s.
    @inline(__always)
    func offset(_ s: Int, _ j: Int) -> Int {
        let o = s / shape.inner, i = s - o * shape.inner
        return (o * shape.n + j) * shape.inner + i
    }

    /// Slice s as (x, mask, start): element j is at x[start + j].
    func row(_ s: Int) -> (x: UnsafePointer<T>, mask: UnsafePointer<UInt8>?, start: Int) {
        guard let xs else { return (x, mask, s * shape.n) }
        for j in 0..<shape.n { xs[j] = x[offset(s, j)] }
        if let mask, let ms { for j in 0..<shape.n { ms[j] = mask[offset(s, j)] } }
        return (UnsafePointer(xs), ms.map { UnsafePointer($0) }, 0)
    }

    /// Where slice s's output row goes: `y` itself for rows, the scratch otherwise (then
    /// `store` copies it out). Call after `row(s)`: the scratch then holds the input, which the
    /// kernels may overwrite in place.
    func output(_ s: Int, _ y: UnsafeMutablePointer<T>) -> (y: UnsafeMutablePointer<T>, start: Int) {
        guard let xs else { return (y, s * shape.n) }
        return (xs, 0)
    }

    func store(_ s: Int, _ y: UnsafeMutablePointer<T>) {
        guard let xs else { return }
        for j in 0..<shape.n { y[offset(s, j)] = xs[j] }
    }
}
