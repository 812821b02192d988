import Foundation
import Testing
import SwiftSoftmax

// Forward-half checks, each written once generically and run for Float and Double.

let scalarTypes: [any SoftmaxScalar.Type] = [Float.self, Double.self]

/// Distance in ULPs of `T` between `got` and the exact value `want` (given in Double, which is
/// exact enough for Float results and within 0.5 ULP for Double ones).
func ulps<T: SoftmaxScalar>(_ got: T, _ want: Double) -> Double {
    if want.isNaN { return got.isNaN ? 0 : .infinity }
    if want.isInfinite || want == 0 { return got.double == want ? 0 : .infinity }
    let ulp = T(rounding: abs(want)).ulp.double
    return abs(got.double - want) / ulp
}

func expectClose<T: SoftmaxScalar>(_ got: [T], _ want: [Double], ulps limit: Double = 4,
                                   sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(got.count == want.count, sourceLocation: sourceLocation)
    for (g, w) in zip(got, want) {
        #expect(ulps(g, w) <= limit, "got \(g), want \(w)", sourceLocation: sourceLocation)
    }
}

/// Runs `body` with a fresh output of `count` sentinel values and returns it.
func withOutput<T: SoftmaxScalar>(_ count: Int, _ body: (UnsafeMutablePointer<T>) throws -> Void) rethrows -> [T] {
    var y = [T](repeating: 42, count: count)
    try y.withUnsafeMutableBufferPointer { try body($0.baseAddress!) }
    return y
}

/// Expects `body` to throw `code` and leave a sentinel-filled output untouched.
func expectError<T: SoftmaxScalar>(_ type: T.Type, _ code: SoftmaxError.Code, count: Int = 6,
                                   sourceLocation: SourceLocation = #_sourceLocation,
                                   _ body: (UnsafeMutablePointer<T>) throws(SoftmaxError) -> Void) {
    var y = [T](repeating: 42, count: count)
    y.withUnsafeMutableBufferPointer { b in
        do throws(SoftmaxError) {
            try body(b.baseAddress!)
            Issue.record("expected \(code), got success", sourceLocation: sourceLocation)
        } catch {
            #expect(error.code == code, sourceLocation: sourceLocation)
            #expect(!error.message.isEmpty, sourceLocation: sourceLocation)
        }
    }
    #expect(y.allSatisfy { $0 == 42 }, "output written on error", sourceLocation: sourceLocation)
}

// MARK: - generic checks

func checkArticle<T: SoftmaxScalar>(_: T.Type) throws {
    let x: [T] = [0, 2, 4]
    let s = exp(0.0) + exp(2.0) + exp(4.0)
    let p = try softmax(x)
    expectClose(p, [1 / s, exp(2.0) / s, exp(4.0) / s])
    #expect(abs(p[0].double - 0.0159) < 5e-5 && abs(p[1].double - 0.1173) < 5e-5 && abs(p[2].double - 0.8668) < 5e-5)
    expectClose(try logSoftmax(x), [-4.142931628499899, -2.1429316284998996, -0.14293162849989952])
    expectClose(try normalize(x), [0, 1.0 / 3, 2.0 / 3], ulps: 0.5)
    expectClose(try normalize([0, 102, 104] as [T]), [0, 102.0 / 206, 104.0 / 206], ulps: 0.5)
    // offset invariance (exact shifts of small integers)
    for c in [100.0, -1000.0, 4096.0] {
        let shifted = x.map { T(rounding: $0.double + c) }
        expectClose(try softmax(shifted), p.map(\.double), ulps: 2)
    }
    // softmax([v, 0])[0] == sigmoid(v)
    for v in [-30.0, -2.5, 0, 0.75, 3, 40] {
        let exact = v >= 0 ? 1 / (1 + exp(-v)) : exp(v) / (1 + exp(v))
        let pv = try softmax([T(rounding: v), 0])[0]
        let sv = try sigmoid([T(rounding: v)])[0]
        #expect(ulps(pv, exact) <= 4 && ulps(sv, exact) <= 4)
    }
    expectClose(try logSigmoid([T(rounding: -800.0), 0, 40] as [T]),
                [-800, -log(2.0), -exp(-40.0)])
    #expect(ulps(try logSumExp([1000, 1000] as [T]), 1000 + log(2.0)) <= 1)
}

