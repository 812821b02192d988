import SoftmaxCore

// The lane sums of the vector kernels, each named by what it guarantees (docs/design.md,
// "Kernels"); the scalar sums are in SoftmaxCore/Sums.swift. A lane sum keeps one running sum per
// vector lane, so the reductions stay lane-wise until a row or chunk is finished.

/// A lane-wise compensated sum: each lane keeps its running sum and the rounding errors.
struct LaneCompensatedSum {
    var hi = DV(repeating: 0)
    var lo = DV(repeating: 0)

    @inline(__always) mutating func add(_ v: DV) {
        let (s, e) = vtwoSum(hi, v)
        hi = s
        lo += e
    }

    /// All lanes added into a double-double by a tree of TwoSums (halves, quarters, then the last
    /// pair), each level's errors kept with the low parts: branch-free, where eight
    /// `CompensatedSum.add` calls each branch on which operand is larger, and mispredict.
    @inline(__always) func total() -> CompensatedSum {
        let a4 = hi.lowHalf, b4 = hi.highHalf
        let s4 = a4 + b4, bb4 = s4 - a4
        let l4 = (lo.lowHalf + lo.highHalf) + ((a4 - (s4 - bb4)) + (b4 - bb4))
        let a2 = s4.lowHalf, b2 = s4.highHalf
        let s2 = a2 + b2, bb2 = s2 - a2
        let l2 = (l4.lowHalf + l4.highHalf) + ((a2 - (s2 - bb2)) + (b2 - bb2))
        let (s, e) = twoSum(s2[0], s2[1])
        var c = CompensatedSum()
        c.sum = s
        c.compensation = (l2[0] + l2[1]) + e
        return c
    }
}

/// A lane-wise compensated sum of terms in [0, 1]: every lane starts at 1, so that each addition
/// is a Fast2Sum (three operations, its error exact) rather than a TwoSum (six). The bias leaves
/// exactly: s - 1 is a multiple of ulp(s) smaller than s.
struct LaneSumOfUnitTerms {
    var s = DV(repeating: 1), c = DV(repeating: 0)

    @inline(__always) mutating func add(_ q: DV) {
        let t = s + q
        c += q - (t - s)
        s = t
    }

    // Always inlined: left a call, the lanes went through the stack at every chunk's total.
    @inline(__always) var unbiased: LaneCompensatedSum { LaneCompensatedSum(hi: s - DV(repeating: 1), lo: c) }
}

/// A lane-wise sum, compensated unless `plain`. For Float results a plain Double sum is enough
/// (its relative error, steps·2^-53, stays below 2^-35), provided log results keep the exact 1
/// of each maximal term apart, where it would absorb the low bits of the others; Double
/// results need the compensation.
struct ResultPrecisionLaneSum {
    var s = LaneCompensatedSum()
    let plain: Bool
    @inline(__always) mutating func add(_ v: DV) {
        if plain { s.hi += v } else { s.add(v) }
    }
}

/// Each lane's terms (each <= 1) summed in Float with every addition's rounding error kept.
/// Biased (softmax, which only divides by the total): the lanes start at 1, so each addition is
/// a Fast2Sum. Unbiased (log results, whose terms without the maximal ones may all be tiny and
/// need their own sum to full relative precision): the lanes start at 0 and each addition is a
/// TwoSum; a bias would leave the tiny terms to the plainly summed errors.
struct FloatLaneCompensatedSum {
    var s: FV, c = FV(repeating: 0), tops = FV(repeating: 0)
    let biased: Bool
    /// What the biased lanes start at: 1, or a power of two at least as large as every term
    /// and at most about twice the largest (unshifted softmax rows, `unshiftedBias`), so that
    /// each addition is still a Fast2Sum and the bias leaves exactly.
    var bias: Float = 1

    @inline(__always) init(biased: Bool) {
        self.biased = biased
        s = FV(repeating: biased ? 1 : 0)
    }

    @inline(__always) init(bias: Float) {
        biased = true
        self.bias = bias
        s = FV(repeating: bias)
    }

    /// A sum resumed from its lanes (a column sweep keeps them in memory between rows).
    @inline(__always) init(s: FV, c: FV, tops: FV, biased: Bool) {
        self.s = s
        self.c = c
        self.tops = tops
        self.biased = biased
    }

    @inline(__always) mutating func add(_ q: FV) {
        let t = s + q
        if biased {
            c += q - (t - s)
        } else {
            let qq = t - s
            c += (s - (t - qq)) + (q - qq)
        }
        s = t
    }

    /// The lanes in Double (pairwise where there are sixteen), without the bias (s - 1 is exact
    /// in Double).
    @inline(__always) var total: DV {
        (widenSum(s) - DV(repeating: biased ? Double(bias) * Double(floatLanes / 8) : 0)) + widenSum(c)
    }
}
