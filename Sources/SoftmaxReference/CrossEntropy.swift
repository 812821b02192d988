import SoftmaxCore

extension Reference {
    /// Cross-entropy with its options, per sample, in double-double: the specification of every
    /// tier's general kernel (`Kernels.crossEntropyScalar`) for finite capped logits
    /// (docs/design.md, "Cross-entropy options"). Samples of `pb` in `slices`: the per-sample
    /// loss (before any reduction) into `loss`, the gradient of Σ loss / `pb.gradientDivisor`
    /// into `pb.gradient`, each sample's logsumexp into `pb.lse`, and, for a test's tolerance,
    /// each gradient entry's terms summed in magnitude, (|A'| p_j + c_j)·slope_j / divisor, into
    /// `gradientScale`.
    ///
    /// Capped logits cap·tanh(x/cap) = ±(cap - cap·r), r = 2E / (1 + E), E = exp(-2|x/cap|), with
    /// slope r (2 - r), beyond |x/cap| > 350 exactly ±cap and 0; then with the shifts z_j = c_j - m
    /// and S = Σ exp(z_j): lse = m + log S, loss = Σ c_j (log S - z_j) + zw·lse², gradient
    /// ((A + 2 zw lse) p_j - c_j)·slope_j. Each result is rounded once. A NaN logit makes the
    /// sample's results NaN; ignored samples have loss and gradient 0 and their lse. Logits
    /// that stay infinite (no cap) are not covered: the kernels' limits for them are tested
    /// through the API.
    public static func crossEntropy<T: SoftmaxScalar>(
        _ pb: CrossEntropyProblem<T>, slices: Range<Int>, loss: UnsafeMutablePointer<T>,
        gradientScale: UnsafeMutablePointer<Double>?
    ) {
        typealias D = DoubleDouble
        let n = pb.n
        let keep = 1 - pb.smoothing, spread = pb.smoothing / Double(n)
        var c = [D.DD](repeating: (0, 0), count: n)
        var slope = [D.DD](repeating: (1, 0), count: n)
        for si in slices {
            let o = si / pb.inner, i = si - o * pb.inner
            @inline(__always) func at(_ j: Int) -> Int { (o * n + j) * pb.inner + i }
            var nan = false
            for j in 0..<n {
                let x = pb.logits[at(j)].double
                nan = nan || x.isNaN
                if pb.softcap == 0 {
                    c[j] = (x, 0)
                    continue
                }
                let cap = pb.softcap, s: Double = x < 0 ? -1 : 1
                let uh = x / cap
                if !(abs(uh) <= 350) {
                    c[j] = (s * cap, 0)
                    slope[j] = (0, 0)
                    continue
                }
                let p = twoProduct(uh, cap)
                let a = (abs(uh), s * (((x - p.hi) - p.lo) / cap))
                let e = D.exp((-2 * a.0, -2 * a.1))
                let r = quotient(D.mul((2, 0), e), D.add((1, 0), e))
                let m = D.add((cap, 0), D.mul((-cap, 0), r))
                c[j] = (s * m.hi, s * m.lo)
                slope[j] = D.mul(r, D.add((2, 0), (-r.hi, -r.lo)))
            }
            let g = pb.gradient
            if nan {
                loss[si] = .nan
                pb.lse?[si] = .nan
                for j in 0..<n { g?[at(j)] = .nan }
                gradientScale.map { for j in 0..<n { $0[at(j)] = 0 } }
                continue
            }
            let top = (0..<n).max { c[$0].hi < c[$1].hi || (c[$0].hi == c[$1].hi && c[$0].lo < c[$1].lo) }!
            let z = (0..<n).map { D.add(c[$0], (-c[top].hi, -c[top].lo)) }
            var sum: D.DD = (0, 0)
            for j in 0..<n { sum = D.add(sum, D.exp(z[j])) }
            let logS = D.log(sum, first: logD(sum.hi + sum.lo))
            let lse = D.add(c[top], logS)
            pb.lse?[si] = T(rounding: lse.hi + lse.lo)
            // The coefficients c_j and the z-loss weight.
            let sw = pb.sampleWeight.map { $0[si].double } ?? 1
            var coef = [Double](repeating: 0, count: n)
            var zw = 0.0
            if let labels = pb.labels {
                let label = labels[si]
                if label == pb.ignoreIndex {
                    loss[si] = 0
                    for j in 0..<n { g?[at(j)] = 0 }
                    gradientScale.map { for j in 0..<n { $0[at(j)] = 0 } }
                    continue
                }
                let y = Int(label)
                let wy = (pb.weight.map { $0[y].double } ?? 1) * sw
                for j in 0..<n {
                    let w = (pb.weight.map { $0[j].double } ?? 1) * sw
                    coef[j] = (j == y ? keep * wy : 0) + (pb.smoothing == 0 ? 0 : spread * w)
                }
                zw = pb.zLoss * wy
            } else {
                for j in 0..<n {
                    let w = (pb.weight.map { $0[j].double } ?? 1) * sw
                    coef[j] = w * (pb.targets![at(j)].double * keep + spread)
                }
                zw = pb.zLoss * sw
            }
            var l: D.DD = (0, 0)
            var a: D.DD = (0, 0)
            for j in 0..<n where coef[j] != 0 {
                l = D.add(l, D.mul((coef[j], 0), D.add(logS, (-z[j].hi, -z[j].lo))))
                a = D.add(a, (coef[j], 0))
            }
            let lse2 = D.mul(lse, lse)
            l = D.add(l, D.mul((zw, 0), lse2))
            loss[si] = T(rounding: l.hi + l.lo)
            let total = D.add(a, D.mul((2 * zw, 0), lse))
            for j in 0..<n {
                let p = D.exp(D.add(z[j], (-logS.hi, -logS.lo)))
                let d = D.mul(D.add(D.mul(total, p), (-coef[j], 0)), slope[j])
                g?[at(j)] = T(rounding: quotient(d, (pb.gradientDivisor, 0)).hi)
                gradientScale?[at(j)] = (abs(total.hi) * p.hi + coef[j]) * slope[j].hi / pb.gradientDivisor
            }
        }
    }

    /// a / b in double-double, b > 0: one correction of the quotient by its residual.
    static func quotient(_ a: DoubleDouble.DD, _ b: DoubleDouble.DD) -> DoubleDouble.DD {
        let q = a.hi / b.hi
        let r = DoubleDouble.add(a, DoubleDouble.mul((-q, 0), b))
        return twoSum(q, (r.hi + r.lo) / b.hi)
    }
}
