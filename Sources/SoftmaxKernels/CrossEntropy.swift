import SoftmaxCore
import SoftmaxScalarKernels

// Cross-entropy from logits, fused with its gradient. The per-sample arithmetic (coefficients,
// loss and gradient forms) is SoftmaxCore's CrossEntropyArithmetic.swift, which the sharded
// path runs too (docs/design.md, "Cross-entropy").

extension Kernels {
    /// Cross-entropy of slices `slices` (one sample each), with the gradient written in the same
    /// call when requested. Returns the sum of the samples' losses, in slice order.
    ///
    /// Per slice: one pass finds the maximum, one sums the exponentials and the target terms, and
    /// (only for the gradient) one writes `A p_j - c_j` with the exponentials recomputed, so no
    /// probability array exists. Ignored samples give loss 0 and a zero gradient; a NaN logit
    /// makes the sample's loss and gradient NaN; all -inf logits give loss +inf (for a positive
    /// coefficient) and a zero gradient; k logits at +inf take probability 1/k each.
    public static func crossEntropy<T: SoftmaxScalar>(
        _ pb: CrossEntropyProblem<T>, slices: Range<Int>
    ) -> CompensatedSumWithSpecials {
        // Called through `any SoftmaxKernelSet.Type`: branch once on T into specialised code.
        if T.self == Float.self {
            return crossEntropyTyped(unsafeBitCast(pb, to: CrossEntropyProblem<Float>.self), slices)
        }
        return crossEntropyTyped(unsafeBitCast(pb, to: CrossEntropyProblem<Double>.self), slices)
    }

    static func crossEntropyTyped<T: SoftmaxScalar>(_ pb: CrossEntropyProblem<T>, _ slices: Range<Int>) -> CompensatedSumWithSpecials {
        // Integer targets without smoothing (the common case) run on the vector passes, with
        // sample weights too; the z-loss, the cap and the lse output on the general kernel.
        if pb.labels != nil && pb.smoothing == 0 && pb.zLoss == 0 && pb.softcap == 0 && pb.lse == nil {
            return crossEntropyVector(pb, slices)
        }
        return crossEntropyScalar(pb, slices: slices)
    }

