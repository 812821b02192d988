import SoftmaxCore
import SoftmaxScalarKernels

// Derivatives of softmax and log-softmax over [outer, n, inner] slices, one slice at a time.
// Everything is computed in Double; the output is rounded once.

extension Reference {
    /// The vector-Jacobian product of softmax (or of log-softmax when `log`) for slices
    /// `slices`, given the forward result `y` (or `logy`) and the incoming gradient `g`: the
    /// specification of every tier's `vjp`. `dx` may be `y` or `g` exactly.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func vjp<T: SoftmaxScalar>(
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
