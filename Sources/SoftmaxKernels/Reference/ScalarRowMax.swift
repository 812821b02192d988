import SoftmaxCore

/// The maximum of a slice's unmasked entries, with NaN and +inf bookkeeping.
@inline(__always)
func scalarRowMax<T: SoftmaxScalar>(_ x: UnsafePointer<T>, _ s: Slice, _ mask: UnsafePointer<UInt8>?) -> SliceStats {
    var st = SliceStats()
    for i in 0..<s.n {
        let k = s.offset(i)
        guard isActive(mask, k) else { continue }
        let v = x[k].double
        if v.isNaN { st.hasNaN = true; return st }
        if v > st.max { st.max = v; st.argmax = i }
        if v == .infinity { st.posInf += 1 }
    }
    return st
}
