import SoftmaxCore
import SoftmaxScalarKernels

// The softmax Jacobian as the library computed it before its per-tier kernel
// (SoftmaxKernels/Jacobian.swift): probabilities in Double, each entry their product rounded
// once. The tiers are tested against it, within the few ulps its rounded probabilities cost.

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

extension Reference {
    /// The softmax Jacobian `J[i][j] = p_i (δ_ij - p_j) / T` of slices `slices`, written as an
    /// `n × n` block per slice: `jac` is `[outer, inner, n, n]`. The diagonal uses
    /// `1 - p_max = (sum of the other terms) / S`, so it keeps its precision when `p_max ≈ 1`.
    /// A NaN slice gives a NaN block; an all -inf slice a zero block.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func softmaxJacobian<T: SoftmaxScalar>(
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
            // The block is most of the work and all of the memory traffic: each row is one
            // branch-free loop the compiler vectorises (the division by t = 1 is exact, so it is
            // left out there), then its diagonal entry is overwritten.
            for i in 0..<n {
                let pi = p[i], minusPi = -p[i]
                let row = block + i * n
                if t == 1 {
                    for j in 0..<n { row[j] = T(rounding: minusPi * p[j]) }
                } else {
                    for j in 0..<n { row[j] = T(rounding: minusPi * p[j] / t) }
                }
                let q = i == info.argmax ? info.oneMinusTop : 1 - pi
                row[i] = T(rounding: pi * q / t)
            }
        }
    }
}
