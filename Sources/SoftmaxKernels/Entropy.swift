import SoftmaxCore
import SoftmaxScalarKernels

// The entropy of softmax(x/T) (docs/design.md, "KL divergence, entropy and NLL"). With
// s_i = (x_i - max)/T <= 0, S = Σ e^{s_i} >= 1, L = log S and U = Σ e^{s_i}·(-s_i) >= 0,
//
//   H = Σ p_i (L - s_i) = L + U/S
//
// a sum of two non-negative parts, so nothing cancels: a one-hot-like row keeps its tiny entropy
// to full relative precision. The gradient of H with respect to x_j is
// -p_j (log p_j + H)/T = -p_j (s_j + U/S)/T (L cancels exactly). Double input keeps every
// exponential as a pair (`vexpPair`) and every product e^s·s exactly; Float input in Double
// lanes has 29 bits to spare and takes the cheap exp.

extension Kernels {
    /// The entropy of slices `slices`, written to `out[slice]`, with the gradient of their sum
    /// when the problem asks for it.
    public static func entropy<T: SoftmaxScalar>(_ pb: EntropyProblem<T>, slices: Range<Int>) {
        // Called through `any SoftmaxKernelSet.Type`: branch once on T into specialised code.
        if T.self == Float.self {
            return entropySlices(unsafeBitCast(pb, to: EntropyProblem<Float>.self), slices)
        }
        entropySlices(unsafeBitCast(pb, to: EntropyProblem<Double>.self), slices)
    }
}

func entropySlices<T: SoftmaxScalar>(_ pb: EntropyProblem<T>, _ slices: Range<Int>) {
    let n = pb.n, t = pb.temperature, invT = 1 / t
    let zero = DV(repeating: 0)
    for si in slices {
        let s = Slice(index: si, n: n, inner: pb.inner)
        let st = sliceLaneStats(pb.logits, s)
        if st.special {
            // NaN: NaN; k entries +inf: uniform over them, H = log k and a zero gradient (the
            // limit); all -inf or empty: softmax is 0 everywhere, H = 0 and a zero gradient.
            let h: Double = st.nan ? .nan : (st.max == .infinity ? logD(Double(st.posInf)) : 0)
            pb.out[si] = T(rounding: h)
            if let g = pb.gradient { fillSlice(g, s, st.nan ? .nan : 0) }
            continue
        }
        let m = DV(repeating: st.max)
        var sum = LaneCompensatedSum(), u = LaneCompensatedSum()
        var j = 0
        while j < n {
            let c = Swift.min(8, n - j)
            let (sh, sl) = vshift(T.self, sliceLanes(pb.logits, s, j, c, pad: -.infinity), m, t, invT)
            let (eh, el) = entropyExp(T.self, sh, sl)
            // e^s·(-s) is 0 where e^s is (s = -inf would give 0·inf).
            let live = eh .!= zero
            let (ph, pl0) = vtwoProduct(eh, -sh)
            let pl = fmadd(eh, -zeroUnless(live, sl), fmadd(el, -sh, pl0))
            sum.add(eh)
            sum.lo += el
            u.add(zeroUnless(live, ph))
            u.lo += zeroUnless(live, pl)
            j += 8
        }
        let total = sum.total(), uu = u.total().pair
        let l = logOfSum(total)
        let sp = total.pair
        let a = ddDivide(uu, sp)
        let h = DoubleDouble.add(l, a)
        pb.out[si] = T(rounding: h.hi + h.lo)
        guard let g = pb.gradient else { continue }
        let ah = DV(repeating: a.hi), al = DV(repeating: a.lo)
        let sv = DV(repeating: sp.hi), tv = DV(repeating: -t)
        let coef = -1 / (sp.hi * t), cv = DV(repeating: coef)
        j = 0
        while j < n {
            let c = Swift.min(8, n - j)
            let (sh, sl) = vshift(T.self, sliceLanes(pb.logits, s, j, c, pad: -.infinity), m, t, invT)
            let (eh, _) = entropyExp(T.self, sh, sl)
            let (vh, vl) = vtwoSum(sh, ah)
            let v = vh + (vl + (zeroUnless(eh .!= zero, sl) + al))
            // Multiplied by -1/(S T) where that is finite (a division per vector is the
            // slowest step); a subnormal temperature divides.
            let grad = coef.isFinite ? zeroUnless(eh .!= zero, eh * v) * cv : zeroUnless(eh .!= zero, (eh / sv) * v) / tv
            storeSliceLanes(grad, g, s, j, c)
            j += 8
        }
    }
}

/// e^s for s <= 0 as a pair for Double input (to 2^-57), the cheap exp for Float input.
@inline(__always)
func entropyExp<T: SoftmaxScalar>(_: T.Type, _ sh: DV, _ sl: DV) -> (DV, DV) {
    if T.self == Float.self { return (vexpForFloat(sh), DV(repeating: 0)) }
    return vexpPair(sh, sl)
}

/// a / b in double-double (b > 0).
@inline(__always)
func ddDivide(_ a: DoubleDouble.DD, _ b: DoubleDouble.DD) -> DoubleDouble.DD {
    let q = a.hi / b.hi
    let r = DoubleDouble.add(a, DoubleDouble.mul((-q, 0), b))
    return twoSum(q, (r.hi + r.lo) / b.hi)
}
