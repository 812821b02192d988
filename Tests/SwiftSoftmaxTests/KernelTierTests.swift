import Foundation
import SoftmaxCore
import SoftmaxReference
import SwiftSoftmax
import Testing

// Every CPU tier the machine runs, checked against the scalar reference kernels: the same
// special-value pattern everywhere and values within a few ulps, on row walks, short rows,
// column walks, masks and temperatures.

private func tiers() -> [(String, any SoftmaxKernelSet.Type)] {
    Tier.available.map { ($0, Tier.kernels(named: $0)!) }
}


private func input<T: SoftmaxScalar>(_: T.Type, count: Int, seed: UInt64, specials: Bool) -> [T] {
    var g = SplitMix(state: seed)
    return (0..<count).map { _ in
        let u = g.unit()
        if specials {
            if u < 0.02 { return .infinity }
            if u < 0.06 { return -.infinity }
            if u < 0.07 { return .nan }
        }
        return T(rounding: (g.unit() - 0.5) * 40)
    }
}

private func ulps<T: SoftmaxScalar>(_ a: T, _ b: T) -> Double {
    if a.isNaN || b.isNaN { return a.isNaN && b.isNaN ? 0 : .infinity }
    if a == b { return 0 }
    if !a.isFinite || !b.isFinite { return .infinity }
    let scale = Swift.max(abs(a), abs(b), T.leastNormalMagnitude).ulp
    return (abs(a.double - b.double) / scale.double)
}

private func checkTier<T: SoftmaxScalar>(_ k: any SoftmaxKernelSet.Type, _ name: String, _: T.Type) {
    // (2, 33, 72): Float blocks of 16 columns are swept row by row (FloatColumnSweep), the last
    // 8 columns walked in tiles; (1, 1100, 64): a sweep whose sums cross a chunk of rows;
    // (9, 300, 1) and (3, 5000, 1): rows whose exp pass fetches the next row (and the results'
    // row), grouped eight at a time and one by one (`rowsAhead`); (41, 13, 1), (9, 16, 1),
    // (24, 1, 1): short Float rows in Float lanes, two units to a block on AVX-512 with an odd
    // one left; (17, 128, 1): rows whose sums are reduced eight rows at once (`plainTotals`),
    // in two full groups and a group of one.
    let shapes = [(3, 37, 1), (19, 10, 1), (2, 5, 9), (1, 1, 1), (4, 0, 1), (2, 40000, 1), (3, 17, 20),
                  (2, 33, 72), (1, 1100, 64), (9, 300, 1), (3, 5000, 1), (41, 13, 1), (9, 16, 1), (24, 1, 1),
                  (17, 128, 1)]
    for (si, (outer, n, inner)) in shapes.enumerated() {
        let count = outer * n * inner
        let slices = outer * inner
        for specials in [false, true] {
            let x = input(T.self, count: count, seed: UInt64(si * 2 + (specials ? 1 : 0)), specials: specials)
            var g = SplitMix(state: 99)
            let mask = (0..<count).map { _ in UInt8(g.unit() < 0.8 ? 1 : 0) }
            for (masked, t) in [(false, 1.0), (true, 1.0), (false, 0.37)] {
                for log in [false, true] {
                    var ours = [T](repeating: 0, count: count), ref = ours
                    x.withUnsafeBufferPointer { xb in
                        mask.withUnsafeBufferPointer { mb in
                            let m = masked ? mb.baseAddress : nil
                            guard let xp = xb.baseAddress else { return }
                            ours.withUnsafeMutableBufferPointer { o in
                                k.softmax(xp, o.baseAddress!, mask: m, outer: outer, n: n, inner: inner,
                                          units: 0..<k.units(outer: outer, n: n, inner: inner),
                                          temperature: T(rounding: t), log: log)
                            }
                            ref.withUnsafeMutableBufferPointer { o in
                                Reference.softmax(xp, o.baseAddress!, mask: m, n: n, inner: inner,
                                                  slices: 0..<slices, temperature: T(rounding: t), log: log)
                            }
                        }
                    }
                    let errs = zip(ours, ref).map { ulps($0, $1) }
                    let worst = errs.max() ?? 0
                    let at = errs.firstIndex(of: worst) ?? 0
                    #expect(worst <= 4, "at \(at): \(worst > 4 ? "\(ours[at]) vs \(ref[at]), slice input \(x[(at / (n * inner)) * n * inner ..< (at / (n * inner)) * n * inner + n * inner].prefix(40))" : "") \(name) \(T.self) shape \((outer, n, inner)) specials \(specials) masked \(masked) T \(t) log \(log): \(worst) ulp")
                }
                if t == 1 {
                    var ours = [T](repeating: 0, count: slices), ref = ours
                    x.withUnsafeBufferPointer { xb in
                        mask.withUnsafeBufferPointer { mb in
                            let m = masked ? mb.baseAddress : nil
                            let xp = xb.baseAddress ?? UnsafePointer(ours.withUnsafeBufferPointer { $0.baseAddress! })
                            ours.withUnsafeMutableBufferPointer { o in
                                guard let op = o.baseAddress else { return }
                                k.logsumexp(xp, op, mask: m, outer: outer, n: n, inner: inner,
                                            units: 0..<k.units(outer: outer, n: n, inner: inner))
                            }
                            ref.withUnsafeMutableBufferPointer { o in
                                guard let op = o.baseAddress else { return }
                                Reference.logsumexp(xp, op, mask: m, n: n, inner: inner, slices: 0..<slices)
                            }
                        }
                    }
                    let worst = zip(ours, ref).map { ulps($0, $1) }.max() ?? 0
                    #expect(worst <= 4, "\(name) \(T.self) logsumexp shape \((outer, n, inner)) specials \(specials) masked \(masked): \(worst) ulp")
                }
            }
        }
    }
}

