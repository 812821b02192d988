import SoftmaxCore
import SoftmaxScalarKernels

// Eight elements of one slice of an [outer, n, inner] view at a time, for the kernels that walk
// one slice after another (the divergences): a vector load where the slice is contiguous, a
// gather through the stride otherwise, so that one lane code serves every axis.

/// Elements j..<j+c (c <= 8) of slice `s`, `pad` in the other lanes.
@inline(__always)
func sliceLanes<T: SoftmaxScalar>(_ p: UnsafePointer<T>, _ s: Slice, _ j: Int, _ c: Int, pad: Double) -> DV {
    if s.stride == 1 {
        return c == 8 ? T.load8(p + s.base + j) : T.loadPartial(p + s.base + j, count: c, pad: pad)
    }
    var v = DV(repeating: pad)
    for i in 0..<c { v[i] = p[s.offset(j + i)].double }
    return v
}

/// Stores lanes 0..<c of `v` as elements j..<j+c of slice `s`.
@inline(__always)
func storeSliceLanes<T: SoftmaxScalar>(_ v: DV, _ p: UnsafeMutablePointer<T>, _ s: Slice, _ j: Int, _ c: Int) {
    if s.stride == 1 {
        if c == 8 { T.store8(v, p + s.base + j) } else { T.storePartial(v, p + s.base + j, count: c) }
        return
    }
    for i in 0..<c { p[s.offset(j + i)] = T(rounding: v[i]) }
}

/// Writes `value` to every element of slice `s`.
@inline(__always)
func fillSlice<T: SoftmaxScalar>(_ p: UnsafeMutablePointer<T>, _ s: Slice, _ value: Double) {
    let v = T(rounding: value)
    for j in 0..<s.n { p[s.offset(j)] = v }
}

/// What the first pass over a slice learns: its maximum and, where asked, minimum (NaN lanes
/// ignored; -inf where not asked), whether it holds a NaN and how many entries are +inf.
struct SliceLaneStats {
    var max: Double
    var min: Double
    var nan: Bool
    var posInf: Int
    /// NaN, +inf or nothing but -inf (or no entries): the row takes the limits of
    /// docs/design.md, "Special values", not the finite formulas.
    var special: Bool { nan || !max.isFinite }
}

@inline(__always)
func sliceLaneStats<T: SoftmaxScalar>(_ x: UnsafePointer<T>, _ s: Slice, min: Bool = false) -> SliceLaneStats {
    let ninf = DV(repeating: -.infinity), inf = DV(repeating: .infinity)
    var m = ninf, lo = inf
    var nan = DV(repeating: 0), infs = DV(repeating: 0)
    var j = 0
    while j < s.n {
        let c = Swift.min(8, s.n - j)
        let v = sliceLanes(x, s, j, c, pad: -.infinity)
        nan = nan.replacing(with: 1, where: v .!= v)
        infs += DV(repeating: 1).replacing(with: 0, where: v .!= inf)
        m = vmax(m, v)
        // The minimum without the padding: the last partial vector read again, padded with +inf.
        if min { lo = vmin(lo, c == 8 ? v : sliceLanes(x, s, j, c, pad: .infinity)) }
        j += 8
    }
    var k = 0.0
    for i in 0..<8 { k += infs[i] }
    return SliceLaneStats(max: hmax(m), min: min ? hmin(lo) : -.infinity, nan: hmax(nan) != 0, posInf: Int(k))
}

/// A lane-wise sum of terms that may be +inf or NaN, folded in a fixed lane order: the
/// compensated total while finite, the plain one otherwise (as `CompensatedSumWithSpecials`).
@inline(__always)
func laneTotal(_ sum: DV, _ comp: DV) -> CompensatedSumWithSpecials {
    var total = CompensatedSumWithSpecials()
    for i in 0..<8 {
        total.add(sum[i])
        if comp[i].isFinite { total.compensated.add(comp[i]) }
    }
    return total
}

/// The slice's log-sum of exp((x - max)/T) as a double-double (sum >= 1: one exact 1 for the
/// maximum), from the lane sum's pair.
@inline(__always)
func logOfSum(_ s: CompensatedSum) -> DoubleDouble.DD {
    let (h, l) = s.pair
    let u = twoSum(h, -1)
    return log1pPair(u.hi, u.lo + l)
}
