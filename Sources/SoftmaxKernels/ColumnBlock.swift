import SoftmaxCore
import CSoftmaxSupport

/// A unit of a non-last axis (inner > 1): up to 128 column walks of eight neighbouring slices
/// each, side by side, walked together a tile of rows at a time.
///
/// A lone column walk reads 8 values per row, a new page every step, and the prefetcher does
/// not follow it. Walking the groups of a tile one after another reads each row's block of up
/// to 1024 values in ascending order, 32 bytes after 32 bytes, which it does follow (1000x4096
/// float32 over axis 0: 19 -> 11 ms on one thread). The passes are the column walks' own, on
/// row ranges; the tiles' statistics merge exactly (max, NaN, +inf count) and their exp sums
/// merge as lane-wise double-doubles. Float blocks are swept row by row instead where they can
/// be (`FloatColumnSweep`). Blocks narrow down to one group for narrow arrays, so that an outer
/// index still has about four units for the threads; wider blocks read longer runs of each
/// row (1000x4096 float32 over axis 0 on two threads: 4.8 ms with blocks of 512 columns, 4.0 ms
/// with 1024).
struct ColumnBlock {
    static let maxGroups = 128
    static let tileRows = 8
    /// The VJPs' tiles, whose memory traffic (three arrays) outweighs the walks' calls: float32
    /// `softmax_vjp` over axis 0 9–22% and float64 `log_softmax_vjp` 8–35% faster than with 8
    /// rows and no hints, 2 rows slower again (docs/performance.md, "Column sweeps, fetched rows
    /// ahead").
    static let vjpTileRows = 4

    /// Groups of eight columns per block: shape-only, so the results do not depend on threads.
    static func groups(inner: Int) -> Int { Swift.min(maxGroups, Swift.max(1, (inner + 7) / 32)) }
    static func blocks(inner: Int) -> Int {
        let width = 8 * groups(inner: inner)
        return (inner + width - 1) / width
    }

    let n: Int
    let inner: Int
    let start: Int      // element offset of the block's first column at row 0
    let first: Int      // index of its first slice (o * inner + j)
    let count: Int      // its number of groups
    let columns: Int    // its number of columns

    @inline(__always) init(unit u: Int, n: Int, inner: Int) {
        let blocks = ColumnBlock.blocks(inner: inner)
        let o = u / blocks
        let width = 8 * ColumnBlock.groups(inner: inner)
        let j = (u - o * blocks) * width
        self.init(outer: o, column: j, columns: Swift.min(width, inner - j), n: n, inner: inner)
    }

    /// Slices o * inner + j ..< o * inner + j + columns (at most 8 * maxGroups of them).
    @inline(__always) init(outer o: Int, column j: Int, columns: Int, n: Int, inner: Int) {
        self.n = n
        self.inner = inner
        self.start = o * n * inner + j
        self.first = o * inner + j
        self.columns = columns
        self.count = (columns + 7) / 8
    }

    /// Group g's walk over rows `rows`.
    @inline(__always) func walk(_ g: Int, _ rows: Range<Int>) -> ColumnWalk {
        ColumnWalk(base: start + rows.lowerBound * inner + 8 * g, n: rows.count, inner: inner,
                   width: Swift.min(8, columns - 8 * g), first: first + 8 * g)
    }

    /// Runs body(g, rows) tile by tile, every group within a tile; with `fetch`, each group's
    /// lines of the next tile are hinted to the cache before its body runs (docs/performance.md,
    /// "Column sweeps, fetched rows ahead").
    @inline(__always) func eachTile(rows tile: Int = ColumnBlock.tileRows, fetch: TileFetch = TileFetch(), _ body: (Int, Range<Int>) -> Void) {
        var i = 0
        repeat {
            let rows = i..<Swift.min(n, i + tile)
            let next = rows.upperBound..<Swift.min(n, rows.upperBound + tile)
            for g in 0..<count {
                if fetch.on {
                    for r in next { fetch.fetch(start + r * inner + 8 * g) }
                }
                body(g, rows)
            }
            i = rows.upperBound
        } while i < n
    }

