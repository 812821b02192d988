// The per-sample arithmetic of cross-entropy, written once for the three paths that compute it:
// the one-piece scalar kernel (`Kernels.crossEntropyScalar`), the tiers' vector kernels (eight
// samples in SIMD lanes, `CrossEntropyTargets.losses`) and the sharded path
// (`crossEntropy(statistics:…)`, `crossEntropyGradient`). The sharded results then differ from
// the one-piece ones only through their inputs (merged statistics against one row's sums), never
// through the formulas or their order of rounding (docs/design.md, "Cross-entropy").
//
// Both target kinds reduce to per-class coefficients c_j >= 0 (for non-negative weights):
//   integer target y:      c_j = (1 - ε) w_y [j == y] + (ε / C) w_j
//   probability target q:  c_j = w_j (q_j (1 - ε) + ε / C)
// and then, with m = max x, z_j = x_j - m <= 0, S = Σ exp(z_j) = 1 + rest, L = log1p(rest) and
// A = Σ c_j:
//   loss = Σ c_j (-log p_j) = A·L + Σ c_j (m - x_j)        (every term >= 0: no cancellation)
//   dloss/dx_j = A p_j - c_j
// At the maximal class, when p_max >= 1/2, the gradient is Σ_{j≠max} c_j - A·rest/S: the
// "p - 1" of the target class never appears, so a confident prediction keeps its digits.
//
// An integer target without smoothing has the single coefficient w_y, and its loss and gradient
// take the shorter label form (`labelLoss`, `labelGradient`), which the vector kernels run in
// lanes and the sharded path one sample at a time. The scalar kernel keeps the coefficient form
// for such samples too (the vector kernels hand it groups that hold a special value): the two
// forms may differ in the last bit, and each path keeps the one its results have always had.
//
// The package types are @usableFromInline: without it their @inlinable members are not inlined
// into the tier modules, and each became a call per element (smoothed cross-entropy 20% slower).

/// The coefficients c_j of one problem's target distribution.
@usableFromInline package struct CrossEntropyCoefficients: Sendable {
    /// 1 - ε: the target's share.
    @usableFromInline package let keep: Double
    /// ε / C: every class's share of the smoothing.
    @usableFromInline package let spread: Double
    /// Whether ε != 0; without smoothing the other classes' weights are never read.
    @usableFromInline package let smoothed: Bool

    /// The coefficients of smoothing ε over C = `classes` classes (the whole class axis).
    @inlinable
    package init(smoothing eps: Double, classes: Int) {
        keep = 1 - eps
        spread = classes > 0 ? eps / Double(classes) : 0
        smoothed = eps != 0
    }

    /// (1 - ε) w_y: the target class's share of an integer target.
    @inlinable @inline(__always)
    package func target(weight wy: Double) -> Double { keep * wy }

    /// c_j of an integer target: cy = (1 - ε) w_y (`target(weight:)`) at the target class, 0
    /// elsewhere, plus (ε / C) w_j when smoothing (w_j is read only then).
    @inlinable @inline(__always)
    package func label(isTarget: Bool, target cy: Double, weight w: @autoclosure () -> Double) -> Double {
        let base = isTarget ? cy : 0
        return smoothed ? base + spread * w() : base
    }

    /// c_j of a probability target q_j with class weight w_j.
    @inlinable @inline(__always)
    package func probability(_ q: Double, weight w: Double) -> Double { w * (q * keep + spread) }

    /// A = Σ c_j of an integer target from Σ_j w_j, for a caller that has only that sum (a shard
    /// of the class axis has not the other shards' weights).
    @inlinable @inline(__always)
    package func total(target cy: Double, weightSum: Double) -> Double { cy + spread * weightSum }
}

/// exp(hi + lo) for a shifted logit (hi + lo = x - m <= 0): exp(hi)·(1 + lo). The correction
/// is a plain multiply-add: lo is below half an ulp of hi, so its product's rounding is far below
/// the result's ulp, and the baseline target has no FMA instruction (addingProduct is a call).
@inlinable @inline(__always)
package func expShifted(_ z: (hi: Double, lo: Double)) -> Double {
    let e = expD(z.hi)
    return z.lo == 0 ? e : e + e * z.lo
}

