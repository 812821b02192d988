import SoftmaxCore

/// (x - max) / T as a double-double: the subtraction is exact (TwoSum) and the division keeps
/// its remainder, so exp sees the input the caller gave rather than a rounded shift of it.
@inline(__always)
func scaledShift(_ v: Double, _ m: Double, _ t: Double) -> (hi: Double, lo: Double) {
    let d = twoSum(v, -m)
    guard d.hi.isFinite else { return (d.hi, 0) }
    if t == 1 { return d }
    let q = d.hi / t
    guard q.isFinite, q != 0 else { return (q, 0) }
    let r = d.hi.addingProduct(-q, t)  // exact remainder of the division
    return (q, (r + d.lo) / t)
}

/// What raddstoreexpminusmax returns: the sum of exp((x - max)/T) over the slice, and the same sum
/// without the first maximal entry (whose term is exactly 1) for log1p-based finalisation.
struct ExpSums {
    var all = CompensatedSum()
    var rest = CompensatedSum()
}

/// exp((x - max)/T) for every unmasked entry, stored in `y` when `y` is
/// given (masked entries store 0), and summed.
@inline(__always)
func scalarAddStoreExpMinusMax<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>?, _ s: Slice, _ mask: UnsafePointer<UInt8>?,
    max m: Double, argmax: Int, temperature t: Double
) -> ExpSums {
    var sums = ExpSums()
    for i in 0..<s.n {
        let k = s.offset(i)
        var e = 0.0
        if isActive(mask, k) {
            let z = scaledShift(x[k].double, m, t)
            e = i == argmax ? 1 : expPair(z.hi, z.lo)
            sums.all.add(e)
            if i != argmax { sums.rest.add(e) }
        }
        y?[k] = T(rounding: e)
    }
    return sums
}
