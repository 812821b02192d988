import SoftmaxCore
import SoftmaxScalarKernels

extension Reference {
    typealias DD = DoubleDouble.DD

    /// KL(softmax(p/T) ‖ softmax(q/T)) of slices `slices`: the specification of every tier's
    /// `klDivergence`. Writes the divergences into `out[slice]` and, when given, the gradients
    /// of their sum divided by `divisor`.
    ///
    /// In double-double, each result rounded once: the log-probabilities lp, lq (shift
    /// x - max and log-sum as pairs), d = lp - lq, and per class the term p φ(d) by φ's series
    /// for |d| < 1 and as q - p + p d elsewhere (its cancellation is far below 2^-106's reach);
    /// p = 0 contributes q (the limit), q = 0 < p makes +inf. Special rows (NaN, +inf, all -inf)
    /// take the limits of docs/design.md, "Special values", as the kernels do.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func klDivergence<T: SoftmaxScalar>(
        _ p: UnsafePointer<T>, _ q: UnsafePointer<T>, n: Int, inner: Int, slices: Range<Int>,
        temperature: Double, divisor: Double, out: UnsafeMutablePointer<T>,
        gradP: UnsafeMutablePointer<T>?, gradQ: UnsafeMutablePointer<T>?
    ) {
        typealias D = DoubleDouble
        let scale = temperature * divisor
        for si in slices {
            let s = Slice(index: si, n: n, inner: inner)
            let a = ReferenceLogSoftmax(p, s, temperature), b = ReferenceLogSoftmax(q, s, temperature)
            if a.nan || b.nan || a.empty {
                let v: Double = a.nan || b.nan ? .nan : 0
                out[si] = T(rounding: v)
                for j in 0..<n {
                    gradP?[s.offset(j)] = T(rounding: v)
                    gradQ?[s.offset(j)] = T(rounding: v)
                }
                continue
            }
            var kl: DD = (0, 0)
            var infinite = false
            for j in 0..<n {
                let lp = a.logProbability(j), lq = b.logProbability(j)
                if lp.hi == -.infinity { kl = D.add(kl, b.probability(j)); continue }
                if lq.hi == -.infinity { infinite = true; continue }
                let d = D.add(lp, (-lq.hi, -lq.lo))
                let pj = a.probability(j)
                let term: DD
                if abs(d.hi) < 1 {
                    term = D.mul(pj, phiSeries(d))
                } else {
                    term = D.add(D.add(b.probability(j), (-pj.hi, -pj.lo)), D.mul(pj, d))
                }
                kl = D.add(kl, term)
            }
            let v = infinite ? Double.infinity : kl.hi + kl.lo
            out[si] = T(rounding: v)
            for j in 0..<n {
                let pj = a.probability(j), qj = b.probability(j)
                if let g = gradP {
                    var r = 0.0
                    if pj.hi != 0 {
                        if infinite { r = .nan } else {
                            let lp = a.logProbability(j), lq = b.logProbability(j)
                            let d = D.add(D.add(lp, (-lq.hi, -lq.lo)), (-kl.hi, -kl.lo))
                            r = ddQuotient(D.mul(pj, d), scale)
                        }
                    }
                    g[s.offset(j)] = T(rounding: r)
                }
                gradQ?[s.offset(j)] = T(rounding: ddQuotient(D.add(qj, (-pj.hi, -pj.lo)), scale))
            }
        }
    }

    /// The entropy of softmax(x/T) of slices `slices`: the specification of every tier's
    /// `entropy`. -Σ p log p in double-double (every term p·(-log p) >= 0), each result rounded
    /// once; the gradient of the sum, -p (log p + H)/T, when `grad` is given.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func entropy<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, n: Int, inner: Int, slices: Range<Int>, temperature: Double,
        out: UnsafeMutablePointer<T>, grad: UnsafeMutablePointer<T>?
    ) {
        typealias D = DoubleDouble
        for si in slices {
            let s = Slice(index: si, n: n, inner: inner)
            let a = ReferenceLogSoftmax(x, s, temperature)
            if a.nan || a.empty {
                out[si] = T(rounding: a.nan ? .nan : 0)
                for j in 0..<n { grad?[s.offset(j)] = T(rounding: a.nan ? .nan : 0) }
                continue
            }
            var h: DD = (0, 0)
            for j in 0..<n {
                let lp = a.logProbability(j)
                if lp.hi == -.infinity { continue }
                h = D.add(h, D.mul(a.probability(j), (-lp.hi, -lp.lo)))
            }
            out[si] = T(rounding: h.hi + h.lo)
            guard let grad else { continue }
            for j in 0..<n {
                let lp = a.logProbability(j), pj = a.probability(j)
                let r = pj.hi == 0 ? 0 : -ddQuotient(D.mul(pj, D.add(lp, h)), temperature)
                grad[s.offset(j)] = T(rounding: r)
            }
        }
    }

    /// φ(d) = e^{-d} - 1 + d = Σ_{k>=2} (-d)^k / k! for |d| < 1, in double-double.
    static func phiSeries(_ d: DD) -> DD {
        typealias D = DoubleDouble
        var term = D.mul(d, d)
        term = (term.hi / 2, term.lo / 2)
        var sum = term
        var k = 3.0
        while k < 40 {
            let t = D.mul(term, (-d.hi, -d.lo))
            term = (t.hi / k, DoubleDouble.add(t, D.mul((-t.hi / k, 0), (k, 0))).hi / k)
            sum = D.add(sum, term)
            k += 1
        }
        return sum
    }

    /// a / b for double-double a and a double b, rounded once.
    static func ddQuotient(_ a: DD, _ b: Double) -> Double {
        let q = a.hi / b
        guard q.isFinite, q != 0 else { return q }
        let r = DoubleDouble.add(a, DoubleDouble.mul((-q, 0), (b, 0)))
        return q + (r.hi + r.lo) / b
    }

    /// The negative log-likelihood of samples `slices` (labels already checked): -w[y]·x[y], 0
    /// for ignored samples and zero weights. Returns the losses' exact-as-possible sum.
    public static func nllLoss<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, labels: UnsafePointer<Int64>, weight: UnsafePointer<T>?, n: Int, inner: Int,
        ignoreIndex: Int64, slices: Range<Int>, out: UnsafeMutablePointer<T>
    ) {
        for si in slices {
            let y = labels[si]
            var l = 0.0
            if y != ignoreIndex {
                let w = weight.map { $0[Int(y)].double } ?? 1
                if w != 0 { l = -w * x[Slice(index: si, n: n, inner: inner).offset(Int(y))].double }
            }
            out[si] = T(rounding: l)
        }
    }
}