@Test(arguments: tiers().map(\.0))
func tierMatchesScalarReference(_ tier: String) {
    let k = tiers().first { $0.0 == tier }!.1
    checkTier(k, tier, Float.self)
    checkTier(k, tier, Double.self)
}

/// float64 rows of 128 classes, whose logarithms of sums are taken eight rows at once
/// (`vlogOfSum`), each row kind beside the others in a group: ordinary rows (sums up to 2^7),
/// rows whose maximum is negative and whose logsumexp cancels to near 0 (taken one by one in
/// double-double), rows holding +inf, NaN or only -inf, and rows of tiny entries (a maximum
/// >= 0, the sum the count of entries). Each row's logsumexp and log-softmax has the bits of the
/// row's own call, and but for the rows that cancel (where the reference, in plain Double, is the
/// less accurate) is the scalar reference's within 2 ulp.
@Test(arguments: tiers().map(\.0))
func groupedDoubleRowsTakeTheirOwnLogarithms(_ tier: String) {
    let k = tiers().first { $0.0 == tier }!.1
    let n = 128, outer = 19
    var g = SplitMix(state: 2026)
    var x = [Double](repeating: 0, count: outer * n)
    for r in 0..<outer {
        for j in 0..<n {
            let u = g.unit()
            switch r % 6 {
            case 0: x[r * n + j] = (u - 0.5) * 40
            case 1: x[r * n + j] = -Foundation.log(Double(n)) + (u - 0.5) * 1e-3
            case 2: x[r * n + j] = j == 5 ? .infinity : u
            case 3: x[r * n + j] = j == 9 ? .nan : u
            case 4: x[r * n + j] = -.infinity
            default: x[r * n + j] = u * 1e-300
            }
        }
    }
    var lse = [Double](repeating: 0, count: outer), lseRef = lse
    var y = x, yRef = x
    x.withUnsafeBufferPointer { xb in
        let units = 0..<k.units(outer: outer, n: n, inner: 1)
        k.logsumexp(xb.baseAddress!, &lse, mask: nil, outer: outer, n: n, inner: 1, units: units)
        Reference.logsumexp(xb.baseAddress!, &lseRef, mask: nil, n: n, inner: 1, slices: 0..<outer)
        y.withUnsafeMutableBufferPointer { o in
            k.softmax(xb.baseAddress!, o.baseAddress!, mask: nil, outer: outer, n: n, inner: 1, units: units,
                      temperature: 1, log: true)
        }
        yRef.withUnsafeMutableBufferPointer { o in
            Reference.softmax(xb.baseAddress!, o.baseAddress!, mask: nil, n: n, inner: 1, slices: 0..<outer,
                              temperature: 1, log: true)
        }
    }
    // Two Doubles apart in ulps of the larger (`ulps` of the same type, which Double names
    // ambiguously here).
    func apart(_ a: Double, _ b: Double) -> Double {
        if a.isNaN || b.isNaN { return a.isNaN && b.isNaN ? 0 : .infinity }
        if a == b { return 0 }
        if !a.isFinite || !b.isFinite { return .infinity }
        return abs(a - b) / Swift.max(abs(a), abs(b), Double.leastNormalMagnitude).ulp
    }
    for r in 0..<outer {
        var alone = [Double](repeating: 0, count: 1), yAlone = [Double](repeating: 0, count: n)
        x.withUnsafeBufferPointer { xb in
            let row = xb.baseAddress! + r * n, units = 0..<k.units(outer: 1, n: n, inner: 1)
            k.logsumexp(row, &alone, mask: nil, outer: 1, n: n, inner: 1, units: units)
            k.softmax(row, &yAlone, mask: nil, outer: 1, n: n, inner: 1, units: units, temperature: 1, log: true)
        }
        #expect(alone[0].bitPattern == lse[r].bitPattern, "\(tier) row \(r) logsumexp: \(lse[r]), alone \(alone[0])")
        #expect(yAlone.map(\.bitPattern) == y[r * n ..< (r + 1) * n].map(\.bitPattern), "\(tier) row \(r) log_softmax")
        if r % 6 == 1 { continue }
        #expect(apart(lse[r], lseRef[r]) <= 2, "\(tier) row \(r) (kind \(r % 6)) logsumexp: \(lse[r]) vs \(lseRef[r])")
        let worst = (0..<n).map { apart(y[r * n + $0], yRef[r * n + $0]) }.max()!
        #expect(worst <= 2, "\(tier) row \(r) (kind \(r % 6)) log_softmax: \(worst) ulp")
    }
}

