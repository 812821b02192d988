import SoftmaxCore

// Cross-entropy from logits, fused with its gradient.
//
// Both target kinds reduce to per-class coefficients c_j >= 0 (for non-negative weights):
//   integer target y:      c_j = (1 - ε) w_y [j == y] + (ε / C) w_j
//   probability target q:  c_j = w_j (q_j (1 - ε) + ε / C)
// and then, with m = max x, S = Σ exp(x_j - m) = 1 + rest, L = log1p(rest), A = Σ c_j:
//   loss = Σ c_j (-log p_j) = A·L + Σ c_j (m - x_j)        (every term >= 0: no cancellation)
//   dloss/dx_j = A p_j - c_j
// At the maximal class, when p_max >= 1/2, the gradient is -A·rest/S + Σ_{j≠max} c_j: the
// "p - 1" of the target class never appears, so a confident prediction keeps its digits.

/// A sum that is compensated while finite and follows IEEE arithmetic once an infinity or NaN
/// enters (where the compensation term itself would turn into NaN).
public struct RobustSum: Sendable {
    public var compensated = CompensatedSum()
    public var naive = 0.0

    @inlinable public init() {}

    @inlinable @inline(__always)
    public mutating func add(_ v: Double) {
        compensated.add(v)
        naive += v
    }

    @inlinable @inline(__always)
    public mutating func add(_ other: RobustSum) {
        compensated.add(other.compensated)
        naive += other.naive
    }

    @inlinable public var value: Double { naive.isFinite ? compensated.value : naive }
}

/// One cross-entropy problem over an [outer, n, inner] array of logits (n classes).
/// Exactly one of `labels` (integer targets, [outer, inner]) and `targets` (probabilities,
/// shaped like the logits) is given.
public struct CrossEntropyProblem<T: SoftmaxScalar> {
    public var logits: UnsafePointer<T>
    public var labels: UnsafePointer<Int64>?
    public var targets: UnsafePointer<T>?
    public var weight: UnsafePointer<T>?
    public var n: Int
    public var inner: Int
    public var ignoreIndex: Int64
    public var smoothing: Double
    /// Per-sample losses ([outer, inner]), for reduction none.
    public var perSample: UnsafeMutablePointer<T>?
    /// The gradient of the reduced loss, shaped like the logits; it may be `logits` or `targets`.
    public var gradient: UnsafeMutablePointer<T>?
    /// The gradient is divided by this (the mean's denominator, else 1).
    public var gradientDivisor: Double

    public init(
        logits: UnsafePointer<T>, labels: UnsafePointer<Int64>?, targets: UnsafePointer<T>?,
        weight: UnsafePointer<T>?, n: Int, inner: Int, ignoreIndex: Int64, smoothing: Double,
        perSample: UnsafeMutablePointer<T>?, gradient: UnsafeMutablePointer<T>?, gradientDivisor: Double
    ) {
        self.logits = logits
        self.labels = labels
        self.targets = targets
        self.weight = weight
        self.n = n
        self.inner = inner
        self.ignoreIndex = ignoreIndex
        self.smoothing = smoothing
        self.perSample = perSample
        self.gradient = gradient
        self.gradientDivisor = gradientDivisor
    }
}

