import SoftmaxCore

extension Reference {
    /// Binary cross-entropy with logits of elements `range` (element k's class is k % n, for
    /// `posWeight`): the specification of every tier's `binaryCrossEntropyWithLogits`. Writes the
    /// per-element losses into `loss` and, when given, the gradient of their sum divided by
    /// `divisor` into `grad`.
    ///
    /// In double-double (exp and log1p to about 2^-100), each result rounded once:
    /// `loss = w·(m·|x| + (u + v)·log1p(e))` and `grad = w·(u·σ(x) - v·σ(-x)) / divisor`, with
    /// `e = exp(-|x|)`, `u = 1 - t`, `v = pw·t`, `m = u` for x >= 0 and `v` below, σ(±x) as
    /// quotients over 1 + e. A zero weight, or a zero coefficient of an infinite |x|, counts 0.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func binaryCrossEntropyWithLogits<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ target: UnsafePointer<T>, weight: UnsafePointer<T>?, posWeight: UnsafePointer<T>?,
        n: Int, range: Range<Int>, divisor: Double, loss: UnsafeMutablePointer<T>, grad: UnsafeMutablePointer<T>?
    ) {
        typealias D = DoubleDouble
        for k in range {
            let v = x[k].double, t = target[k].double
            let w = weight.map { $0[k].double } ?? 1
            let p = posWeight.map { $0[k % n].double } ?? 1
            if v.isNaN {
                loss[k] = T(rounding: v)
                grad?[k] = T(rounding: v)
                continue
            }
            let a = -abs(v)
            let e: D.DD = a < -700 ? (expD(a), 0) : D.exp((a, 0))
            let u = D.add((1, 0), (-t, 0))
            let vt = twoProduct(p, t)
            let c = D.add(u, vt)
            let m = v >= 0 ? u : vt, kk = v >= 0 ? vt : u
            let l: Double
            if w == 0 {
                l = 0
            } else if v.isInfinite {
                l = m.hi == 0 ? 0 : .infinity
            } else {
                let lg = D.log1p(e, first: log1pD(e.hi + e.lo))
                let am: D.DD = m.hi == 0 ? (0, 0) : D.mul(m, (abs(v), 0))
                let s = D.add(am, D.mul(c, lg))
                let r = D.mul((w, 0), s)
                l = r.hi.isFinite ? r.hi + r.lo : r.hi
            }
            loss[k] = T(rounding: l)
            guard let grad else { continue }
            let num = D.add(m, D.mul((-kk.hi, -kk.lo), e))
            let den = D.mul(D.add((1, 0), e), (divisor, 0))
            let q = divide(D.mul((w, 0), num), den)
            grad[k] = T(rounding: v >= 0 ? q : -q)
        }
    }

    /// a / b for double-double a and b > 0, rounded once.
    static func divide(_ a: DoubleDouble.DD, _ b: DoubleDouble.DD) -> Double {
        let q = a.hi / b.hi
        let r = DoubleDouble.add(a, DoubleDouble.mul((-q, 0), b))
        return q + (r.hi + r.lo) / b.hi
    }
}