/// float64 rows whose entries reach down to about 700 below their maximum, where the exp pass
/// stops taking its unclamped form, whose scaling is right only for normal results: every
/// softmax, log-softmax and logsumexp within a few ulps of the scalar reference (as above) on
/// either side, with subnormal and vanishing terms among the others (rows of 1,000 entries,
/// their extremes at the first, middle and last places).
@Test(arguments: tiers().map(\.0))
func doubleRowsAtTheUnclampedExpFloor(_ tier: String) {
    let k = tiers().first { $0.0 == tier }!.1
    let n = 1000
    for spread in [699.0, 699.99, 700.0, 700.01, 708.3, 708.5, 709.8, 720.0, 744.4, 745.1, 745.2, 800.0] {
        var g = SplitMix(state: UInt64(spread * 100))
        var x = (0..<n).map { _ in -g.unit() * spread }
        x[0] = 3
        x[n - 1] = 3 - spread
        x[n / 2] = 3 - 0.999 * spread
        for log in [false, true] {
            var ours = [Double](repeating: 0, count: n), ref = [Double](repeating: 0, count: n)
            x.withUnsafeBufferPointer { xb in
                ours.withUnsafeMutableBufferPointer { o in
                    k.softmax(xb.baseAddress!, o.baseAddress!, mask: nil, outer: 1, n: n, inner: 1,
                              units: 0..<k.units(outer: 1, n: n, inner: 1), temperature: 1, log: log)
                }
                ref.withUnsafeMutableBufferPointer { o in
                    Reference.softmax(xb.baseAddress!, o.baseAddress!, mask: nil, n: n, inner: 1, slices: 0..<1,
                                      temperature: 1, log: log)
                }
            }
            let errs = zip(ours, ref).map { a, b in
                a == b ? 0 : abs(a - b) / Swift.max(abs(a), abs(b), Double.leastNormalMagnitude).ulp
            }
            let worst = errs.max() ?? 0
            let at = errs.firstIndex(of: worst) ?? 0
            #expect(worst <= 4, "\(tier) spread \(spread) log \(log): \(worst) ulp at \(at): \(ours[at]) vs \(ref[at])")
        }
        var lse = 0.0, lseRef = 0.0
        x.withUnsafeBufferPointer { xb in
            k.logsumexp(xb.baseAddress!, &lse, mask: nil, outer: 1, n: n, inner: 1, units: 0..<k.units(outer: 1, n: n, inner: 1))
            Reference.logsumexp(xb.baseAddress!, &lseRef, mask: nil, n: n, inner: 1, slices: 0..<1)
        }
        #expect(abs(lse - lseRef) <= 4 * lseRef.ulp, "\(tier) spread \(spread) logsumexp: \(lse) vs \(lseRef)")
    }
}