extension Kernels {
    /// Cross-entropy of slices `slices` (one sample each), with the gradient written in the same
    /// call when requested. Returns the sum of the samples' losses, in slice order.
    ///
    /// Per slice: one pass finds the maximum, one sums the exponentials and the target terms, and
    /// (only for the gradient) one writes `A p_j - c_j` with the exponentials recomputed, so no
    /// probability array exists. Ignored samples give loss 0 and a zero gradient; a NaN logit
    /// makes the sample's loss and gradient NaN; all -inf logits give loss +inf (for a positive
    /// coefficient) and a zero gradient; k logits at +inf take probability 1/k each.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func crossEntropy<T: SoftmaxScalar>(
        _ pb: CrossEntropyProblem<T>, slices: Range<Int>
    ) -> RobustSum {
        let n = pb.n
        let x = pb.logits
        let eps = pb.smoothing
        let keep = 1 - eps
        let spread = n > 0 ? eps / Double(n) : 0
        let div = pb.gradientDivisor
        var total = RobustSum()

        for si in slices {
            let s = Slice(index: si, n: n, inner: pb.inner)
            // The coefficient c_j of the target distribution (before the gradient divisor).
            var y = -1
            var wy = 0.0
            if let labels = pb.labels {
                let label = labels[si]
                if label == pb.ignoreIndex {
                    pb.perSample?[si] = 0
                    if let g = pb.gradient { vfill(g, s, 0) }
                    continue
                }
                y = Int(label)
                wy = pb.weight.map { $0[y].double } ?? 1
            }
            @inline(__always) func coef(_ j: Int, _ k: Int) -> Double {
                let w = pb.weight.map { $0[j].double } ?? 1
                if let q = pb.targets {
                    return w * (q[k].double * keep + spread)
                }
                let base = j == y ? keep * wy : 0
                return eps == 0 ? base : base + spread * w
            }

            let st = rmax(x, s, nil)
            var loss: Double
            if st.hasNaN {
                loss = .nan
                if let g = pb.gradient { vfill(g, s, .nan) }
            } else if st.max == -.infinity {
                // All -inf (or no classes): -log p = +inf wherever c_j != 0; zero gradient.
                var l = RobustSum()
                for j in 0..<n {
                    let c = coef(j, s.offset(j))
                    if c != 0 { l.add(c * .infinity) }
                }
                loss = l.value
                if let g = pb.gradient { vfill(g, s, 0) }
            } else if st.max == .infinity {
                // The limit: probability 1/k on each of the k +inf logits, -log p = log k there.
                let k = Double(st.posInf)
                let logk = logD(k)
                var l = RobustSum()
                var a = RobustSum()
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
                        let c = coef(j, idx)
                        let p = x[idx] == .infinity ? 1 / k : 0
                        g[idx] = T(rounding: (av * p - c) / div)
                    }
                }
            } else {
                let m = st.max
                let top = st.argmax
                var all = CompensatedSum()
                var rest = CompensatedSum()
                var a = CompensatedSum()
                var aOthers = CompensatedSum()
                var shift = RobustSum()  // Σ c_j (m - x_j): +inf when a weighted logit is -inf
                for j in 0..<n {
                    let idx = s.offset(j)
                    let z = scaledShift(x[idx].double, m, 1)
                    let e = j == top ? 1 : expPair(z.hi, z.lo)
                    all.add(e)
                    if j != top { rest.add(e) }
                    let c = coef(j, idx)
                    if c != 0 {
                        a.add(c)
                        if j != top { aOthers.add(c) }
                        shift.add(-(c * z.hi))
                        if z.lo != 0 { shift.add(-(c * z.lo)) }
                    }
                }
                let r = rest.pair
                let lse = log1pPair(r.hi, r.lo)
                let av = a.value
                loss = av * lse.hi + (av * lse.lo + shift.value)
                if let g = pb.gradient {
                    let sum = all.value
                    let restValue = r.hi + r.lo
                    let others = aOthers.value
                    // p_max >= 1/2 exactly when rest <= 1: then 1 - p_max is rest / S.
                    let confident = restValue <= 1
                    for j in 0..<n {
                        let idx = s.offset(j)
                        let d: Double
                        if j == top && confident {
                            d = others - av * restValue / sum
                        } else {
                            let z = scaledShift(x[idx].double, m, 1)
                            let e = j == top ? 1 : expPair(z.hi, z.lo)
                            d = av * e / sum - coef(j, idx)
                        }
                        g[idx] = T(rounding: d / div)
                    }
                }
            }
            pb.perSample?[si] = T(rounding: loss)
            total.add(loss)
        }
        return total
    }
}
