import SoftmaxCore
import SoftmaxReference
import SwiftSoftmax
import Testing

// Every CPU tier's normalize against the scalar reference (Reference.normalize), bitwise: the
// same compensated sum rounded to one Double and the same single rounding of the quotient
// (docs/design.md, "Kernels"); Float rows on the FMA tiers within one ulp. Hostile slices
// (zeros, sums that cancel to 0, ±inf, NaN, subnormals, huge values, neighbouring rows on
// different paths, entries outside the fast quotient's range) on every walk: rows of 0...40
// elements, short rows, column blocks (swept in Float lanes or not, a single row among them),
// a row longer than the two-chain loop's unroll; out of place, in place, and with the units
// split as threads split them.


/// The kinds of slice: each slice of a test array is filled with one, by its index.
private enum Kind: CaseIterable { case positive, mixed, cancelling, zeros, specials, subnormal, huge, midpoint, rowsApart, outsideRange, tinySums }

/// Element i of a slice of `n` of kind `kind` (`s`: the slice's index, varying the specials).
private func value<T: SoftmaxScalar>(_: T.Type, _ kind: Kind, _ s: Int, _ i: Int, _ n: Int, _ g: inout SplitMix) -> T {
    let u = g.unit()
    switch kind {
    case .positive: return T(rounding: u * 100)
    case .mixed: return T(rounding: (u - 0.3) * 60)
    case .cancelling:
        // Pairs a, -a (the last of an odd count 0): the exact sum is 0, so every result is
        // ±inf or NaN by IEEE division.
        if i == n - 1 && n % 2 == 1 { return 0 }
        var h = SplitMix(state: UInt64(s * 1000 + i / 2))
        let a = T(rounding: (h.unit() + 0.01) * 1e3)
        return i % 2 == 0 ? a : -a
    case .zeros: return i % 3 == 1 ? -0.0 : 0
    case .specials:
        let pick = [T.infinity, -T.infinity, T.nan]
        switch (s % 4, i) {
        case (0, 0), (2, 0): return pick[0]
        case (1, 1), (2, 2): return pick[1]
        case (3, 1): return pick[2]
        default: return T(rounding: (u - 0.5) * 10)
        }
    case .subnormal:
        let k = T(rounding: (u * 2000).rounded() - 700)
        return k * T.leastNonzeroMagnitude
    case .huge: return T.greatestFiniteMagnitude / 64 * T(rounding: u - 0.25)
    case .midpoint:
        // x[0] / Σx within 2^-53 of a midpoint between two Floats: x[0] = a, and three more
        // Floats that make the sum exactly b = RN(a / M) for a midpoint M. A product by the
        // reciprocal in place of the division rounds to the other Float in about one slice of
        // eight, which this catches (docs/performance.md, "What made it fast").
        guard n >= 4, i < 4 else { return T(rounding: i < 4 ? u : 0) }
        var h = SplitMix(state: UInt64(s) &* 7919 &+ 17)
        let a = Double(Float(1 + h.unit()))
        let f = Float(0.25 + 0.25 * h.unit())
        let m = Double(f) + Double(f.ulp) / 2
        let b = a / m
        let c1 = Double(Float(b - a)), c2 = Double(Float((b - a) - c1)), c3 = Double(Float(((b - a) - c1) - c2))
        return T(rounding: [a, c1, c2, c3][i])
    case .rowsApart:
        // Neighbouring rows on different paths, within one group of eight Float rows: positive,
        // one negative entry, a sum below 2^-100 (Normalize.swift, `normalizeRowsFloat`).
        switch s % 3 {
        case 0: return T(rounding: u * 100)
        case 1: return i == n / 2 ? -1 : T(rounding: u * 100)
        default: return T(rounding: u * 0x1p-120)
        }
    case .tinySums:
        // Nonnegative slices, every other one summing far below 2^-100: a Float scale that
        // would overflow, which sends the row, or the whole column block, to the Double walk.
        return T(rounding: s % 2 == 0 ? u * 0x1p-140 : u)
    case .outsideRange:
        // Double entries below Markstein's quotient's range (2^-900) beside zeros and ordinary
        // entries: each vector holding one divides (Normalize.swift, `vdividebysum`).
        if i % 5 == 2 { return T(rounding: u * 0x1p-950) }
        return i % 7 == 3 ? 0 : T(rounding: u)
    }
}

