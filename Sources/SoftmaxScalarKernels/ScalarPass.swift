import SoftmaxCore

/// The passes of softmax over one slice, one element at a time: the scalar counterparts of the
/// tiers' vector passes, with the same names (docs/design.md, "Kernels"): `rmax` (a reduction),
/// `raddstoreexpminusmax` (a reduction that also stores), and the elementwise finishing passes
/// `vdivide`, `vlogfinalize`, `vfill` and `vlimitofinfinities`. They serve the scalar kernels the
/// library ships (the general cross-entropy, the derivatives) and the reference kernels. The
/// derivatives add two reductions, `rsum` and `rdotnonzero`.
@usableFromInline package enum ScalarPass {
    /// The maximum of a slice's unmasked entries, with NaN and +inf bookkeeping.
    @inlinable @inline(__always)
    package static func rmax<T: SoftmaxScalar>(_ x: UnsafePointer<T>, _ s: Slice, _ mask: UnsafePointer<UInt8>?) -> SliceStats {
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

    /// exp((x - max)/T) for every unmasked entry, stored in `y` when `y` is given (masked
    /// entries store 0), and summed.
    @inlinable @inline(__always)
    package static func raddstoreexpminusmax<T: SoftmaxScalar>(
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

    /// Σ x over a slice as a double-double, compensated while finite (IEEE's infinity or NaN
    /// otherwise, with a zero low part).
    @inlinable @inline(__always)
    package static func rsum<T: SoftmaxScalar>(_ x: UnsafePointer<T>, _ s: Slice) -> (hi: Double, lo: Double) {
        var sum = CompensatedSumWithSpecials()
        for i in 0..<s.n { sum.add(x[s.offset(i)].double) }
        return sum.pair
    }

    /// ⟨y, g⟩ over the entries of a slice where y != 0, as a double-double: exact products,
    /// compensated while finite. Entries with y = 0 (masked or -inf logits) are left out, so a
    /// NaN or infinite g there cannot reach the result.
    @inlinable @inline(__always)
    package static func rdotnonzero<T: SoftmaxScalar>(
        _ y: UnsafePointer<T>, _ g: UnsafePointer<T>, _ s: Slice
    ) -> (hi: Double, lo: Double) {
        var dot = CompensatedSumWithSpecials()
        for i in 0..<s.n {
            let k = s.offset(i)
            let yi = y[k].double
            if yi == 0 { continue }
            let pr = twoProduct(yi, g[k].double)
            dot.add(pr.hi)
            // The exact low part needs no IEEE shadow: it is NaN only when pr.hi is not finite.
            dot.compensated.add(pr.lo)
        }
        return dot.pair
    }

    /// y / sum in place. For Float the stored exp is one rounding away from the Double
    /// value, so the quotient carries at most one extra half-ulp.
    @inlinable @inline(__always)
    package static func vdivide<T: SoftmaxScalar>(_ y: UnsafeMutablePointer<T>, _ s: Slice, by sum: Double) {
        for i in 0..<s.n {
            let k = s.offset(i)
            y[k] = T(rounding: y[k].double / sum)
        }
    }

    /// log_softmax = (x - max)/T - log(sum), with log(sum) = log1p(rest) so the maximal entry's
    /// result keeps full relative precision when it is close to 0.
    @inlinable @inline(__always)
    package static func vlogfinalize<T: SoftmaxScalar>(
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
    @inlinable @inline(__always)
    package static func vfill<T: SoftmaxScalar>(_ y: UnsafeMutablePointer<T>, _ s: Slice, _ v: T) {
        for i in 0..<s.n { y[s.offset(i)] = v }
    }

    /// The limit of softmax as the k +inf entries grow together: 1/k on each, 0 elsewhere (or
    /// their logarithms).
    @inlinable @inline(__always)
    package static func vlimitofinfinities<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ s: Slice, _ mask: UnsafePointer<UInt8>?,
        count k: Int, log: Bool
    ) {
        let share = log ? -logD(Double(k)) : 1 / Double(k)
        for i in 0..<s.n {
            let idx = s.offset(i)
            let top = isActive(mask, idx) && x[idx] == .infinity
            y[idx] = top ? T(rounding: share) : (log ? -.infinity : 0)
        }
    }
}

/// (x - max) / T as a double-double: the subtraction is exact (TwoSum) and the division keeps
/// its remainder, so exp sees the input the caller gave rather than a rounded shift of it.
@inlinable @inline(__always)
package func scaledShift(_ v: Double, _ m: Double, _ t: Double) -> (hi: Double, lo: Double) {
    let d = twoSum(v, -m)
    guard d.hi.isFinite else { return (d.hi, 0) }
    if t == 1 { return d }
    let q = d.hi / t
    guard q.isFinite, q != 0 else { return (q, 0) }
    let r = d.hi.addingProduct(-q, t)  // exact remainder of the division
    return (q, (r + d.lo) / t)
}

/// What `raddstoreexpminusmax` returns: the sum of exp((x - max)/T) over the slice, and the same
/// sum without the first maximal entry (whose term is exactly 1) for log1p-based finishing.
@usableFromInline package struct ExpSums {
    @usableFromInline package var all = CompensatedSum()
    @usableFromInline package var rest = CompensatedSum()

    @inlinable package init() {}
}
