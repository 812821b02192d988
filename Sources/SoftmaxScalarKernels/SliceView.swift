import SoftmaxCore

/// The reduction axis of one slice of an [outer, n, inner] array: `n` elements `stride` apart.
@usableFromInline package struct Slice {
    /// The offset of element 0 of the slice.
    @usableFromInline package let base: Int
    @usableFromInline package let n: Int
    @usableFromInline package let stride: Int

    /// Slice number `s` of an [outer, n, inner] view, numbered as the C-order [outer, inner] result.
    @inlinable @inline(__always)
    package init(index s: Int, n: Int, inner: Int) {
        let o = s / inner
        let j = s - o * inner
        self.base = o * n * inner + j
        self.n = n
        self.stride = inner
    }

    @inlinable @inline(__always) package func offset(_ i: Int) -> Int { base + i * stride }
}

/// What the first pass over a slice learns: the maximum of the unmasked entries, whether any of
/// them is NaN, how many are +inf, and where the first maximum is.
@usableFromInline package struct SliceStats {
    @usableFromInline package var max: Double = -.infinity
    @usableFromInline package var argmax: Int = -1
    @usableFromInline package var hasNaN = false
    @usableFromInline package var posInf = 0

    @inlinable package init() {}
}

@inlinable @inline(__always)
package func isActive(_ mask: UnsafePointer<UInt8>?, _ k: Int) -> Bool {
    guard let mask else { return true }
    return mask[k] != 0
}
