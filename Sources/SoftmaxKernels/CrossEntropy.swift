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
        // Integer targets without smoothing (the common case) run on the vector passes.
        if pb.labels != nil && pb.smoothing == 0 {
            return crossEntropyVector(pb, slices)
        }
        return crossEntropyScalar(pb, slices: slices)
    }

    /// The general cross-entropy kernel, one slice at a time; also the fallback of the vector
    /// kernel for groups with a NaN, +inf or all -inf slice.
    static func crossEntropyScalar<T: SoftmaxScalar>(
        _ pb: CrossEntropyProblem<T>, slices: Range<Int>
    ) -> CompensatedSumWithSpecials {
        let n = pb.n
        let x = pb.logits
        let coefficients = CrossEntropyCoefficients(smoothing: pb.smoothing, classes: n)
        // The mean's divisor as a multiplier: exact for powers of two (and 1), otherwise one
        // extra rounding in Double, where a division per element would cost a quarter of the pass.
        let inv = 1 / pb.gradientDivisor
        // Integer targets without smoothing: the only coefficient is c_y = w_y.
        let plain = pb.labels != nil && !coefficients.smoothed
        var total = CompensatedSumWithSpecials()

        for si in slices {
            let s = Slice(index: si, n: n, inner: pb.inner)
            // The coefficient c_j of the target distribution (before the gradient divisor).
            var y = -1
            var wy = 0.0
            var cy = 0.0
            if let labels = pb.labels {
                let label = labels[si]
                if label == pb.ignoreIndex {
                    pb.perSample?[si] = 0
                    if let g = pb.gradient { ScalarPass.vfill(g, s, 0) }
                    continue
                }
                y = Int(label)
                wy = pb.weight.map { $0[y].double } ?? 1
                cy = coefficients.target(weight: wy)
            }
            @inline(__always) func coef(_ j: Int, _ k: Int) -> Double {
                let w = pb.weight.map { $0[j].double } ?? 1
                if let q = pb.targets { return coefficients.probability(q[k].double, weight: w) }
                return coefficients.label(isTarget: j == y, target: cy, weight: w)
            }

            let st = ScalarPass.rmax(x, s, nil)
            var loss: Double
            if st.hasNaN {
                loss = .nan
                if let g = pb.gradient { ScalarPass.vfill(g, s, .nan) }
            } else if st.max == -.infinity {
                // All -inf (or no classes): -log p = +inf wherever c_j != 0; zero gradient.
                var l = CompensatedSumWithSpecials()
                for j in 0..<n {
                    let c = coef(j, s.offset(j))
                    if c != 0 { l.add(c * .infinity) }
                }
                loss = l.value
                if let g = pb.gradient { ScalarPass.vfill(g, s, 0) }
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
                    l.add(x[s.offset(j)] == .infinity ? c * logk : c * .infinity)
                }
                loss = l.value
                if let g = pb.gradient {
                    let av = a.value
                    for j in 0..<n {
                        let idx = s.offset(j)
                        let p = x[idx] == .infinity ? 1 / k : 0
                        g[idx] = T(rounding: CoefficientGradient.limit(total: av, probability: p, coef(j, idx)) * inv)
                    }
                }
            } else {
                let m = st.max
                let top = st.argmax
                // rest = Σ_{j≠top} exp(x_j - m), compensated; S = 1 + rest.
                var rs = 0.0
                var rc = 0.0
                for j in 0..<n where j != top {
                    let z = scaledShift(x[s.offset(j)].double, m, 1)
                    let t = twoSum(rs, expShifted(z))
                    rs = t.hi
                    rc += t.lo
                }
                let r = twoSum(rs, rc)
                // A = Σ c_j, the same without the top class, and Σ c_j (m - x_j) (+inf when a
                // weighted logit is -inf). Integer targets without smoothing have one c_j.
                let av: Double
                let others: Double
                var shift = CompensatedSumWithSpecials()
                if plain {
                    av = wy
                    others = y == top ? 0 : wy
                    if wy != 0 { shift.addShift(coefficient: wy, scaledShift(x[s.offset(y)].double, m, 1)) }
                } else {
                    var a = CompensatedSum()
                    var aOthers = CompensatedSum()
                    for j in 0..<n {
                        let idx = s.offset(j)
                        let c = coef(j, idx)
                        guard c != 0 else { continue }
                        a.add(c)
                        if j != top { aOthers.add(c) }
                        shift.addShift(coefficient: c, scaledShift(x[idx].double, m, 1))
                    }
                    av = a.value
                    others = aOthers.value
                }
                loss = coefficientLoss(total: av, logSum: log1pPair(r.hi, r.lo), shift: shift.value)
                if let g = pb.gradient {
                    let grad = CoefficientGradient(total: av, rest: r)
                    for j in 0..<n {
                        let idx = s.offset(j)
                        @inline(__always) func c() -> Double { plain ? (j == y ? wy : 0) : coef(j, idx) }
                        let d: Double
                        if j == top {
                            d = grad.atMaximum(c(), others: others)
                        } else {
                            d = grad.below(expTerm: expShifted(scaledShift(x[idx].double, m, 1)), c())
                        }
                        g[idx] = T(rounding: d * inv)
                    }
                }
            }
            pb.perSample?[si] = T(rounding: loss)
            total.add(loss)
        }
        return total
    }
}