/// Short rows: a unit's results do not depend on the units computed with it (two share a vector
/// of Floats on AVX-512) nor on a special row in its neighbour, so any split of the units between
/// threads gives the same bits.
@Test(arguments: tiers().map(\.0))
func shortRowsDoNotDependOnTheSplit(_ tier: String) {
    let k = tiers().first { $0.0 == tier }!.1
    for n in [3, 8, 13, 16] {
        let outer = 45
        var x = input(Float.self, count: outer * n, seed: UInt64(n), specials: false)
        x[20 * n + 1] = .nan  // unit 2
        x[42 * n] = .infinity  // unit 5
        let units = k.units(outer: outer, n: n, inner: 1)
        for log in [false, true] {
            @inline(__always) func run(_ ranges: [Range<Int>]) -> [Float] {
                var y = [Float](repeating: 0, count: outer * n)
                x.withUnsafeBufferPointer { xb in
                    y.withUnsafeMutableBufferPointer { yb in
                        for r in ranges {
                            k.softmax(xb.baseAddress!, yb.baseAddress!, mask: nil, outer: outer, n: n, inner: 1, units: r,
                                      temperature: 1, log: log)
                        }
                    }
                }
                return y
            }
            let whole = run([0..<units])
            for cut in 1..<units {
                let split = run([0..<cut, cut..<units])
                #expect(zip(whole, split).allSatisfy { $0.bitPattern == $1.bitPattern }, "\(tier) n \(n) log \(log) cut \(cut)")
            }
        }
    }
}

@Test func theChosenTierIsAvailable() {
    #expect(Tier.available.contains(Tier.name))
    #expect(Tier.available.first == "baseline")
}

