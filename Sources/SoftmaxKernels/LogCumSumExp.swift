import SoftmaxCore

// The running log-sum-exp y[k] = log Σ_{i<=k} exp(x[i]) along the middle axis (docs/design.md,
// "Kernels"). A scan is sequential along its slice, so the lanes are eight slices side by side:
// eight neighbouring columns of a non-last axis (one vector load a step), or eight rows (one
// element of each a step). Each lane keeps the running maximum m and t = Σ exp(x - m) - 1 as
// a pair, the first maximal term's exact 1 kept apart:
//
//   x <= m   t += exp(x - m)
//   x >  m   t  = (1 + t) exp(m - x),  m = x
//   y        = m + log(1 + t)          (k ln 2 + log1p(u), 1 + t = 2^k (1 + u); added as a pair)
//
// One exp a step serves both cases (its argument is -|x - m|). The exp is a pair to 2^-57
// (`vexpPair`), the rescaling a double-double product and the sum compensated, so y's absolute
// error stays near 2^-57 log(1 + t): far below an ulp of y unless m < 0 and y cancels to much
// less than log(1 + t). That happens only while m < 0, a prefix of the slice; the lanes record
// the last such step, and `LogCumSumExpScan.precise` (double-double exp terms) recomputes that
// slice's prefix. In place, that prefix of the input is saved before it is overwritten.
//
// Special values (docs/design.md, "Special values"): -inf entries add exp(-inf) = 0, so a -inf
// prefix keeps m = -inf and y = -inf; +inf makes m = +inf and every later y +inf; NaN makes m
// NaN and every later y NaN. Lanes never mix, so a slice's bits do not depend on its neighbours
// or on the thread count.

extension Kernels {
    /// The number of work units of the scan: groups of eight rows, or column blocks.
    public static func scanUnits(outer: Int, n: Int, inner: Int) -> Int {
        inner == 1 ? outer / 8 + outer % 8 : outer * ColumnBlock.blocks(inner: inner)
    }

    /// The running log-sum-exp of the units `units`; `y` may be `x` exactly.
    public static func logcumsumexp<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, outer: Int, n: Int, inner: Int, units: Range<Int>
    ) {
        if T.self == Float.self {
            logCumSumExpUnits(x.as(Float.self), y.as(Float.self), outer, n, inner, units)
        } else {
            logCumSumExpUnits(x.as(Double.self), y.as(Double.self), outer, n, inner, units)
        }
    }
}

func logCumSumExpUnits<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ outer: Int, _ n: Int, _ inner: Int, _ units: Range<Int>
) {
    guard n > 0 else { return }
    let inPlace = Int(bitPattern: x) == Int(bitPattern: y)
    for u in units {
        if inner == 1 {
            // Groups of eight rows, then the rows left over one by one: cut into eight
            // segments when long enough, else a scan in one lane.
            if u < outer / 8 {
                scanRows(x, y, RowLanes(base: 8 * u * n, n: n, width: 8), inPlace)
            } else {
                let row = 8 * (outer / 8) + (u - outer / 8)
                if n >= segmentedRowMinimum {
                    scanSegmentedRow(x, y, row * n, n, inPlace)
                } else {
                    scanRows(x, y, RowLanes(base: row * n, n: n, width: 1), inPlace)
                }
            }
        } else {
            scanColumns(x, y, ColumnBlock(unit: u, n: n, inner: inner), inPlace)
        }
    }
}

/// Up to eight rows of n as the lanes: lane l is row base / n + l.
struct RowLanes {
    let base: Int
    let n: Int
    let width: Int

    @inline(__always) func offset(_ l: Int) -> Int { base + Swift.min(l, width - 1) * n }

    @inline(__always) func load<T: SoftmaxScalar>(_ x: UnsafePointer<T>, _ k: Int) -> DV {
        let p = x + base + k
        if width == 8 {
            return DV(p[0].double, p[n].double, p[2 * n].double, p[3 * n].double,
                      p[4 * n].double, p[5 * n].double, p[6 * n].double, p[7 * n].double)
        }
        var v = DV(repeating: -.infinity)
        for l in 0..<width { v[l] = p[l * n].double }
        return v
    }