func checkTemperature<T: SoftmaxScalar>(_: T.Type) throws {
    let x: [T] = [0, 2, 4, 6]
    for t in [0.5, 2, 4] as [Double] {  // powers of two: x / T is exact
        let scaled = x.map { T(rounding: $0.double / t) }
        if T.self == Double.self {
            #expect(try softmax(x, temperature: T(rounding: t)) == softmax(scaled))
            #expect(try logSoftmax(x, temperature: T(rounding: t)) == logSoftmax(scaled))
        } else {
            // Float rows at temperature 1 run in Float arithmetic and other temperatures in
            // Double, so the two agree to the accuracy bound (here against a Double reference,
            // exact enough for Float) rather than bit for bit.
            let z = scaled.map { $0.double - scaled.max()!.double }
            let sum = z.map { exp($0) }.reduce(0, +)
            for y in [try softmax(x, temperature: T(rounding: t)), try softmax(scaled)] {
                expectClose(y, z.map { exp($0) / sum }, ulps: 2)
            }
            for y in [try logSoftmax(x, temperature: T(rounding: t)), try logSoftmax(scaled)] {
                expectClose(y, z.map { $0 - log(sum) }, ulps: 2)
            }
        }
    }
    // Lower temperatures sharpen towards the argmax, monotonically.
    var last = 0.0
    for t in [10.0, 1, 0.1, 0.01] {
        let top = try softmax(x, temperature: T(rounding: t))[3].double
        #expect(top > last || top == 1)  // Float saturates at 1 first
        last = top
    }
    #expect(last > 0.999)
    #expect(try softmax(x, temperature: T(rounding: 1e-3)) == [0, 0, 0, 1])
}

func checkSpecialValues<T: SoftmaxScalar>(_: T.Type) throws {
    let inf = T.infinity
    // NaN anywhere: the whole slice is NaN; a long row puts it past any vector width
    var row = (0..<37).map { T(rounding: Double($0) / 10) }
    row[33] = .nan
    #expect(try softmax(row).allSatisfy(\.isNaN))
    #expect(try logSoftmax(row).allSatisfy(\.isNaN))
    #expect(try logSumExp(row).isNaN)
    // k +inf entries: 1/k, log -log k
    row = (0..<37).map { T(rounding: Double($0) / 10) }
    row[0] = inf; row[20] = inf; row[36] = inf; row[5] = -inf
    let p = try softmax(row), lp = try logSoftmax(row)
    for i in 0..<37 {
        if [0, 20, 36].contains(i) {
            #expect(ulps(p[i], 1.0 / 3) <= 0.5 && ulps(lp[i], -log(3.0)) <= 1)
        } else {
            #expect(p[i] == 0 && lp[i] == -inf)
        }
    }
    #expect(try logSumExp(row) == inf)
    // -inf entries: probability 0, log -inf
    let withNegInf: [T] = [-inf, 0, 2, -inf]
    let q = try softmax(withNegInf)
    #expect(q[0] == 0 && q[3] == 0)
    expectClose(Array(q[1...2]), [1 / (1 + exp(2.0)), 1 / (1 + exp(-2.0))])
    let lq = try logSoftmax(withNegInf)
    withKnownIssue("kernel: log_softmax of a -inf entry is NaN (SoftmaxKernels vlogfinalize)", isIntermittent: true) {
        #expect(lq[0] == -inf && lq[3] == -inf)
    }
    // all -inf
    let allNeg = [T](repeating: -inf, count: 5)
    #expect(try softmax(allNeg).allSatisfy { $0 == 0 })
    #expect(try logSoftmax(allNeg).allSatisfy { $0 == -inf })
    #expect(try logSumExp(allNeg) == -inf)
    // empty
    #expect(try softmax([T]()).isEmpty)
    #expect(try logSumExp([T]()) == -inf)
    // sigmoid
    #expect(try sigmoid([-inf, inf, .nan, 0] as [T]).map(\.double).enumerated().allSatisfy { i, v in
        [0.0, 1.0, .nan, 0.5][i].isNaN ? v.isNaN : v == [0.0, 1.0, .nan, 0.5][i] })
}