    /// Passes 1 and 2 for every group: statistics, then exp sums (terms stored to y if given),
    /// with `between` run after pass 1; groups with a special value skip pass 2 if `skipSpecial`.
    @inline(__always)
    func statistics<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ mask: UnsafePointer<UInt8>?, _ y: UnsafeMutablePointer<T>?,
        _ t: Double, fullExp: Bool, compensated: Bool = false, skipSpecial: Bool = false,
        between: (UnsafeMutablePointer<LaneStats>) -> Void = { _ in },
        _ body: (UnsafeMutablePointer<LaneStats>, UnsafeMutablePointer<(hi: DV, lo: DV)>, FloatColumnSweep?) -> Void
    ) {
        withUnsafeTemporaryAllocation(of: LaneStats.self, capacity: ColumnBlock.maxGroups) { stats in
            withUnsafeTemporaryAllocation(of: (hi: DV, lo: DV).self, capacity: ColumnBlock.maxGroups) { sums in
                let st = stats.baseAddress!, s = sums.baseAddress!
                for g in 0..<count { (s + g).initialize(to: (DV(repeating: 0), DV(repeating: 0))) }
                #if SSM_FMA
                if T.self == Float.self, mask == nil, t == 1, !fullExp, FloatColumnSweep.applies(columns: columns) {
                    let swept = withUnsafeTemporaryAllocation(of: Float.self, capacity: FloatColumnSweep.scratchCount) {
                        let sweep = FloatColumnSweep(x.as(Float.self) + start, n: n, inner: inner, columns: columns,
                                                     scratch: $0.baseAddress!)
                        guard sweep.statistics(st) else { return false }
                        between(st)
                        // As the row walks: softmax only divides by the sums; log results and
                        // losses need the maximal terms apart.
                        sweep.expSums(y.map { $0.as(Float.self) + start }, s, topsApart: y == nil || compensated)
                        body(st, s, sweep)
                        return true
                    }
                    if swept { return }
                }
                #endif
                for g in 0..<count {
                    (st + g).initialize(to: LaneStats(max: DV(repeating: -.infinity), nan: DMask(repeating: false),
                                                      infCount: DV(repeating: 0)))
                }
                eachTile(fetch: TileFetch(read: x)) { g, rows in
                    let tile = rmax(x, mask, walk(g, rows))
                    st[g].max = vmax(st[g].max, tile.max)
                    st[g].nan .|= tile.nan
                    st[g].infCount += tile.infCount
                }
                for g in 0..<count {
                    st[g] = LaneStats(max: st[g].max, nan: st[g].nan, infCount: st[g].infCount,
                                      lanes: Swift.min(8, columns - 8 * g))
                }
                between(st)
                withUnsafeTemporaryAllocation(of: DV.self, capacity: ColumnBlock.maxGroups) { counts in
                    let tops = counts.baseAddress!
                    for g in 0..<count { (tops + g).initialize(to: DV(repeating: 0)) }
                    eachTile(fetch: TileFetch(read: x, write: y)) { g, rows in
                        if skipSpecial && st[g].special { return }
                        let tile = raddstoreexpminusmaxChunked(
                            x, mask, y, walk(g, rows), st[g], t, fullExp: fullExp, compensated: compensated,
                            tops: tops + g).lanes
                        let (hi, e) = vtwoSum(s[g].hi, tile.hi)
                        s[g] = (hi, s[g].lo + tile.lo + e)
                    }
                    // The maximal terms last, as the row walks add them.
                    for g in 0..<count {
                        let (hi, e) = vtwoSum(tops[g], s[g].hi)
                        s[g] = (hi, s[g].lo + e)
                    }
                }
                body(st, s, nil)
            }
        }
    }

    @inline(__always)
    func softmax<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ mask: UnsafePointer<UInt8>?, _ y: UnsafeMutablePointer<T>,
        _ t: Double, _ log: Bool
    ) {
        statistics(x, mask, log ? nil : y, t, fullExp: false) { st, s, sweep in
            if log {
                for g in 0..<count { s[g] = logOfSum(s[g], st[g], ColumnWalk.self, forFloat: T.self == Float.self) }
                if let sweep {
                    sweep.logFinalize(y.as(Float.self) + start) { s[$0] }
                } else {
                    eachTile(fetch: TileFetch(read: x, write: y)) { g, rows in vlogfinalize(x, mask, y, walk(g, rows), st[g], t, s[g]) }
                }
            } else if let sweep {
                sweep.scale(y.as(Float.self) + start) { DV(repeating: 1) / (s[$0].hi + s[$0].lo) }
            } else {
                eachTile(fetch: TileFetch(read: nil, write: y)) { g, rows in vdivide(y, walk(g, rows), s[g], st[g]) }
            }
        }
    }

    @inline(__always)
    func logsumexp<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ mask: UnsafePointer<UInt8>?, _ out: UnsafeMutablePointer<T>
    ) {
        #if SSM_FMA
        if T.self == Float.self, mask == nil, FloatColumnSweep.applies(columns: columns),
           logsumexpFloat(x.as(Float.self), out.as(Float.self)) {
            return
        }
        #endif
        statistics(x, mask, nil, 1, fullExp: true) { st, s, _ in
            for g in 0..<count { logsumexpFinish(x, mask, out, walk(g, 0..<n), st[g], s[g]) }
        }
    }

    #if SSM_FMA
    /// logsumexp of a float32 block swept row by row in Float lanes, as `logsumexpRowsFloat` does
    /// rows: the Float exp's 2^-27.9 is within 0.13 ulp of results of magnitude 1/4 and more, and
    /// a group of eight columns with a smaller result goes to the Double walk (max + log(sum)
    /// cancelled, or both are near 0). Returns false, having written nothing, when a column holds
    /// a NaN, +inf or only -inf (the general walk's case).
    @inline(__always)
    func logsumexpFloat(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>) -> Bool {
        withUnsafeTemporaryAllocation(of: LaneStats.self, capacity: ColumnBlock.maxGroups) { stats in
            withUnsafeTemporaryAllocation(of: (hi: DV, lo: DV).self, capacity: ColumnBlock.maxGroups) { sums in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: FloatColumnSweep.scratchCount) { scratch in
                    let st = stats.baseAddress!, s = sums.baseAddress!
                    for g in 0..<count { (s + g).initialize(to: (DV(repeating: 0), DV(repeating: 0))) }
                    let sweep = FloatColumnSweep(x + start, n: n, inner: inner, columns: columns,
                                                 scratch: scratch.baseAddress!)
                    guard sweep.statistics(st) else { return false }
                    sweep.expSums(nil, s, topsApart: true)
                    for g in 0..<count {
                        let w = walk(g, 0..<n)
                        // The sums count each maximal term (1) apart, so hi >= 1 and hi - 1 is exact.
                        let (rh, rl) = vtwoSum(s[g].hi - DV(repeating: 1), s[g].lo)
                        let r = st[g].max + vlog1pForFloat(rh + rl)
                        var small = false
                        for l in 0..<w.resultLanes where Swift.abs(r[l]) < 0.25 { small = true }
                        if small {
                            logsumexpGroup(x, nil, out, w)
                        } else {
                            for l in 0..<w.resultLanes { out[w.resultOffset + l] = Float(r[l]) }
                        }
                    }
                    return true
                }
            }
        }
    }
    #endif

    /// Cross-entropy with integer targets of the block's samples (see crossEntropyGroup): losses
    /// added in sample order; groups with a special value go to the scalar kernel, untouched by
    /// the vector passes.
    @inline(__always)
    func crossEntropy<T: SoftmaxScalar>(_ pb: CrossEntropyProblem<T>, _ total: inout CompensatedSumWithSpecials) {
        let x = pb.logits
        withUnsafeTemporaryAllocation(of: CrossEntropyTargets.self, capacity: ColumnBlock.maxGroups) { buf in
            let targets = buf.baseAddress!
            // The targets are read before pass 2 writes the gradient, which may be the logits.
            let readTargets: (UnsafeMutablePointer<LaneStats>) -> Void = { st in
                for g in 0..<count where !st[g].special {
                    (targets + g).initialize(to: CrossEntropyTargets(pb, x, walk(g, 0..<n), st[g], first: first + 8 * g))
                }
            }
            statistics(x, nil, pb.gradient, 1, fullExp: false, compensated: true, skipSpecial: true,
                       between: readTargets) { st, s, sweep in
                // Losses in sample order; each group's gradient scale and target values kept
                // (in `s`, no longer needed) for one tiled scaling pass.
                for g in 0..<count {
                    let lanes = Swift.min(8, columns - 8 * g), start = first + 8 * g
                    if st[g].special {
                        total.add(Kernels.crossEntropyScalar(pb, slices: start..<start + lanes))
                    } else {
                        let r = targets[g].losses(pb, s[g], lanes: lanes, first: start, &total)
                        s[g] = (r.scale, r.target)
                    }
                }
                guard let grad = pb.gradient else { return }
                if let sweep {
                    sweep.scale(grad.as(Float.self) + start) { s[$0].hi }
                } else {
                    eachTile { g, rows in
                        if !st[g].special { vscale(grad, walk(g, rows), s[g].hi) }
                    }
                }
                for g in 0..<count where !st[g].special {
                    targets[g].store(grad, s[g].lo, lanes: Swift.min(8, columns - 8 * g))
                }
            }
        }
    }
}

/// The arrays a tiled walk reads (`read`) and writes (`write`), whose lines `ColumnBlock.eachTile`
/// hints a tile ahead; none by default.
struct TileFetch {
    var read: UnsafeRawPointer? = nil
    var write: UnsafeMutableRawPointer? = nil
    var stride = 0

    init() {}
    init<T>(read: UnsafePointer<T>?, write: UnsafeMutablePointer<T>? = nil) {
        self.read = read.map { UnsafeRawPointer($0) }
        self.write = write.map { UnsafeMutableRawPointer($0) }
        self.stride = MemoryLayout<T>.stride
    }

    @inline(__always) var on: Bool { read != nil || write != nil }

    /// The line holding element `offset` of each array.
    @inline(__always) func fetch(_ offset: Int) {
        if let read { ssm_support_prefetch(read + offset &* stride) }
        if let write { ssm_support_prefetch_for_write(write + offset &* stride) }
    }
}
