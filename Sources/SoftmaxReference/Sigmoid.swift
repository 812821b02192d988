import SoftmaxCore

extension Reference {
    /// Elementwise logistic sigmoid (or its logarithm when `log`) of `x[range]`: the
    /// specification of every tier's `vsigmoid` and `vlogsigmoid`. `y` may be `x` exactly.
    ///
    /// Computed in double-double (exp and log1p to about 2^-100) and rounded once, so that it
    /// is within about half an ulp of the exact value and a tier's result within one ulp of it
    /// is faithful. Special values follow the forms that never overflow (docs/design.md,
    /// "Special values"): exp(-|x|) <= 1, so sigmoid(-inf) = 0, sigmoid(+inf) = 1,
    /// log_sigmoid(-inf) = -inf, and log_sigmoid(x) = +0 where exp(-x) underflows to 0.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func sigmoid<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, range: Range<Int>, log: Bool
    ) {
        for k in range {
            let v = x[k].double
            let r: Double
            if v.isNaN {
                r = v
            } else if v.isInfinite {
                r = log ? (v < 0 ? v : 0) : (v < 0 ? 0 : 1)
            } else {
                // exp of the non-positive -|v| never overflows; DoubleDouble.exp scales by 2^k in
                // one step, which flushes results below 2^-1074 to 0, so the subnormal range
                // (where e < 2^-1000 makes e·e irrelevant) takes libm's exp instead.
                let a = -abs(v)
                let e: DoubleDouble.DD = a < -700 ? (expD(a), 0) : DoubleDouble.exp((a, 0))
                if log {
                    let l = DoubleDouble.log1p(e, first: log1pD(e.hi + e.lo))
                    r = DoubleDouble.add((v < 0 ? v : 0, 0), (-l.hi, -l.lo)).hi
                } else {
                    // n / (1 + e) with the quotient's remainder in double-double.
                    let n: DoubleDouble.DD = v >= 0 ? (1, 0) : e
                    let d = DoubleDouble.add((1, 0), e)
                    let q = n.hi / d.hi
                    let rem = DoubleDouble.add(n, DoubleDouble.mul((-q, 0), d))
                    r = q + (rem.hi + rem.lo) / d.hi
                }
            }
            y[k] = T(rounding: r)
        }
    }
}