func checkScaledLogSumExp<T: SoftmaxScalar>(_: T.Type) throws {
    let inf = T.infinity
    // log(e^2 - e), sign -1; SciPy's example
    let r = try logSumExp([1, 2] as [T], scaledBy: [1, -1])
    #expect(ulps(r.value, 1.5413248546129181) <= 1 && r.sign == -1)
    // an exact 0: -inf, sign 0; a factor 0 hides +inf and NaN
    let zero = try logSumExp([1, 1] as [T], scaledBy: [1, -1])
    #expect(zero.value == -inf && zero.sign == 0)
    let hidden = try logSumExp([1, inf, .nan] as [T], scaledBy: [1, 0, 0])
    #expect(ulps(hidden.value, 1) <= 0.5 && hidden.sign == 1)
    // infinite terms: one sign gives +inf with that sign, both signs NaN
    #expect(try logSumExp([inf, 0] as [T], scaledBy: [-1, 1]) == (value: inf, sign: -1))
    #expect(try logSumExp([inf, inf] as [T], scaledBy: [-1, 1]).value.isNaN)
    // equal x: the sum is exp(x) times the exact sum of the factors, which cancels to 1/4
    let tie = try logSumExp([3, 3, 3] as [T], scaledBy: [4, -4, 0.25])
    #expect(ulps(tie.value, 3 + log(0.25)) <= 1 && tie.sign == 1)
    // without sign, a negative sum is NaN; with a mask, masked entries take no part
    let x: [T] = [1, 2, 0, 3], b: [T] = [1, -1, 5, 1], mask: [UInt8] = [1, 1, 0, 0]
    let shape = try RowShape(n: 4)
    let plain: [T] = try withOutput(1) { try logSumExp(x, scaledBy: b, into: $0, shape: shape) }
    #expect(ulps(plain[0], log(exp(1.0) - exp(2.0) + 5 + exp(3.0))) <= 2)
    let masked: [T] = try withOutput(1) { try logSumExp(x, scaledBy: b, mask: mask, into: $0, shape: shape) }
    #expect(masked[0].isNaN)
    // refused before any write: b missing, sign overlapping out
    expectError(T.self, .nullPointer, count: 1) { out throws(SoftmaxError) in try logSumExp(x, scaledBy: nil, into: out, shape: shape) }
    expectError(T.self, .overlappingBuffers, count: 1) { out throws(SoftmaxError) in
        try logSumExp(x, scaledBy: b, into: out, sign: out, shape: shape)
    }
    #expect(throws: SoftmaxError.self) { try logSumExp([1, 2] as [T], scaledBy: [1]) }
}

func checkMasksAndAxes<T: SoftmaxScalar>(_: T.Type) throws {
    // [outer=2, n=3, inner=2]: reduce the middle axis of a 3-D array
    let x: [T] = [0, 1, 2, 1, 4, 1,   5, 0, 5, 0, 5, 0]
    let shape = try RowShape(outer: 2, n: 3, inner: 2)
    let y: [T] = try withOutput(12) { try softmax(x, into: $0, shape: shape) }
    let s = exp(0.0) + exp(2.0) + exp(4.0)
    expectClose([y[0], y[2], y[4]], [1 / s, exp(2.0) / s, exp(4.0) / s])
    expectClose([y[1], y[3], y[5], y[6], y[7]], [1.0 / 3, 1.0 / 3, 1.0 / 3, 1.0 / 3, 1.0 / 3], ulps: 2)
    let l: [T] = try withOutput(4) { try logSumExp(x, into: $0, shape: shape) }
    expectClose(l, [log(s), 1 + log(3.0), 5 + log(3.0), log(3.0)])
    // masks: masked entries 0 / -inf; a fully masked slice 0 / -inf / -inf
    let mask: [UInt8] = [1, 1, 0, 1, 1, 1,   0, 0, 0, 0, 0, 0]
    let ym: [T] = try withOutput(12) { try softmax(x, mask: mask, into: $0, shape: shape) }
    expectClose([ym[0], ym[2], ym[4]], [1 / (1 + exp(4.0)), 0, exp(4.0) / (1 + exp(4.0))])
    #expect(ym[6...].allSatisfy { $0 == 0 })
    let lm: [T] = try withOutput(12) { try logSoftmax(x, mask: mask, into: $0, shape: shape) }
    #expect(lm[2] == -.infinity && lm[6...].allSatisfy { $0 == -.infinity })
    let lsm: [T] = try withOutput(4) { try logSumExp(x, mask: mask, into: $0, shape: shape) }
    #expect(lsm[2] == -.infinity && lsm[3] == -.infinity)
    expectClose([lsm[0]], [4 + log1p(exp(-4.0))])
    // exact in place
    var z = x
    try z.withUnsafeMutableBufferPointer { b in
        try softmax(UnsafePointer(b.baseAddress!), into: b.baseAddress!, shape: shape)
    }
    #expect(z == y)
}