private func same<T: SoftmaxScalar>(_ a: T, _ b: T) -> Bool {
    (a.isNaN && b.isNaN) || a.double.bitPattern == b.double.bitPattern
}

/// Finite a and b of the same sign at most one ulp apart.
private func oneUlpApart<T: SoftmaxScalar>(_ a: T, _ b: T) -> Bool {
    let x = Float(a.double), y = Float(b.double)
    return x.isFinite && y.isFinite && (x == y || x.nextUp == y || x.nextDown == y)
}

private func checkNormalize<T: SoftmaxScalar>(_ k: any SoftmaxKernelSet.Type, _ tier: String, _: T.Type) {
    var shapes: [(Int, Int, Int)] = []
    for n in 0...40 { shapes += [(1, n, 1), (9, n, 1)] }
    shapes += [(3, 7, 5), (2, 13, 40), (2, 9, 300), (1, 3, 1030), (3, 1000, 1), (1, 40000, 1), (20, 130, 1), (17, 64, 1),
               (1, 1, 256), (1, 5, 1024), (2, 37, 512)]
    for (si, (outer, n, inner)) in shapes.enumerated() {
        for kind in Kind.allCases {
            let count = outer * n * inner, slices = outer * inner
            var g = SplitMix(state: UInt64(si * 31 + 7))
            var x = [T](repeating: 0, count: count)
            for s in 0..<slices {
                let o = s / inner, j = s % inner
                for i in 0..<n { x[o * n * inner + i * inner + j] = value(T.self, kind, s, i, n, &g) }
            }
            var ref = [T](repeating: 0, count: count), ours = ref, split = ref, inPlace = x
            let units = k.units(outer: outer, n: n, inner: inner)
            x.withUnsafeBufferPointer { xb in
                guard let xp = xb.baseAddress else { return }
                ref.withUnsafeMutableBufferPointer { Reference.normalize(xp, $0.baseAddress!, n: n, inner: inner, slices: 0..<slices) }
                ours.withUnsafeMutableBufferPointer {
                    k.normalize(xp, $0.baseAddress!, outer: outer, n: n, inner: inner, units: 0..<units)
                }
                split.withUnsafeMutableBufferPointer { b in
                    for r in [0..<units / 3, units / 3..<units] {
                        k.normalize(xp, b.baseAddress!, outer: outer, n: n, inner: inner, units: r)
                    }
                }
            }
            inPlace.withUnsafeMutableBufferPointer { b in
                guard let p = b.baseAddress else { return }
                k.normalize(UnsafePointer(p), p, outer: outer, n: n, inner: inner, units: 0..<units)
            }
            let what = "\(tier) \(T.self) normalize shape \((outer, n, inner)) \(kind)"
            // Float rows of nonnegative entries on the FMA tiers scale by the reciprocal in Float
            // lanes, and so do column blocks of a multiple of sixteen columns (ColumnBlock's
            // widths: 8 * min(128, max(1, (inner + 7) / 32)) columns, the last one what is left):
            // within one ulp of the reference (Normalize.swift, `normalizeRowsFloat` and
            // `normalizeFloat`).
            let width = 8 * Swift.min(128, Swift.max(1, (inner + 7) / 32))
            @inline(__always) func swept(_ e: Int) -> Bool {
                let j = e % inner
                return Swift.min(width, inner - j / width * width) % 16 == 0
            }
            let scaled = T.self == Float.self && tier != "baseline"
            let bad = (0..<count).first {
                !same(ours[$0], ref[$0]) && !(scaled && (inner == 1 || swept($0)) && oneUlpApart(ours[$0], ref[$0]))
            }
            #expect(bad == nil, "\(what): at \(bad ?? 0): x = \(bad.map { x[$0] } ?? 0), \(bad.map { ours[$0] } ?? 0) vs \(bad.map { ref[$0] } ?? 0)")
            #expect(zip(inPlace, ours).allSatisfy { same($0, $1) }, "\(what): in place differs")
            #expect(zip(split, ours).allSatisfy { same($0, $1) }, "\(what): split units differ")
        }
    }
}

@Test(arguments: Tier.available)
func tierNormalizeMatchesScalarReference(_ tier: String) {
    let k = Tier.kernels(named: tier)!
    checkNormalize(k, tier, Float.self)
    checkNormalize(k, tier, Double.self)
}