    /// The general cross-entropy kernel, one slice at a time; also the fallback of the vector
    /// kernel for groups with a NaN, +inf or all -inf slice, and the only kernel of the options
    /// (sample weights, z-loss, softcap, lse output; docs/design.md, "Cross-entropy options").
    static func crossEntropyScalar<T: SoftmaxScalar>(
        _ pb: CrossEntropyProblem<T>, slices: Range<Int>
    ) -> CompensatedSumWithSpecials {
        let n = pb.n
        let coefficients = CrossEntropyCoefficients(smoothing: pb.smoothing, classes: n)
        // The mean's divisor as a multiplier: exact for powers of two (and 1), otherwise one
        // extra rounding in Double, where a division per element would cost a quarter of the pass.
        let inv = 1 / pb.gradientDivisor
        var total = CompensatedSumWithSpecials()
        guard pb.softcap != 0 else {
            for si in slices {
                let s = Slice(index: si, n: n, inner: pb.inner)
                crossEntropySlice(pb, si, s, RawLogits(x: pb.logits, s: s), coefficients, inv, &total)
            }
            return total
        }
        // The capped logits of one slice, as pairs, and their slopes: formed once per element.
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 3 * n) { buf in
            let hi = buf.baseAddress!, lo = hi + n, slope = lo + n
            let precise = T.self == Double.self
            for si in slices {
                let s = Slice(index: si, n: n, inner: pb.inner)
                for j in 0..<n {
                    let c = softcapped(pb.logits[s.offset(j)].double, cap: pb.softcap, precise: precise)
                    hi[j] = c.hi
                    lo[j] = c.lo
                    slope[j] = c.slope
                }
                crossEntropySlice(pb, si, s, CappedLogits(hi: hi, lo: lo, slope: slope, n: n), coefficients, inv, &total)
            }
        }
        return total
    }

    /// One sample of the general kernel: its loss added to `total` (and stored per sample), its
    /// gradient and logsumexp written when requested.
    @inline(__always)
    static func crossEntropySlice<T: SoftmaxScalar, R: CrossEntropyLogits>(
        _ pb: CrossEntropyProblem<T>, _ si: Int, _ s: Slice, _ row: R,
        _ coefficients: CrossEntropyCoefficients, _ inv: Double, _ total: inout CompensatedSumWithSpecials
    ) {
        let n = pb.n
        // Integer targets without smoothing: the only coefficient is c_y = w_y.
        let plain = pb.labels != nil && !coefficients.smoothed
        // The sample's weight multiplies its loss and gradient once, at the end: the
        // coefficients and their arithmetic are those of the unweighted sample.
        let sw = pb.sampleWeight.map { $0[si].double } ?? 1
        let weighted = pb.sampleWeight != nil
        let gradientScale = weighted ? sw * inv : inv
        // The coefficient c_j of the target distribution (before the gradient divisor).
        var y = -1
        var wy = 0.0
        var cy = 0.0
        // The z-loss term's weight: z times the target's class weight (0 for a zero sample weight).
        var zw = 0.0
        if let labels = pb.labels {
            let label = labels[si]
            if label == pb.ignoreIndex {
                pb.perSample?[si] = 0
                if let g = pb.gradient { ScalarPass.vfill(g, s, 0) }
                if let lse = pb.lse { lse[si] = T(rounding: row.logSumExp(precise: T.self == Double.self)) }
                return
            }
            y = Int(label)
            wy = pb.weight.map { $0[y].double } ?? 1
            cy = coefficients.target(weight: wy)
            zw = pb.zLoss * wy
        } else {
            zw = pb.zLoss
        }
        if sw == 0 { zw = 0 }
        @inline(__always) func coef(_ j: Int, _ k: Int) -> Double {
            let w = pb.weight.map { $0[j].double } ?? 1
            if let q = pb.targets { return coefficients.probability(q[k].double, weight: w) }
            return coefficients.label(isTarget: j == y, target: cy, weight: w)
        }

        let (st, mlo) = row.stats()
        var loss: Double
        var lse: Double
        if st.hasNaN {
            loss = .nan
            lse = .nan
            if let g = pb.gradient { ScalarPass.vfill(g, s, .nan) }
        } else if st.max == -.infinity {
            // All -inf (or no classes): -log p = +inf wherever c_j != 0; zero gradient.
            var l = CompensatedSumWithSpecials()
            for j in 0..<n {
                let c = coef(j, s.offset(j))
                if c != 0 { l.add(c * .infinity) }
            }
            loss = l.value
            lse = -.infinity
            if let g = pb.gradient { ScalarPass.vfill(g, s, 0) }
            // An infinite logsumexp: infinite z-loss, whose gradient has no limit.
            if zw != 0 {
                loss += .infinity
                if let g = pb.gradient { ScalarPass.vfill(g, s, .nan) }
            }
        } else if st.max == .infinity {
            // The limit: probability 1/k on each of the k +inf logits, -log p = log k there.
            let k = Double(st.posInf)
            let logk = logD(k)
            var l = CompensatedSumWithSpecials()
            var a = CompensatedSumWithSpecials()
            for j in 0..<n {
                let c = coef(j, s.offset(j))
                guard c != 0 else { continue }
                a.add(c)
                l.add(row.isPositiveInfinity(j) ? c * logk : c * .infinity)
            }
            loss = l.value
            lse = .infinity
            if let g = pb.gradient {
                let av = a.value
                for j in 0..<n {
                    let idx = s.offset(j)
                    let p = row.isPositiveInfinity(j) ? 1 / k : 0
                    g[idx] = T(rounding: CoefficientGradient.limit(total: av, probability: p, coef(j, idx)) * gradientScale)
                }
            }
            if zw != 0 {
                loss += .infinity
                if let g = pb.gradient { ScalarPass.vfill(g, s, .nan) }
            }
        } else {
            let m = (hi: st.max, lo: mlo)
            let top = st.argmax
            // rest = Σ_{j≠top} exp(x_j - m), compensated; S = 1 + rest.
            var rs = 0.0
            var rc = 0.0
            for j in 0..<n where j != top {
                let t = twoSum(rs, expShifted(row.shift(j, m)))
                rs = t.hi
                rc += t.lo
            }
            let r = twoSum(rs, rc)
            // A = Σ c_j, the same without the top class, and Σ c_j (m - x_j) (+inf when a
            // weighted logit is -inf). Integer targets without smoothing have one c_j.
            var av: Double
            var others: Double
            var shift = CompensatedSumWithSpecials()
            if plain {
                av = wy
                others = y == top ? 0 : wy
                if wy != 0 { shift.addShift(coefficient: wy, row.shift(y, m)) }
            } else {
                var a = CompensatedSum()
                var aOthers = CompensatedSum()
                for j in 0..<n {
                    let idx = s.offset(j)
                    let c = coef(j, idx)
                    guard c != 0 else { continue }
                    a.add(c)
                    if j != top { aOthers.add(c) }
                    shift.addShift(coefficient: c, row.shift(j, m))
                }
                av = a.value
                others = aOthers.value
            }
            let logSum = log1pPair(r.hi, r.lo)
            loss = coefficientLoss(total: av, logSum: logSum, shift: shift.value)
            // lse = m + log S: the z-loss and the lse output.
            let lsePair = row.logSumExp(m, top: top, logSum, precise: T.self == Double.self)
            lse = lsePair.hi
            if zw != 0 {
                // z·lse² with the same weight as the loss, from lse's pair and rounded once into
                // the loss; its gradient 2 z lse p_j joins the coefficient form as an extra total
                // A (docs/design.md, "Cross-entropy options").
                let square = twoProduct(lsePair.hi, lsePair.hi)
                let term = twoProduct(zw, square.hi)
                let sum = twoSum(loss, term.hi)
                loss = sum.hi + (sum.lo + (term.lo + zw * (square.lo + 2 * lsePair.hi * lsePair.lo)))
                let extra = 2 * zw * lse
                av += extra
                others += extra
            }
            if let g = pb.gradient {
                let grad = CoefficientGradient(total: av, rest: r)
                for j in 0..<n {
                    let idx = s.offset(j)
                    @inline(__always) func c() -> Double { plain ? (j == y ? wy : 0) : coef(j, idx) }
                    let d: Double
                    if j == top {
                        d = grad.atMaximum(c(), others: others)
                    } else {
                        d = grad.below(expTerm: expShifted(row.shift(j, m)), c())
                    }
                    g[idx] = T(rounding: row.chain(d, j) * gradientScale)
                }
            }
        }
        if weighted {
            // A zero weight makes the sample's loss 0, infinite or not (as a zero class weight does).
            loss = sw == 0 && !loss.isNaN ? 0 : loss * sw
        }
        pb.perSample?[si] = T(rounding: loss)
        pb.lse?[si] = T(rounding: lse)
        total.add(loss)
    }
}