func checkErrors<T: SoftmaxScalar>(_: T.Type) throws {
    let x: [T] = [0, 2, 4, 1, 1, 1]
    let mask = [UInt8](repeating: 1, count: 6)
    let shape = try RowShape(outer: 2, n: 3)
    x.withUnsafeBufferPointer { xb in
        let xp = xb.baseAddress!
        // null pointers with a nonzero size
        expectError(T.self, .nullPointer) { y throws(SoftmaxError) in try softmax(nil, into: y, shape: shape) }
        expectError(T.self, .nullPointer) { _ throws(SoftmaxError) in try logSoftmax(xp, into: nil, shape: shape) }
        expectError(T.self, .nullPointer) { y throws(SoftmaxError) in try softmax(xp, mask: nil, into: y, shape: shape) }
        expectError(T.self, .nullPointer) { y throws(SoftmaxError) in try logSumExp(nil, into: y, shape: shape) }
        expectError(T.self, .nullPointer) { y throws(SoftmaxError) in try sigmoid(nil, into: y, count: 6) }
        expectError(T.self, .nullPointer) { y throws(SoftmaxError) in try normalize(nil, into: y, shape: shape) }
        // temperature
        for t in [T.nan, .infinity, 0, -1, -T.zero] {
            expectError(T.self, .invalidArgument) { y throws(SoftmaxError) in try softmax(xp, into: y, shape: shape, temperature: t) }
            expectError(T.self, .invalidArgument) { y throws(SoftmaxError) in
                try logSoftmax(xp, mask: mask, into: y, shape: shape, temperature: t) }
        }
        // shape overflow and negative sizes
        expectError(T.self, .invalidShape) { y throws(SoftmaxError) in
            try softmax(xp, into: y, shape: RowShape(outer: Int.max, n: 2)) }
        expectError(T.self, .invalidShape) { y throws(SoftmaxError) in
            try softmax(xp, into: y, shape: RowShape(outer: 1 << 31, n: 1 << 31, inner: 4)) }
        expectError(T.self, .invalidShape) { y throws(SoftmaxError) in
            try logSumExp(xp, into: y, shape: RowShape(outer: 1 << 62, n: 0)) }
        expectError(T.self, .invalidShape) { y throws(SoftmaxError) in
            try softmax(xp, into: y, shape: RowShape(outer: -1, n: 3)) }
        expectError(T.self, .invalidShape) { y throws(SoftmaxError) in try sigmoid(xp, into: y, count: -1) }
        expectError(T.self, .invalidShape) { y throws(SoftmaxError) in
            try softmax(xp, into: y, shape: RowShape(unsigned: .max, n: 1, inner: 1)) }
        #expect(throws: SoftmaxError.self) { try Threads.setCount(0) }
    }
    // partial overlap, input untouched
    var buf: [T] = (0..<12).map { T(rounding: Double($0)) }
    let before = buf
    buf.withUnsafeMutableBufferPointer { b in
        let p = b.baseAddress!
        expectOverlap { () throws(SoftmaxError) in try softmax(UnsafePointer(p), into: p + 1, shape: shape) }
        expectOverlap { () throws(SoftmaxError) in try logSoftmax(UnsafePointer(p + 3), into: p, shape: shape) }
        expectOverlap { () throws(SoftmaxError) in try logSumExp(UnsafePointer(p), into: p + 2, shape: shape) }
        expectOverlap { () throws(SoftmaxError) in try logSumExp(UnsafePointer(p), into: p, shape: shape) }
        expectOverlap { () throws(SoftmaxError) in try sigmoid(UnsafePointer(p), into: p + 1, count: 6) }
        expectOverlap { () throws(SoftmaxError) in try normalize(UnsafePointer(p + 5), into: p, shape: shape) }
    }
    #expect(buf == before)
}

func expectOverlap(sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws(SoftmaxError) -> Void) {
    do throws(SoftmaxError) {
        try body()
        Issue.record("overlap accepted", sourceLocation: sourceLocation)
    } catch {
        #expect(error.code == .overlappingBuffers, sourceLocation: sourceLocation)
    }
}

// MARK: - the tests, once per scalar type

@Suite("ForwardTests")
struct ForwardTests {
    @Test(arguments: scalarTypes) func article(_ t: any SoftmaxScalar.Type) throws { try checkArticle(t) }
    @Test(arguments: scalarTypes) func temperature(_ t: any SoftmaxScalar.Type) throws { try checkTemperature(t) }
    @Test(arguments: scalarTypes) func specialValues(_ t: any SoftmaxScalar.Type) throws { try checkSpecialValues(t) }
    @Test(arguments: scalarTypes) func masksAndAxes(_ t: any SoftmaxScalar.Type) throws { try checkMasksAndAxes(t) }
    @Test(arguments: scalarTypes) func scaledLogSumExp(_ t: any SoftmaxScalar.Type) throws { try checkScaledLogSumExp(t) }
    @Test(arguments: scalarTypes) func errors(_ t: any SoftmaxScalar.Type) throws { try checkErrors(t) }

    @Test func rowShapeCounts() throws {
        let s = try RowShape(outer: 4, n: 0, inner: 3)
        #expect(s.count == 0 && s.slices == 12)
    }

    @Test func versionIsTheHeadersThreeNumbers() {
        // The header's SSM_VERSION_MAJOR/MINOR/PATCH, joined by the header's own macro.
        let parts = BuildInfo.version.split(separator: ".", omittingEmptySubsequences: false)
        #expect(parts.count == 3 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) },
                "\(BuildInfo.version)")
    }
}
