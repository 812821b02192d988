import SoftmaxCore

// Derivatives of softmax and log-softmax over [outer, n, inner] slices. Everything is computed
// in Double; the output is rounded once.

/// The probabilities of one slice in Double, with the pieces the derivatives need to keep
/// full precision: p[i] = e[i] / S and 1 - p[argmax] = rest / S.
@inline(__always)
func sliceProbabilities<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>, _ s: Slice, temperature t: Double, into p: UnsafeMutablePointer<Double>
) -> (kind: SliceKind, argmax: Int, oneMinusTop: Double) {
    let st = ScalarPass.rmax(x, s, nil)
    if st.hasNaN { return (.nan, -1, .nan) }
    if st.max == -.infinity {
        for i in 0..<s.n { p[i] = 0 }
        return (.zero, -1, 1)
    }
    if st.max == .infinity {
        let share = 1 / Double(st.posInf)
        for i in 0..<s.n { p[i] = x[s.offset(i)] == .infinity ? share : 0 }
        return (.finite, st.argmax, 1 - p[st.argmax])
    }
    var all = CompensatedSum()
    var rest = CompensatedSum()
    for i in 0..<s.n {
        let z = scaledShift(x[s.offset(i)].double, st.max, t)
        let e = i == st.argmax ? 1 : expPair(z.hi, z.lo)
        p[i] = e
        all.add(e)
        if i != st.argmax { rest.add(e) }
    }
    let total = all.value
    for i in 0..<s.n { p[i] /= total }
    return (.finite, st.argmax, rest.value / total)
}

/// What a slice's probabilities look like: ordinary (finite or +inf limit), all zero (all -inf
/// or empty), or poisoned by a NaN.
enum SliceKind { case finite, zero, nan }

extension ScalarKernels {
    /// The softmax Jacobian `J[i][j] = p_i (δ_ij - p_j) / T` of slices `slices`, written as an
    /// `n × n` block per slice: `jac` is `[outer, inner, n, n]`. The diagonal uses
    /// `1 - p_max = (sum of the other terms) / S`, so it keeps its precision when `p_max ≈ 1`.
    /// A NaN slice gives a NaN block; an all -inf slice a zero block.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    package static func softmaxJacobian<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ jac: UnsafeMutablePointer<T>, n: Int, inner: Int,
        slices: Range<Int>, temperature: T
    ) {
        let t = temperature.double
        let p = UnsafeMutablePointer<Double>.allocate(capacity: max(1, n))
        defer { p.deallocate() }
        for si in slices {
            let s = Slice(index: si, n: n, inner: inner)
            let block = jac + si * n * n
            let info = sliceProbabilities(x, s, temperature: t, into: p)
            switch info.kind {
            case .nan:
                for k in 0..<(n * n) { block[k] = .nan }
                continue
            case .zero:
                for k in 0..<(n * n) { block[k] = 0 }
                continue
            case .finite:
                break
            }
            for i in 0..<n {
                let pi = p[i]
                let row = block + i * n
                for j in 0..<n {
                    if i == j {
                        let q = i == info.argmax ? info.oneMinusTop : 1 - pi
                        row[j] = T(rounding: pi * q / t)
                    } else {
                        row[j] = T(rounding: -(pi * p[j]) / t)
                    }
                }
            }
        }
    }

    /// The vector-Jacobian product of softmax (or of log-softmax when `log`) for slices
    /// `slices`, given the forward result `y` (or `logy`) and the incoming gradient `g`. `dx` may
    /// be `y` or `g` exactly.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    package static func vjp<T: SoftmaxScalar>(
        _ y: UnsafePointer<T>, _ g: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>,
        n: Int, inner: Int, slices: Range<Int>, temperature: T, log: Bool
    ) {
        let t = temperature.double
        for si in slices {
            let s = Slice(index: si, n: n, inner: inner)
            if log { logSoftmaxVJP(y, g, dx, s, t) } else { softmaxVJP(y, g, dx, s, t) }
        }
    }

    /// `dx = y ⊙ (g - ⟨g, y⟩) / T` for `y = softmax(x / T)`. The dot product is compensated over
    /// exact products. Entries with `y = 0` (masked, -inf) get exactly 0 and do not enter the dot
    /// product, so fully masked slices give zero gradients.
    @inline(__always)
    private static func softmaxVJP<T: SoftmaxScalar>(
        _ y: UnsafePointer<T>, _ g: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>, _ s: Slice, _ t: Double
    ) {
        let d = ScalarPass.rdotnonzero(y, g, s)
        for i in 0..<s.n {
            let k = s.offset(i)
            let yi = y[k].double
            if yi == 0 { dx[k] = 0; continue }
            let diff = (g[k].double - d.hi) - d.lo
            dx[k] = T(rounding: yi * diff / t)
        }
    }

    /// `dx = (g - exp(logy) Σg) / T` for `logy = log_softmax(x / T)`. The sum of `g` is
    /// compensated. A slice whose `logy` is all -inf (masked or all -inf input) gives zero
    /// gradients.
    @inline(__always)
    private static func logSoftmaxVJP<T: SoftmaxScalar>(
        _ logy: UnsafePointer<T>, _ g: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>, _ s: Slice, _ t: Double
    ) {
        guard (0..<s.n).contains(where: { logy[s.offset($0)] != -.infinity }) else {
            ScalarPass.vfill(dx, s, 0)
            return
        }
        let (hi, lo) = ScalarPass.rsum(g, s)
        for i in 0..<s.n {
            let k = s.offset(i)
            let p = expD(logy[k].double)
            let r: Double
            if p == 0 {
                r = g[k].double
            } else {
                let pr = twoProduct(p, hi)
                r = (g[k].double - pr.hi) - (pr.lo + p * lo)
            }
            dx[k] = T(rounding: r / t)
        }
    }
}