extension CompensatedSumWithSpecials {
    /// Adds c (m - x) for the shifted logit z = x - m (an exact pair, a zero low part when not
    /// finite): each part's product on its own, so the sum keeps the pair's digits.
    /// A zero coefficient adds nothing, also at a -inf logit, where the product would be
    /// 0·inf = NaN (docs/design.md, "Cross-entropy", special values).
    @inlinable @inline(__always)
    package mutating func addShift(coefficient c: Double, _ z: (hi: Double, lo: Double)) {
        if c == 0 { return }
        add(-(c * z.hi))
        if z.lo != 0 { add(-(c * z.lo)) }
    }
}

/// The loss in coefficient form, A·L + Σ c_j (m - x_j), for A = `total`, L = `logSum` (a pair)
/// and `shift` = Σ c_j (m - x_j).
@inlinable @inline(__always)
package func coefficientLoss(total a: Double, logSum l: (hi: Double, lo: Double), shift: Double) -> Double {
    a * l.hi + (a * l.lo + shift)
}

/// The gradient in coefficient form, A p_j - c_j (before the divisor), of one sample with
/// S = 1 + rest.
@usableFromInline package struct CoefficientGradient {
    /// A = Σ c_j.
    @usableFromInline package let total: Double
    /// rest = S - 1, rounded once.
    @usableFromInline package let rest: Double
    /// S.
    @usableFromInline package let sum: Double
    /// A / S.
    @usableFromInline package let scale: Double
    /// p_max >= 1/2, which holds exactly when rest <= 1: then 1 - p_max is rest / S.
    @usableFromInline package let confident: Bool

    @inlinable @inline(__always)
    package init(total a: Double, rest r: (hi: Double, lo: Double)) {
        total = a
        rest = r.hi + r.lo
        sum = (1 + r.hi) + r.lo
        scale = a / sum
        confident = rest <= 1
    }

    /// At the maximal class, with coefficient c and `others` = Σ_{j≠max} c_j.
    @inlinable @inline(__always)
    package func atMaximum(_ c: @autoclosure () -> Double, others: Double) -> Double {
        confident ? others - total * rest / sum : scale - c()
    }

    /// At any other class, with coefficient c and e = exp(x_j - m).
    @inlinable @inline(__always)
    package func below(expTerm e: Double, _ c: Double) -> Double { scale * e - c }

    /// Where k logits are +inf (the limit): p = 1/k on each of them, 0 elsewhere.
    @inlinable @inline(__always)
    package static func limit(total a: Double, probability p: Double, _ c: Double) -> Double { a * p - c }
}

/// One sample in a `Double`, or eight in the lanes of a `SIMD8<Double>`: the label form below is
/// written once for both, so that the vector kernels' lanes and the scalar callers (the sharded
/// path) run the same operations; a test compares the two instantiations bit for bit.
@usableFromInline package protocol SampleLanes {
    static func + (a: Self, b: Self) -> Self
    static func - (a: Self, b: Self) -> Self
    static func * (a: Self, b: Self) -> Self
    static func / (a: Self, b: Self) -> Self
    static var zero: Self { get }
    static var one: Self { get }
    /// `other` where `probe` is zero, this value elsewhere.
    func replacing(with other: Self, whereZero probe: Self) -> Self
}

extension Double: SampleLanes {
    @inlinable @inline(__always) package static var one: Double { 1 }
    @inlinable @inline(__always)
    package func replacing(with other: Double, whereZero probe: Double) -> Double { probe == 0 ? other : self }
}

extension SIMD8: SampleLanes where Scalar == Double {
    @inlinable @inline(__always) package static var one: SIMD8<Double> { SIMD8(repeating: 1) }
    @inlinable @inline(__always)
    package func replacing(with other: SIMD8<Double>, whereZero probe: SIMD8<Double>) -> SIMD8<Double> {
        replacing(with: other, where: probe .== 0)
    }
}

/// The loss of an integer target without smoothing, w_y (L + (m - x_y)), as
/// w ((L_hi - z_hi) + (L_lo - z_lo)) for z = x_y - m <= 0: two non-negative terms. A zero weight
/// gives 0 also at a -inf target logit, where the product would be 0·inf = NaN: the sum d >= 0
/// is taken as 0 where w + 1/d is 0, that is where w = 0 and d = +inf (a NaN d stays NaN).
@inlinable @inline(__always)
package func labelLoss<V: SampleLanes>(weight w: V, logSum l: (hi: V, lo: V), shift z: (hi: V, lo: V)) -> V {
    let d = (l.hi - z.hi) + (l.lo - z.lo)
    return w * d.replacing(with: .zero, whereZero: w + .one / d)
}

