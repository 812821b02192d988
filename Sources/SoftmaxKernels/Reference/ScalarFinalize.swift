import SoftmaxCore

/// y / sum in place. For Float the stored exp is one rounding away from the Double
/// value, so the quotient carries at most one extra half-ulp.
@inline(__always)
func scalarDivide<T: SoftmaxScalar>(_ y: UnsafeMutablePointer<T>, _ s: Slice, by sum: Double) {
    for i in 0..<s.n {
        let k = s.offset(i)
        y[k] = T(rounding: y[k].double / sum)
    }
}

/// log_softmax = (x - max)/T - log(sum), with log(sum) = log1p(rest) so the
/// maximal entry's result keeps full relative precision when it is close to 0.
@inline(__always)
func scalarLogFinalize<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ s: Slice, _ mask: UnsafePointer<UInt8>?,
    max m: Double, temperature t: Double, logSum l: (hi: Double, lo: Double)
) {
    for i in 0..<s.n {
        let k = s.offset(i)
        guard isActive(mask, k) else { y[k] = -T.infinity; continue }
        let z = scaledShift(x[k].double, m, t)
        if z.hi == -.infinity { y[k] = -T.infinity; continue }  // TwoSum of -inf would give NaN
        let d = twoSum(z.hi, -l.hi)
        y[k] = T(rounding: d.hi + (d.lo + (z.lo - l.lo)))
    }
}

/// The same value into every element of a slice.
@inline(__always)
func scalarFill<T: SoftmaxScalar>(_ y: UnsafeMutablePointer<T>, _ s: Slice, _ v: T) {
    for i in 0..<s.n { y[s.offset(i)] = v }
}
