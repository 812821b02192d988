import SoftmaxCore

extension ScalarKernels {
    /// `log|Σ b·exp(x)|` and the sign of the sum for the slices `slices` of an `[outer, n,
    /// inner]` view (docs/design.md, "Scaled logsumexp").
    ///
    /// With scale factors of both signs the sum may cancel to far below its largest term, and
    /// the log then shows every rounding of the terms magnified by the cancellation. So each
    /// term is formed in double-double (`x - max` exact, exp to about 2^-100, the product by `b`
    /// exact but for the low part's rounding) and summed in double-double, with the terms'
    /// binary exponents kept apart: a term is `b·exp(x - max) = (significand of b · p) · 2^e`
    /// and the sum runs at the largest `e` met so far, so neither a huge `b` overflows nor a
    /// tiny one loses digits to the subnormal range. The result is `max + K ln 2 + log|sum|` in
    /// double-double, rounded once to `T` (twice for Float: through Double, 2^-29 ulp).
    ///
    /// Entries with `b == 0` or a zero mask take no part, whatever their `x` (SciPy's rule).
    /// Special values follow IEEE arithmetic on the terms: a NaN term, or +inf and -inf terms
    /// together, give NaN; infinite terms of one sign give +inf with that sign; an empty sum
    /// (no entry, all `x` -inf) gives -inf with sign 0, as does an exact 0. Without `sign`, a
    /// negative sum gives NaN.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    package static func logSumExpScaled<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ b: UnsafePointer<T>, mask: UnsafePointer<UInt8>?,
        _ out: UnsafeMutablePointer<T>, sign: UnsafeMutablePointer<T>?,
        n: Int, inner: Int, slices: Range<Int>
    ) {
        for s in slices {
            let o = s / inner, i = s % inner
            let base = o * n * inner + i
            let (value, sg) = scaledSlice(x + base, b + base, mask.map { $0 + base }, n: n, stride: inner)
            if let sign {
                out[s] = T(value)
                sign[s] = T(sg)
            } else {
                out[s] = sg < 0 ? T.nan : T(value)
            }
        }
    }

    /// One slice: (log|sum| rounded to Double, sign of the sum).
    @inline(__always)
    static func scaledSlice<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ b: UnsafePointer<T>, _ mask: UnsafePointer<UInt8>?, n: Int, stride: Int
    ) -> (Double, Double) {
        // Pass 1: the maximum finite x among the entries that take part, and the infinite terms.
        var m = -Double.infinity
        var nan = false, posInf = false, negInf = false
        for k in 0..<n {
            let j = k * stride
            if let mask, mask[j] == 0 { continue }
            let bj = Double(b[j]), xj = Double(x[j])
            if bj == 0 { continue }
            if xj.isNaN || bj.isNaN {
                nan = true
            } else if xj == .infinity {
                if bj > 0 { posInf = true } else { negInf = true }
            } else if xj == -.infinity {
                if bj.isInfinite { nan = true }  // inf · exp(-inf) = inf · 0
            } else if bj.isInfinite {
                if bj > 0 { posInf = true } else { negInf = true }
            } else if xj > m {
                m = xj
            }
        }
        if nan || (posInf && negInf) { return (.nan, .nan) }
        if posInf { return (.infinity, 1) }
        if negInf { return (.infinity, -1) }
        if m == -.infinity { return (-.infinity, 0) }

        // Pass 2: the double-double sum of b·exp(x - m), at the binary scale 2^scale.
        var acc: DoubleDouble.DD = (0, 0)
        var scale = Int.min
        for k in 0..<n {
            let j = k * stride
            if let mask, mask[j] == 0 { continue }
            let bj = Double(b[j]), xj = Double(x[j])
            if bj == 0 || xj == -.infinity { continue }
            let d = twoSum(xj, -m)
            // exp(d) < e^-2200 = 2^-3174 cannot matter: times the largest ratio of two scale
            // factors (2^2098) it stays below 2^-1076 of the maximal entry's term.
            if d.hi < -2200 { continue }
            let (p, ke) = DoubleDouble.expSplit(d)
            let sb = bj < 0 ? -bj.significand : bj.significand
            let t = DoubleDouble.mul((sb, 0), p)
            let e = ke + Int(bj.exponent)
            if scale == Int.min {
                acc = t
                scale = e
            } else if e > scale {
                acc = DoubleDouble.add(DoubleDouble.scaled(acc, scale - e), t)
                scale = e
            } else {
                acc = DoubleDouble.add(acc, DoubleDouble.scaled(t, e - scale))
            }
        }
        if acc.hi == 0 || scale == Int.min { return (-.infinity, 0) }
        let sg: Double = acc.hi < 0 ? -1 : 1
        if acc.hi < 0 { acc = (-acc.hi, -acc.lo) }
        // Bring the sum to [1, 2) so that its log is far from the subnormal range.
        let e0 = Int(acc.hi.exponent)
        acc = DoubleDouble.scaled(acc, -e0)
        scale += e0
        let l = DoubleDouble.log(acc, first: logD(acc.hi))
        let kl = DoubleDouble.mul((Double(scale), 0), DoubleDouble.ln2)
        let r = DoubleDouble.add(DoubleDouble.add((m, 0), kl), l)
        return (r.hi + r.lo, sg)
    }
}