    @inline(__always) func store<T: SoftmaxScalar>(_ v: DV, _ y: UnsafeMutablePointer<T>, _ k: Int) {
        let p = y + base + k
        if width == 8 {
            p[0] = T(rounding: v[0]); p[n] = T(rounding: v[1]); p[2 * n] = T(rounding: v[2]); p[3 * n] = T(rounding: v[3])
            p[4 * n] = T(rounding: v[4]); p[5 * n] = T(rounding: v[5]); p[6 * n] = T(rounding: v[6]); p[7 * n] = T(rounding: v[7])
            return
        }
        for l in 0..<width { p[l * n] = T(rounding: v[l]) }
    }
}

/// One lane's scan state: the running maximum, t = Σ exp(x - m) - 1 as th + tl, and the last
/// step whose result needs the precise scan (-1 for none).
struct ScanState {
    var m = DV(repeating: -.infinity)
    var th = DV(repeating: 0)
    var tl = DV(repeating: 0)
    var last = DV(repeating: -1)
}

/// One step of eight scans: takes x[k] of each lane, returns y[k].
@inline(__always)
func scanStep<T: SoftmaxScalar>(_: T.Type, _ v: DV, _ s: inout ScanState, _ step: DV) -> DV {
    scanAccumulate(T.self, v, &s)
    return scanResult(T.self, &s, step)
}

/// Adds x[k] of each lane to its state.
@inline(__always)
func scanAccumulate<T: SoftmaxScalar>(_: T.Type, _ v: DV, _ s: inout ScanState) {
    let zero = DV(repeating: 0), one = DV(repeating: 1)
    let grow = v .> s.m
    // d = x - m, exact as a pair (Float input is exact in Double). exp(-|d|): the new term when
    // x <= m, the rescaling factor when x > m. -inf - -inf, +inf - +inf and NaN give NaN, whose
    // exp is 0 (vexpParts), which is what each of those steps adds.
    var dh: DV, dl: DV
    if T.self == Double.self { (dh, dl) = vtwoSum(v, -s.m) } else { dh = v - s.m; dl = zero }
    dl = dl.replacing(with: -dl, where: grow)
    let (eh, el) = vexpPair(minusAbs(dh), dl)
    // t' = t F + e, F = e where x grows the maximum, else 1; the product's error exact.
    let fh = one.replacing(with: eh, where: grow), fl = zero.replacing(with: el, where: grow)
    let p = s.th * fh
    let pe = -remainder(p, s.th, fh)
    let (sum, se) = vtwoSum(p, eh)
    let lo = ((se + pe) + fmadd(s.tl, fh, s.th * fl)) + el
    s.th = sum + lo
    s.tl = lo - (s.th - sum)
    s.m = s.m.replacing(with: v, where: grow .| (v .!= v))
}

/// y = m + log(1 + t) of each lane's state; records `step` where the result cancels.
@inline(__always)
func scanResult<T: SoftmaxScalar>(_: T.Type, _ s: inout ScanState, _ step: DV) -> DV {
    let zero = DV(repeating: 0), one = DV(repeating: 1)
    // 1 + t = 2^k (1 + u): k = 0 while t <= 1 (u = t keeps a small t's bits), else the exponent
    // of 1 + t, with u = its significand - 1 exact and the low part scaled alike.
    let (sh, se1) = vtwoSum(one, s.th)
    let sl = se1 + s.tl
    let bits = unsafeBitCast(sh, to: SIMD8<UInt64>.self)
    let e = bits &>> 52
    let kf = unsafeBitCast(e | SIMD8<UInt64>(repeating: 0x433 << 52), to: DV.self) - DV(repeating: 0x1p52 + 1023)
    let sig = unsafeBitCast((bits & SIMD8<UInt64>(repeating: (1 << 52) - 1)) | SIMD8<UInt64>(repeating: 1023 << 52), to: DV.self)
    let down = unsafeBitCast((SIMD8<UInt64>(repeating: 2046) &- e) &<< 52, to: DV.self)
    let big = s.th .> one
    let uh = s.th.replacing(with: sig - one, where: big)
    let ul = s.tl.replacing(with: sl * down, where: big)
    let k = zero.replacing(with: kf, where: big)
    let (lh, ll) = vlog1pPair(uh, ul)
    // y = m + k ln2 + log1p(u): k ln2Hi is exact (32 trailing zero bits), the sums TwoSums.
    let kh = k * DV(repeating: 6.93147180369123816490e-01)
    let (s1, e1) = vtwoSum(s.m, kh)
    let (s2, e2) = vtwoSum(s1, lh)
    var y = s2 + ((e1 + e2) + fmadd(k, DV(repeating: 1.90821492927058770002e-10), ll))
    // -inf, +inf and NaN maxima are the result (their TwoSums would make NaN of an infinity).
    y = y.replacing(with: s.m, where: (s.m - s.m) .!= zero)
    // A result that cancels: m < 0 and |y| well below log(1 + t), whose absolute error (about
    // 2^-57 of it) would show in y's last bits; Float results have 29 bits to spare.
    let limit = DV(repeating: T.self == Float.self ? 0x1p28 : 4)
    let absY = unsafeBitCast(unsafeBitCast(y, to: SIMD8<UInt64>.self) & SIMD8<UInt64>(repeating: ~(1 << 63)), to: DV.self)
    let cancels = (s.m .< zero) .& (limit * absY .< kh + lh)
    s.last = s.last.replacing(with: step, where: cancels)
    return y
}

