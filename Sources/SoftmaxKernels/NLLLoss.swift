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
    var total = CompensatedSumWithSpecials()
    for si in slices {
        let label = pb.labels[si]
        var loss = 0.0
        if label != pb.ignoreIndex {
            let y = Int(label)
            let w = pb.weight.map { $0[y].double } ?? 1
            if w != 0 { loss = -(w * pb.logProbs[Slice(index: si, n: pb.n, inner: pb.inner).offset(y)].double) }
        }
        pb.perSample?[si] = T(rounding: loss)
        total.add(loss)
    }
    return total
}
