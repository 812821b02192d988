import SoftmaxCore

/// The reduction axis of one slice of an [outer, n, inner] array: `n` elements `stride` apart.
@usableFromInline
struct Slice {
    let base: Int      // offset of element 0 of the slice
    let n: Int
    let stride: Int

    /// Slice number `s` of an [outer, n, inner] view, numbered as the C-order [outer, inner] result.
    @inline(__always)
    init(index s: Int, n: Int, inner: Int) {
        let o = s / inner
        let j = s - o * inner
        self.base = o * n * inner + j
        self.n = n
        self.stride = inner
    }

    @inline(__always) func offset(_ i: Int) -> Int { base + i * stride }
}

/// What the first pass over a slice learns: the maximum of the unmasked entries, whether any of
/// them is NaN, how many are +inf, and where the first maximum is.
struct SliceStats {
    var max: Double = -.infinity
    var argmax: Int = -1
    var hasNaN = false
    var posInf = 0
}

@inline(__always)
func isActive(_ mask: UnsafePointer<UInt8>?, _ k: Int) -> Bool {
    guard let mask else { return true }
    return mask[k] != 0
}