/// Scans up to eight rows, then repairs the prefixes that cancel.
@inline(__always)
func scanRows<T: SoftmaxScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ w: RowLanes, _ inPlace: Bool) {
    let n = w.n
    // In place, save each row's prefix while its maximum can still be negative (x < 0 so far).
    var saved: UnsafeMutablePointer<T>? = nil
    var keep = 0
    if inPlace {
        for l in 0..<w.width {
            let p = x + w.offset(l)
            var i = 0
            while i < n && p[i] < 0 { i += 1 }
            keep = Swift.max(keep, i)
        }
        if keep > 0 {
            saved = .allocate(capacity: keep * w.width)
            for l in 0..<w.width { (saved! + l * keep).update(from: x + w.offset(l), count: keep) }
        }
    }
    defer { saved?.deallocate() }
    var s = ScanState()
    var kd = DV(repeating: 0)
    for k in 0..<n {
        let v = w.load(x, k)
        w.store(scanStep(T.self, v, &s, kd), y, k)
        kd += DV(repeating: 1)
    }
    for l in 0..<w.width where s.last[l] >= 0 {
        let count = Int(s.last[l]) + 1
        if let saved {
            LogCumSumExpScan.precise(UnsafePointer(saved + l * keep), stride: 1, y + w.offset(l), stride: 1, count: count)
        } else {
            LogCumSumExpScan.precise(x + w.offset(l), stride: 1, y + w.offset(l), stride: 1, count: count)
        }
    }
}

/// Scans a column block row by row across its groups (the order memory lies in), then repairs
/// the prefixes that cancel.
@inline(__always)
func scanColumns<T: SoftmaxScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ b: ColumnBlock, _ inPlace: Bool) {
    let n = b.n, inner = b.inner, columns = b.columns
    var saved: UnsafeMutablePointer<T>? = nil
    var keep = 0
    if inPlace {
        for c in 0..<columns {
            let p = x + b.start + c
            var i = 0
            while i < n && p[i * inner] < 0 { i += 1 }
            keep = Swift.max(keep, i)
        }
        if keep > 0 {
            saved = .allocate(capacity: keep * columns)
            for i in 0..<keep { (saved! + i * columns).update(from: x + b.start + i * inner, count: columns) }
        }
    }
    defer { saved?.deallocate() }
    withUnsafeTemporaryAllocation(of: ScanState.self, capacity: ColumnBlock.maxGroups) { states in
        let st = states.baseAddress!
        for g in 0..<b.count { (st + g).initialize(to: ScanState()) }
        var kd = DV(repeating: 0)
        for k in 0..<n {
            let row = b.start + k * inner
            for g in 0..<b.count {
                let c = Swift.min(8, columns - 8 * g), off = row + 8 * g
                if c == 8 {
                    T.store8(scanStep(T.self, T.load8(x + off), &st[g], kd), y + off)
                } else {
                    T.storePartial(scanStep(T.self, T.loadPartial(x + off, count: c, pad: -.infinity), &st[g], kd),
                                   y + off, count: c)
                }
            }
            kd += DV(repeating: 1)
        }
        for g in 0..<b.count {
            for l in 0..<Swift.min(8, columns - 8 * g) where st[g].last[l] >= 0 {
                let c = 8 * g + l, count = Int(st[g].last[l]) + 1
                if let saved {
                    LogCumSumExpScan.precise(UnsafePointer(saved + c), stride: columns, y + b.start + c, stride: inner, count: count)
                } else {
                    LogCumSumExpScan.precise(x + b.start + c, stride: inner, y + b.start + c, stride: inner, count: count)
                }
            }
        }
    }
}

