import SoftmaxCore
import SoftmaxScalarKernels

// The negative log-likelihood loss: a gather of -w[y]·logp[y] per sample (docs/design.md,
// "KL divergence, entropy and NLL"). Nothing is rounded but the product; the sum is compensated.

extension Kernels {
    /// The losses of samples `slices` (written when the problem asks for them); their sum.
    /// Ignored samples give 0, and so does a zero weight (even at logp = -inf).
    public static func nllLoss<T: SoftmaxScalar>(_ pb: NLLLossProblem<T>, slices: Range<Int>) -> CompensatedSumWithSpecials {
        // Called through `any SoftmaxKernelSet.Type`: branch once on T into specialised code.
        if T.self == Float.self { return nllSamples(unsafeBitCast(pb, to: NLLLossProblem<Float>.self), slices) }
        return nllSamples(unsafeBitCast(pb, to: NLLLossProblem<Double>.self), slices)
    }
}

func nllSamples<T: SoftmaxScalar>(_ pb: NLLLossProblem<T>, _ slices: Range<Int>) -> CompensatedSumWithSpecials {
    // Eight losses at a time gathered into a small buffer and added in eight lanes (a TwoSum
    // each), the lanes folded in a fixed order: one compensated sum of every loss was a chain of
    // dependent additions, about 3 ns a sample, on which the independent gathers waited. The
    // lanes live inside the closure: captured from outside, they went through memory every step.
    withUnsafeTemporaryAllocation(of: Double.self, capacity: 8) { buffer in
        let b = buffer.baseAddress!
        var sum = DV(repeating: 0), comp = DV(repeating: 0)
        // Rows without weights: the offset without a division by `inner` (Slice's), and no
        // branch between the gathers, so that more of them are in flight at once.
        let plain = pb.inner == 1 && pb.weight == nil
        var si = slices.lowerBound
        while si < slices.upperBound {
            let c = Swift.min(8, slices.upperBound - si)
            if c < 8 { b.update(repeating: 0, count: 8) }
            if plain {
                for k in 0..<c { b[k] = nllLossPlain(pb, si + k) }
            } else {
                for k in 0..<c { b[k] = nllLoss(pb, si + k) }
            }
            if let out = pb.perSample { for k in 0..<c { out[si + k] = T(rounding: b[k]) } }
            let (h, l) = vtwoSum(sum, UnsafeRawPointer(b).loadUnaligned(as: DV.self))
            sum = h
            comp += l
            si += c
        }
        return laneTotal(sum, comp)
    }
}

/// `nllLoss` of a contiguous row without weights: an ignored sample reads its row's first entry
/// (there is one) and gives 0.
@inline(__always)
func nllLossPlain<T: SoftmaxScalar>(_ pb: NLLLossProblem<T>, _ si: Int) -> Double {
    let label = pb.labels[si]
    let ignored = label == pb.ignoreIndex
    let v = pb.logProbs[si * pb.n + (ignored ? 0 : Int(truncatingIfNeeded: label))].double
    return ignored ? 0 : -v
}

/// -w[y]·logp[y] of sample `si`; 0 where it is ignored or its weight is 0 (even at logp = -inf).
@inline(__always)
func nllLoss<T: SoftmaxScalar>(_ pb: NLLLossProblem<T>, _ si: Int) -> Double {
    let label = pb.labels[si]
    guard label != pb.ignoreIndex else { return 0 }
    let y = Int(label)
    let w = pb.weight.map { $0[y].double } ?? 1
    return w != 0 ? -(w * pb.logProbs[Slice(index: si, n: pb.n, inner: pb.inner).offset(y)].double) : 0
}
