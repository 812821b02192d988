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

    /// Whether every one of the `count` labels is in [0, classes) or is `ignoreIndex`, and how
    /// many are not `ignoreIndex`: eight labels a vector, without a branch (the scalar loop of
    /// the API layer, compiled for the baseline, was a quarter of a 4096x1000 call's time).
    public static func checkLabels(
        _ labels: UnsafePointer<Int64>, count: Int, classes: Int, ignoreIndex: Int64
    ) -> (valid: Bool, counted: Int) {
        typealias L = SIMD8<Int64>
        let ignore = L(repeating: ignoreIndex), n = SIMD8<UInt64>(repeating: UInt64(classes))
        var bad = L(repeating: 0), kept = L(repeating: 0)
        // A lane mask as integers: -1 where set, 0 elsewhere.
        @inline(__always) func lanes(_ m: SIMDMask<L>) -> L { unsafeBitCast(m, to: L.self) }
        @inline(__always) func check(_ l: L) {
            let counted = lanes(l .!= ignore)
            bad |= counted & lanes(SIMD8<UInt64>(truncatingIfNeeded: l) .>= n)
            kept &-= counted
        }
        var k = 0
        while k + 8 <= count {
            check(UnsafeRawPointer(labels + k).loadUnaligned(as: L.self))
            k += 8
        }
        if k < count {
            // The tail padded with ignoreIndex, which counts as neither.
            var l = ignore
            for j in 0..<(count - k) { l[j] = labels[k + j] }
            check(l)
        }
        return ((bad.lowHalf | bad.highHalf) == SIMD4(repeating: 0), Int(kept.wrappedSum()))
    }
}

func nllSamples<T: SoftmaxScalar>(_ pb: NLLLossProblem<T>, _ slices: Range<Int>) -> CompensatedSumWithSpecials {
    // Eight losses at a time added in eight lanes (a TwoSum each), the lanes folded in a fixed
    // order: one compensated sum of every loss was a chain of dependent additions, about 3 ns a
    // sample, on which the independent gathers waited. The eight losses go into the vector's
    // lanes directly: written to a buffer and loaded as one vector, each group waited for the
    // failed forwarding of eight stores to one load (a quarter of this loop's time; with the
    // vector label check, 16384x128 Floats 50.7 -> 43.8 us, one thread).
    var sum = DV(repeating: 0), comp = DV(repeating: 0)
    // Rows without weights: the offset without a division by `inner` (Slice's), and no
    // branch between the gathers, so that more of them are in flight at once.
    let plain = pb.inner == 1 && pb.weight == nil
    @inline(__always) func loss(_ si: Int) -> Double { plain ? nllLossPlain(pb, si) : nllLoss(pb, si) }
    var si = slices.lowerBound
    while si < slices.upperBound {
        let c = Swift.min(8, slices.upperBound - si)
        var v = DV(repeating: 0)
        if c == 8 {
            v = plain
                ? DV(nllLossPlain(pb, si), nllLossPlain(pb, si + 1), nllLossPlain(pb, si + 2), nllLossPlain(pb, si + 3),
                     nllLossPlain(pb, si + 4), nllLossPlain(pb, si + 5), nllLossPlain(pb, si + 6), nllLossPlain(pb, si + 7))
                : DV(nllLoss(pb, si), nllLoss(pb, si + 1), nllLoss(pb, si + 2), nllLoss(pb, si + 3),
                     nllLoss(pb, si + 4), nllLoss(pb, si + 5), nllLoss(pb, si + 6), nllLoss(pb, si + 7))
        } else {
            for k in 0..<c { v[k] = loss(si + k) }
        }
        if let out = pb.perSample { for k in 0..<c { out[si + k] = T(rounding: v[k]) } }
        let (h, l) = vtwoSum(sum, v)
        sum = h
        comp += l
        si += c
    }
    return laneTotal(sum, comp)
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