/// Rows at least this long, outside a group of eight, are scanned as eight segments.
let segmentedRowMinimum = 256

/// A row alone, its eight segments of n / 8 as the lanes (the n mod 8 last elements after
/// them, in one lane): the segments' totals without results (one exp a step, no log), their
/// prefix merged in double-double (`mergeScanState`), then every segment scanned again from
/// the state of all before it, with results. About 1.5 scans' work in eight lanes instead of
/// one scan in one lane; the cut depends only on n, so the bits do not depend on threads.
@inline(__always)
func scanSegmentedRow<T: SoftmaxScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ base: Int, _ n: Int, _ inPlace: Bool) {
    let len = n / 8
    let lanes = RowLanes(base: base, n: len, width: 8)
    var saved: UnsafeMutablePointer<T>? = nil
    if inPlace {
        var i = 0
        while i < n && x[base + i] < 0 { i += 1 }
        if i > 0 {
            saved = .allocate(capacity: i)
            saved!.update(from: x + base, count: i)
        }
    }
    defer { saved?.deallocate() }
    var totals = ScanState()
    for k in 0..<len { scanAccumulate(T.self, lanes.load(x, k), &totals) }
    var start = ScanState()
    var run: (m: Double, hi: Double, lo: Double) = (-.infinity, 0, 0)
    for l in 0..<8 {
        start.m[l] = run.m; start.th[l] = run.hi; start.tl[l] = run.lo
        run = mergeScanState(run, (totals.m[l], totals.th[l], totals.tl[l]))
    }
    var kd = DV(0, 1, 2, 3, 4, 5, 6, 7) * DV(repeating: Double(len))
    for k in 0..<len {
        lanes.store(scanStep(T.self, lanes.load(x, k), &start, kd), y, k)
        kd += DV(repeating: 1)
    }
    // The tail, in lane 7's state (the whole row's so far).
    var last = start.last
    if 8 * len < n {
        var s = ScanState(m: DV(repeating: start.m[7]), th: DV(repeating: start.th[7]), tl: DV(repeating: start.tl[7]),
                          last: DV(repeating: -1))
        for i in 8 * len..<n {
            let r = scanStep(T.self, DV(repeating: x[base + i].double), &s, DV(repeating: Double(i)))
            y[base + i] = T(rounding: r[0])
        }
        last[7] = Swift.max(last[7], s.last[0])
    }
    var upTo = -1.0
    for l in 0..<8 { upTo = Swift.max(upTo, last[l]) }
    if upTo >= 0 {
        let src = saved.map { UnsafePointer($0) } ?? x + base
        LogCumSumExpScan.precise(src, stride: 1, y + base, stride: 1, count: Int(upTo) + 1)
    }
}

/// The state of two consecutive pieces of a slice (m, t = Σ exp(x - m) - 1 as hi + lo) from
/// each piece's, in double-double: the rescaled piece's exp is `DoubleDouble.exp`. NaN and +inf
/// maxima carry over as the steps treat them (docs/design.md, "Special values").
func mergeScanState(_ a: (m: Double, hi: Double, lo: Double), _ b: (m: Double, hi: Double, lo: Double)) -> (m: Double, hi: Double, lo: Double) {
    if a.m.isNaN || b.m.isNaN { return (.nan, 0, 0) }
    if a.m == .infinity || b.m == .infinity { return (.infinity, 0, 0) }
    if b.m == -.infinity { return a }
    if a.m == -.infinity { return b }
    let (big, small) = a.m >= b.m ? (a, b) : (b, a)
    // (1 + t_small) exp(m_small - m_big) joins t_big; m_small - m_big is exact as a pair.
    let e = DoubleDouble.exp(twoSum(small.m, -big.m))
    let scaled = DoubleDouble.mul(DoubleDouble.add((1, 0), (small.hi, small.lo)), e)
    let t = DoubleDouble.add((big.hi, big.lo), scaled)
    return (big.m, t.hi, t.lo)
}
