/// The running log-sum-exp of one slice in double-double: the precise scan that the vector
/// kernels repair a cancelling prefix with, and the oracle the tiers are tested against
/// (docs/design.md, "Kernels").
///
/// State: the running maximum m and t = Σ exp(x_i - m) - 1 (the first maximal term's exact 1
/// kept apart) as a double-double; y = m + log1p(t), added in double-double. Every exp term is
/// a double-double (about 2^-100 relative), so a result that cancels to near 0 (m < 0 and
/// log1p(t) close to -m) keeps its relative precision down to about 2^-100 |m|.
///
/// Special values (docs/design.md, "Special values"): -inf entries are left out (-inf while
/// every entry so far is -inf); +inf makes this and every later result +inf; NaN makes this and
/// every later result NaN.
public enum LogCumSumExpScan {
    /// y[i·yStride] = log Σ_{j<=i} exp(x[j·xStride]) for i in 0..<count.
    public static func precise<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, stride xStride: Int, _ y: UnsafeMutablePointer<T>, stride yStride: Int, count: Int
    ) {
        var m = -Double.infinity
        var t: DoubleDouble.DD = (0, 0)
        for i in 0..<count {
            let v = x[i * xStride].double
            if m.isNaN || v.isNaN {
                m = .nan
            } else if v == .infinity || m == .infinity {
                m = .infinity
            } else if v == -.infinity {
                // left out
            } else if v > m {
                // The new maximum's term is the exact 1; the old sum 1 + t is rescaled.
                t = m == -.infinity ? (0, 0)
                    : DoubleDouble.mul(DoubleDouble.add((1, 0), t), DoubleDouble.exp(twoSum(m, -v)))
                m = v
            } else {
                t = DoubleDouble.add(t, DoubleDouble.exp(twoSum(v, -m)))
            }
            y[i * yStride] = T(rounding: finish(m, t))
        }
    }

    /// m + log1p(t), rounded once from double-double.
    @inlinable
    public static func finish(_ m: Double, _ t: DoubleDouble.DD) -> Double {
        guard m.isFinite, t.hi > 0 else { return m }
        let l = DoubleDouble.log1p(t, first: log1pD(t.hi + t.lo))
        let s = twoSum(m, l.hi)
        return s.hi + (s.lo + l.lo)
    }
}