/// The build's tiers are the rows of the tier table (those of this architecture), in its order,
/// and every row has its kernels and a CPU test the detection knows.
@Test func theTierTableIsTheListOfTiers() throws {
    let table = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Sources/Tiers/tiers.def").standardized
    let rows = try String(contentsOf: table, encoding: .utf8).split(separator: "\n")
        .filter { $0.hasPrefix("SSM_TIER(") }
        .map { $0.dropFirst("SSM_TIER(".count).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
    let names = rows.map { $0[0] }
    // Every built tier is a row, in the table's order; the rows for any architecture are built,
    // and on x86-64 the x86_64 rows too.
    #expect(!Tier.names.isEmpty)
    #expect(names.filter(Tier.names.contains) == Tier.names)
    #if SSM_TIERED_BUILD
    #expect(rows.filter { $0[1] == "any" }.allSatisfy { Tier.names.contains($0[0]) })
    #if arch(x86_64)
    #expect(rows.filter { $0[1] == "x86_64" }.allSatisfy { Tier.names.contains($0[0]) })
    #endif
    #else
    // The portable build (docs/design.md, "Builds"): only the rows that need no target CPU.
    #expect(Tier.names == rows.filter { $0[1] == "any" && $0[2] == "\"\"" }.map { $0[0] })
    #endif
    #expect(Tier.brokenRows.isEmpty, "\(Tier.brokenRows)")
    for name in Tier.available { #expect(Tier.kernels(named: name) != nil) }
}

/// Every tier's VJP kernels against the scalar reference: the same special values (exact zeros
/// where y = 0 or a logy slice is all -inf, NaN and infinities where the reference has them)
/// and values within the normwise bound of the VJPs (python/tests/test_derivatives.py), twice
/// over since both sides carry an error; in place (dx = g) the same bits. Rows of 17 to 129
/// entries, eight or more of them, go through the Float rows' loop (`vjpRowsFloat`): tails of
/// every length against sixteen Float lanes, a row whose logy starts with twenty -inf (handed to
/// the row function) and a logy above 0 in the middle of a row (finished in Double lanes).
private func checkTierVJP<T: SoftmaxScalar>(_ k: any SoftmaxKernelSet.Type, _ name: String, _: T.Type) {
    let shapes = [(3, 37, 1), (19, 10, 1), (9, 16, 1), (8, 1, 1), (2, 5, 9), (1, 1, 1), (4, 0, 1), (2, 4001, 1),
                  (3, 17, 20), (2, 33, 72), (1, 1100, 64), (5, 3, 3), (12, 128, 1), (9, 17, 1), (10, 24, 1),
                  (8, 31, 1), (11, 33, 1), (9, 47, 1), (8, 129, 1)]
    for (si, (outer, n, inner)) in shapes.enumerated() {
        let count = outer * n * inner
        let slices = outer * inner
        for specials in [false, true] {
            var x = input(T.self, count: count, seed: UInt64(100 + si * 2 + (specials ? 1 : 0)), specials: specials)
            // One slice all -inf, one with a single finite entry.
            if specials && n > 0 {
                for i in 0..<n { x[i * inner] = -.infinity }
                if slices > 1 { for i in 0..<n { x[i * inner + (inner > 1 ? 1 : n)] = i == n / 2 ? 1 : -.infinity } }
                if inner == 1 && slices > 2 && n > 20 { for i in 0..<20 { x[2 * n + i] = -.infinity } }
            }
            var gen = SplitMix(state: UInt64(7 + si))
            let g: [T] = (0..<count).map { _ in
                let u = gen.unit()
                if specials && u < 0.01 { return .nan }
                if specials && u < 0.02 { return u < 0.015 ? .infinity : -.infinity }
                return T(rounding: (gen.unit() - 0.5) * 8)
            }
            for t in [1.0, 0.37, 3.0] {
                for log in [false, true] {
                    var y = [T](repeating: 0, count: count)
                    x.withUnsafeBufferPointer { xb in
                        y.withUnsafeMutableBufferPointer { yb in
                            guard let xp = xb.baseAddress else { return }
                            Reference.softmax(xp, yb.baseAddress!, mask: nil, n: n, inner: inner, slices: 0..<slices,
                                              temperature: T(rounding: t), log: log)
                        }
                    }
                    if log && inner == 1 && slices > 3 && n > 40 { y[3 * n + 40] = 0.5 }
                    var ours = [T](repeating: 0, count: count), ref = ours, inPlace = g
                    y.withUnsafeBufferPointer { yb in
                        g.withUnsafeBufferPointer { gb in
                            guard let yp = yb.baseAddress, let gp = gb.baseAddress else { return }
                            let units = 0..<k.units(outer: outer, n: n, inner: inner)
                            ours.withUnsafeMutableBufferPointer { o in
                                k.vjp(yp, gp, o.baseAddress!, outer: outer, n: n, inner: inner, units: units,
                                      temperature: T(rounding: t), log: log)
                            }
                            inPlace.withUnsafeMutableBufferPointer { o in
                                k.vjp(yp, UnsafePointer(o.baseAddress!), o.baseAddress!, outer: outer, n: n, inner: inner,
                                      units: units, temperature: T(rounding: t), log: log)
                            }
                            ref.withUnsafeMutableBufferPointer { o in
                                Reference.vjp(yp, gp, o.baseAddress!, n: n, inner: inner, slices: 0..<slices,
                                              temperature: T(rounding: t), log: log)
                            }
                        }
                    }
                    let what = "\(name) \(T.self) vjp shape \((outer, n, inner)) specials \(specials) T \(t) log \(log)"
                    #expect(zip(ours, inPlace).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }, "in place: \(what)")
                    let eps = T.ulpOfOne.double
                    for s in 0..<slices {
                        let o = s / inner, j = s - o * inner
                        let idx = (0..<n).map { o * n * inner + $0 * inner + j }
                        let p = idx.map { log ? expD(y[$0].double) : y[$0].double }
                        let dot = zip(idx, p).reduce(0.0) { $1.1 == 0 ? $0 : $0 + abs(g[$1.0].double * $1.1) }
                        let sum = idx.reduce(0.0) { $0 + abs(g[$1].double) }
                        // An infinite g where p = 0 leaves the other entries finite (softmax's are
                        // y(g - d) over the rest, and its own is exactly 0): it stays out of the scale.
                        let scale = zip(idx, p).map { i, p in
                            p == 0 ? (abs(g[i].double).isFinite ? abs(g[i].double) : 0)
                                : log ? abs(g[i].double) + p * sum : p * (abs(g[i].double) + dot)
                        }.max() ?? 0
                        for (i, pi) in zip(idx, p) {
                            let a = ours[i], b = ref[i]
                            if b.isNaN || !b.isFinite || (b == 0 && pi == 0) || !scale.isFinite {
                                #expect(a == b || (a.isNaN && b.isNaN), "at \(i): \(a) vs \(b): \(what)")
                            } else {
                                let err = abs(a.double - b.double)
                                #expect(err <= 4 * eps * scale / t, "at \(i): \(a) vs \(b), scale \(scale): \(what)")
                            }
                        }
                    }
                }
            }
        }
    }
}

@Test(arguments: tiers().map(\.0))
func tierVJPMatchesScalarReference(_ tier: String) {
    let k = tiers().first { $0.0 == tier }!.1
    checkTierVJP(k, tier, Float.self)
    checkTierVJP(k, tier, Double.self)
}

/// Float rows long enough to go by segments (`softmaxRowsFloat` hands rows of more than 65,536
/// entries to `segmentedExpSum`, 32,768 to a segment): each segment summed relative to its own
/// maximum and brought to the row's, within a few ulps of the scalar reference as above, for
/// softmax, log-softmax and logsumexp. The rows: the maximum in the last segment; a tie of it in
/// two segments; confident rows, whose log rest is small (and one below 2^-90, which the general
/// walk takes); a segment whose extremes need the power-of-two shift; unshifted segments whose
/// scale is subnormal as a Float while their results are not; special values in a later
/// segment (NaN, +inf) or a segment only -inf, which send the row to the general walk after
/// earlier segments stored their terms; and the same rows in place.
@Test(arguments: tiers().map(\.0))
func longFloatRowsBySegments(_ tier: String) {
    let k = tiers().first { $0.0 == tier }!.1
    let n = 2 * 32768 + 4464
    var g = SplitMix(state: 7)
    let normal = (0..<n).map { _ in Float((g.unit() - 0.5) * 12) }
    var rows: [(String, [Float])] = []
    var r = normal; r[n - 10] = 9; rows.append(("max in the last segment", r))
    r = normal; r[100] = 9; r[40000] = 9; rows.append(("tie across segments", r))
    r = normal.map { $0 - 60 }; r[50000] = 0; rows.append(("confident", r))
    r = normal.map { $0 - 200 }; r[50000] = 0; rows.append(("confident below 2^-90", r))
    r = normal; r[1000] = 70; for i in 33000..<34000 { r[i] = -20 - Float(i % 7) }; r[66000] = 60
    rows.append(("power-of-two shift", r))
    // Segments summed unshifted (entries within [-80, 32]) below a maximum of 100 elsewhere: their
    // scale e^-100 is subnormal as a Float, their results e^-80 normal.
    r = normal.map { $0 + 20 }; r[10] = 100; rows.append(("unshifted segments far below the maximum", r))
    r = normal; r[n - 5] = .nan; rows.append(("NaN in the last segment", r))
    r = normal; r[40000] = .infinity; rows.append(("+inf in a later segment", r))
    r = normal; for i in 0..<32768 { r[i] = -.infinity }; rows.append(("first segment -inf", r))
    for (name, x) in rows {
        for log in [false, true] {
            for inPlace in [false, true] {
                var ours = inPlace ? x : [Float](repeating: 0, count: n), ref = [Float](repeating: 0, count: n)
                x.withUnsafeBufferPointer { xb in
                    ours.withUnsafeMutableBufferPointer { o in
                        k.softmax(inPlace ? UnsafePointer(o.baseAddress!) : xb.baseAddress!, o.baseAddress!, mask: nil,
                                  outer: 1, n: n, inner: 1, units: 0..<k.units(outer: 1, n: n, inner: 1), temperature: 1, log: log)
                    }
                    ref.withUnsafeMutableBufferPointer { o in
                        Reference.softmax(xb.baseAddress!, o.baseAddress!, mask: nil, n: n, inner: 1, slices: 0..<1,
                                          temperature: Float(1), log: log)
                    }
                }
                let errs = zip(ours, ref).map { ulps($0, $1) }
                let worst = errs.max() ?? 0
                let at = errs.firstIndex(of: worst) ?? 0
                #expect(worst <= 4, "\(tier) \(name) log \(log) in place \(inPlace): \(worst) ulp at \(at): \(ours[at]) vs \(ref[at])")
            }
        }
        var lse: Float = 0, lseRef: Float = 0
        x.withUnsafeBufferPointer { xb in
            k.logsumexp(xb.baseAddress!, &lse, mask: nil, outer: 1, n: n, inner: 1, units: 0..<k.units(outer: 1, n: n, inner: 1))
            Reference.logsumexp(xb.baseAddress!, &lseRef, mask: nil, n: n, inner: 1, slices: 0..<1)
        }
        #expect(ulps(lse, lseRef) <= 4, "\(tier) \(name) logsumexp: \(lse) vs \(lseRef)")
    }
}

/// float64 softmax and log-softmax VJP rows of a call large enough to write its results with
/// streaming stores (AVX-512; y, g and dx beyond 64 MiB, 32 MiB for log-softmax): the same bits
/// as the same rows one call each, which stores them ordinarily, into an array at a 64-byte
/// boundary, one 8 bytes past it (each row's head and tail apart), and in place over g; entries
/// with y = 0 (logy = -inf) included, and for log-softmax a positive and a NaN logy (the scalar
/// exp's lanes).
@Test(arguments: tiers().map(\.0), [false, true])
func largeDoubleVJPStreamsTheSameBits(_ tier: String, _ log: Bool) {
    let k = tiers().first { $0.0 == tier }!.1
    let outer = 720, n = 3901, count = outer * n
    var gen = SplitMix(state: 5)
    let y = (0..<count).map { i -> Double in
        let p = i % 11 == 0 ? 0 : expD(-gen.unit() * 20) / Double(n)
        guard log else { return p }
        return i % 1013 == 5 ? 0.25 : (i % 2039 == 7 ? .nan : logD(p))
    }
    let g = (0..<count).map { _ in gen.unit() - 0.5 }
    var byRow = [Double](repeating: 0, count: count)
    y.withUnsafeBufferPointer { yb in
        g.withUnsafeBufferPointer { gb in
            byRow.withUnsafeMutableBufferPointer { o in
                for r in 0..<outer {
                    k.vjp(yb.baseAddress! + r * n, gb.baseAddress! + r * n, o.baseAddress! + r * n, outer: 1, n: n, inner: 1,
                          units: 0..<k.units(outer: 1, n: n, inner: 1), temperature: 1, log: log)
                }
            }
        }
    }
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: (count + 8) * 8, alignment: 64)
    defer { buffer.deallocate() }
    for offset in [0, 1, -1] {
        let dx = buffer.assumingMemoryBound(to: Double.self) + Swift.max(offset, 0)
        if offset < 0 { dx.update(from: g, count: count) }
        y.withUnsafeBufferPointer { yb in
            g.withUnsafeBufferPointer { gb in
                k.vjp(yb.baseAddress!, offset < 0 ? UnsafePointer(dx) : gb.baseAddress!, dx, outer: outer, n: n, inner: 1,
                      units: 0..<k.units(outer: outer, n: n, inner: 1), temperature: 1, log: log)
            }
        }
        let same = (0..<count).allSatisfy { dx[$0].bitPattern == byRow[$0].bitPattern }
        #expect(same, "\(tier) log \(log) offset \(offset)")
    }
}