/// The logits of one slice as the general kernel reads them: the input itself, or its capped
/// form (`softcapped`), each logit a pair.
protocol CrossEntropyLogits {
    var count: Int { get }
    /// The first pass: NaN, the maximum (its high part) and where it is, the +inf count; and
    /// the maximum's low part.
    func stats() -> (SliceStats, Double)
    /// x_j - m as an exact pair (a zero low part when not finite).
    func shift(_ j: Int, _ m: (hi: Double, lo: Double)) -> (hi: Double, lo: Double)
    func isPositiveInfinity(_ j: Int) -> Bool
    /// The gradient d with respect to logit j taken back through the cap (d itself without one).
    func chain(_ d: Double, _ j: Int) -> Double
}

extension CrossEntropyLogits {
    /// The logsumexp alone (an ignored sample's lse output).
    func logSumExp(precise: Bool) -> Double {
        let (st, mlo) = stats()
        if st.hasNaN { return .nan }
        if !st.max.isFinite { return st.max }
        let m = (hi: st.max, lo: mlo)
        var rest = CompensatedSum()
        for j in 0..<count where j != st.argmax { rest.add(expShifted(shift(j, m))) }
        return logSumExp(m, top: st.argmax, log1pPair(rest.value, 0), precise: precise).hi
    }