/// log softmax(x/T) of one slice in double-double, with the limits of docs/design.md,
/// "Special values": NaN anywhere, k entries at +inf (-log k there, -inf elsewhere), all -inf
/// (`empty`: no mass).
struct ReferenceLogSoftmax {
    typealias DD = DoubleDouble.DD
    var nan = false, empty = false
    var values: [DD] = []

    init<T: SoftmaxScalar>(_ x: UnsafePointer<T>, _ s: Slice, _ t: Double) {
        typealias D = DoubleDouble
        let v = (0..<s.n).map { x[s.offset($0)].double }
        if v.contains(where: { $0.isNaN }) { nan = true; return }
        let m = v.max() ?? -.infinity
        if m == -.infinity {
            empty = true
            values = v.map { _ in (-.infinity, 0) }
            return
        }
        if m == .infinity {
            let k = Double(v.filter { $0 == .infinity }.count)
            let lk = D.log((k, 0), first: logD(k))
            values = v.map { $0 == .infinity ? (-lk.hi, -lk.lo) : (-.infinity, 0) }
            return
        }
        let shifted: [DD] = v.map { xi in
            if xi == -.infinity { return (-.infinity, 0) }
            let d = twoSum(xi, -m)
            let q = d.hi / t
            let r = D.add(d, D.mul((-q, 0), (t, 0)))
            return twoSum(q, (r.hi + r.lo) / t)
        }
        var sum: DD = (0, 0)
        for z in shifted where z.hi > -.infinity { sum = D.add(sum, D.exp(z)) }
        let u = D.add(sum, (-1, 0))
        let l = D.log1p(u, first: log1pD(u.hi + u.lo))
        values = shifted.map { $0.hi == -.infinity ? $0 : D.add($0, (-l.hi, -l.lo)) }
    }

    func logProbability(_ j: Int) -> DD { values[j] }
    func probability(_ j: Int) -> DD { values[j].hi == -.infinity ? (0, 0) : DoubleDouble.exp(values[j]) }
}