/// The gradient of an integer target without smoothing, for a = w_y / divisor, S = `sum` and
/// rest = S - 1 (both pairs), z_y = x_y - m and e_y = exp(z_y): every class j != y gets
/// `scale`·exp(z_j), the target class gets `target` = -a (S - e_y) / S, where S - e_y is rest
/// itself when the target is maximal (z_y = 0): never 1 - p.
@inlinable @inline(__always)
package func labelGradient<V: SampleLanes>(
    weight a: V, sum s: (hi: V, lo: V), rest r: (hi: V, lo: V), targetShift zy: V, targetExp ey: V
) -> (scale: V, target: V) {
    let full = s.hi + s.lo
    let others = ((s.hi - ey) + s.lo).replacing(with: r.hi + r.lo, whereZero: zy)
    // 0 - a rather than -a: a vector's negation is 0 - a, which gives +0 for a zero weight.
    return (a / full, (.zero - a) * others / full)
}

// MARK: options (docs/design.md, "Cross-entropy options")

/// The soft-capped logit cap·tanh(x/cap) as a pair (hi, lo), and its derivative 1 - tanh²(x/cap).
///
/// Written through r = 1 - tanh|u| = 2E / (1 + E), E = exp(-2|u|), u = x / cap: the capped logit is
/// ±(cap - cap·r) and the slope r (2 - r), which keep their digits where tanh saturates (r tiny),
/// and ±inf gives ±cap with slope 0. The loss of a confident row is about exp(z_c - z_y), so an
/// absolute error δ in a capped logit is a relative error δ in that loss: `precise` (Float64)
/// forms u and r in double-double and E to about 2^-66 (`DoubleDouble.expNear`), which leaves δ
/// near cap·2^-65; otherwise (Float32, whose ulp is 2^-23) plain Double gives δ <= a few cap·2^-53.
@inlinable
package func softcapped(_ x: Double, cap: Double, precise: Bool) -> (hi: Double, lo: Double, slope: Double) {
    if x.isNaN { return (x, 0, x) }
    let sign: Double = x < 0 ? -1 : 1
    let uh = x / cap
    let a = abs(uh)
    // r < 2e^-700 beyond this, cap·r far below any ulp of the capped logit: ±cap, slope 0.
    if a > 350 { return (sign * cap, 0, 0) }
    // Small |u|: cap - cap·r would cancel to an absolute error of cap·2^-53 (cap·2^-106 in
    // double-double), all of a tiny capped logit, which a single class's lse returns as it is.
    // tanh itself is good to an ulp of the result there: below cap·2^-64 where a < 2^-12.
    if a < (precise ? 0x1p-12 : 1) {
        let t = tanhD(uh)
        let h = cap * t
        return (h, (-h).addingProduct(cap, t), 1 - t * t)
    }
    if !precise {
        let e = expD(-2 * a)
        let r = 2 * e / (1 + e)
        return (sign * (cap - cap * r), 0, r * (2 - r))
    }
    // u = uh + ul exactly to double-double: ul is the division's remainder over cap.
    let p = twoProduct(uh, cap)
    let ul = ((x - p.hi) - p.lo) / cap
    let e = DoubleDouble.expNear((-2 * a, -2 * sign * ul))
    let d = DoubleDouble.add((1, 0), e)
    let n = (2 * e.hi, 2 * e.lo)
    // r = n / d in double-double: one correction of the quotient by its residual.
    let q1 = n.0 / d.hi
    let back = DoubleDouble.mul((q1, 0), d)
    let residual = DoubleDouble.add(n, (-back.hi, -back.lo))
    let r = twoSum(q1, residual.hi / d.hi)
    let cr = DoubleDouble.mul((cap, 0), r)
    let c = DoubleDouble.add((cap, 0), (-cr.hi, -cr.lo))
    return (sign * c.hi, sign * c.lo, r.hi * (2 - r.hi))
}