    /// m + log S from the pairs, for the maximum m (at `top`) and log S = `logSum`. Where they
    /// cancel (m < 0, the result under |log S|) the exp terms' errors are amplified, and a
    /// Float64 result is summed again with every term in double-double, as logsumexp does
    /// (docs/design.md, "Cross-entropy options"). Its terms are libm's exps, not the vector
    /// kernel's, so it starts where logsumexp's factor 2 would be too late: 2.56 ULP at a
    /// factor 1.9 (log S = 0.45, result 0.238; found by the tests' hypothesis search).
    func logSumExp(_ m: (hi: Double, lo: Double), top: Int, _ logSum: (hi: Double, lo: Double),
                   precise: Bool) -> (hi: Double, lo: Double) {
        let t = twoSum(m.hi, logSum.hi)
        let low = t.lo + (logSum.lo + m.lo)
        let r = t.hi + low
        guard precise && m.hi < 0 && abs(r - m.hi) > abs(r) else { return (r, low - (r - t.hi)) }
        var rest: DoubleDouble.DD = (0, 0)
        for j in 0..<count where j != top {
            let z = shift(j, m)
            if z.hi < -746 { continue }  // below the smallest subnormal (and -inf)
            rest = DoubleDouble.add(rest, DoubleDouble.exp(z))
        }
        let l = DoubleDouble.log1p(rest, first: log1pD(rest.hi + rest.lo))
        let sum = DoubleDouble.add(DoubleDouble.add((m.hi, 0), l), (m.lo, 0))
        return twoSum(sum.hi, sum.lo)
    }
}

struct RawLogits<T: SoftmaxScalar>: CrossEntropyLogits {
    let x: UnsafePointer<T>
    let s: Slice
    var count: Int { s.n }

    @inline(__always) func stats() -> (SliceStats, Double) {
        (ScalarPass.rmax(x, s, nil), 0)
    }
    @inline(__always) func shift(_ j: Int, _ m: (hi: Double, lo: Double)) -> (hi: Double, lo: Double) {
        scaledShift(x[s.offset(j)].double, m.hi, 1)
    }
    @inline(__always) func isPositiveInfinity(_ j: Int) -> Bool { x[s.offset(j)] == .infinity }
    @inline(__always) func chain(_ d: Double, _ j: Int) -> Double { d }
}

struct CappedLogits: CrossEntropyLogits {
    let hi: UnsafeMutablePointer<Double>
    let lo: UnsafeMutablePointer<Double>
    let slope: UnsafeMutablePointer<Double>
    let n: Int
    var count: Int { n }

    /// Capped logits are finite: only NaN is special.
    @inline(__always) func stats() -> (SliceStats, Double) {
        var st = SliceStats()
        var mlo = 0.0
        for j in 0..<n {
            let v = hi[j]
            if v.isNaN { st.hasNaN = true; return (st, 0) }
            if v > st.max || (v == st.max && lo[j] > mlo) {
                st.max = v
                st.argmax = j
                mlo = lo[j]
            }
        }
        return (st, mlo)
    }
    @inline(__always) func shift(_ j: Int, _ m: (hi: Double, lo: Double)) -> (hi: Double, lo: Double) {
        let d = twoSum(hi[j], -m.hi)
        return (d.hi, d.lo + (lo[j] - m.lo))
    }
    @inline(__always) func isPositiveInfinity(_ j: Int) -> Bool { false }
    @inline(__always) func chain(_ d: Double, _ j: Int) -> Double { d * slope[j] }
}
