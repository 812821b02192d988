import SoftmaxCore

/// A unit of a non-last axis (inner > 1): up to 64 column walks of eight neighbouring slices
/// each, side by side, walked together a tile of rows at a time.
///
/// A lone column walk reads 8 values per row, a new page every step, and the prefetcher does
/// not follow it. Walking the groups of a tile one after another reads each row's block of up
/// to 512 values in ascending order, 32 bytes after 32 bytes, which it does follow (1000x4096
/// float32 over axis 0: 19 -> 11 ms on one thread). The passes are the column walks' own, on
/// row ranges; the tiles' statistics merge exactly (max, NaN, +inf count) and their exp sums
/// merge as lane-wise double-doubles. Blocks narrow down to one group for narrow arrays, so
/// that an outer index still has about eight units for the threads.
struct ColumnBlock {
    static let maxGroups = 64
    static let tileRows = 8

    /// Groups of eight columns per block: shape-only, so the results do not depend on threads.
    static func groups(inner: Int) -> Int { Swift.min(maxGroups, Swift.max(1, (inner + 7) / 64)) }
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
        self.n = n
        self.inner = inner
        self.start = o * n * inner + j
        self.first = o * inner + j
        self.columns = Swift.min(width, inner - j)
        self.count = (columns + 7) / 8
    }

    /// Group g's walk over rows `rows`.
    @inline(__always) func walk(_ g: Int, _ rows: Range<Int>) -> ColumnWalk {
        ColumnWalk(base: start + rows.lowerBound * inner + 8 * g, n: rows.count, inner: inner,
                   width: Swift.min(8, columns - 8 * g), first: first + 8 * g)
    }

    /// Runs body(g, rows) tile by tile, every group within a tile.
    @inline(__always) func eachTile(_ body: (Int, Range<Int>) -> Void) {
        var i = 0
        repeat {
            let rows = i..<Swift.min(n, i + ColumnBlock.tileRows)
            for g in 0..<count { body(g, rows) }
            i = rows.upperBound
        } while i < n
    }

    /// Passes 1 and 2 for every group: statistics, then exp sums (terms stored to y if given).
    @inline(__always)
    func statistics<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ mask: UnsafePointer<UInt8>?, _ y: UnsafeMutablePointer<T>?,
        _ t: Double, fullExp: Bool,
        _ body: (UnsafeMutablePointer<LaneStats>, UnsafeMutablePointer<(hi: DV, lo: DV)>) -> Void
    ) {
        withUnsafeTemporaryAllocation(of: LaneStats.self, capacity: ColumnBlock.maxGroups) { stats in
            withUnsafeTemporaryAllocation(of: (hi: DV, lo: DV).self, capacity: ColumnBlock.maxGroups) { sums in
                let st = stats.baseAddress!, s = sums.baseAddress!
                for g in 0..<count {
                    (st + g).initialize(to: LaneStats(max: DV(repeating: -.infinity), nan: DMask(repeating: false),
                                                      infCount: DV(repeating: 0)))
                    (s + g).initialize(to: (DV(repeating: 0), DV(repeating: 0)))
                }
                eachTile { g, rows in
                    let tile = rmax(x, mask, walk(g, rows))
                    st[g].max = vmax(st[g].max, tile.max)
                    st[g].nan .|= tile.nan
                    st[g].infCount += tile.infCount
                }
                for g in 0..<count {
                    st[g] = LaneStats(max: st[g].max, nan: st[g].nan, infCount: st[g].infCount,
                                      lanes: Swift.min(8, columns - 8 * g))
                }
                eachTile { g, rows in
                    let tile = raddstoreexpminusmax(x, mask, y, walk(g, rows), st[g], t, fullExp: fullExp)
                    let (hi, e) = vtwoSum(s[g].hi, tile.hi)
                    s[g] = (hi, s[g].lo + tile.lo + e)
                }
                body(st, s)
            }
        }
    }

    @inline(__always)
    func softmax<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ mask: UnsafePointer<UInt8>?, _ y: UnsafeMutablePointer<T>,
        _ t: Double, _ log: Bool
    ) {
        statistics(x, mask, log ? nil : y, t, fullExp: false) { st, s in
            if log {
                for g in 0..<count { s[g] = logOfSum(s[g], st[g], ColumnWalk.self) }
                eachTile { g, rows in vlogfinalize(x, mask, y, walk(g, rows), st[g], t, s[g]) }
            } else {
                eachTile { g, rows in vdivide(y, walk(g, rows), s[g], st[g]) }
            }
        }
    }

    @inline(__always)
    func logsumexp<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ mask: UnsafePointer<UInt8>?, _ out: UnsafeMutablePointer<T>
    ) {
        statistics(x, mask, nil, 1, fullExp: true) { st, s in
            for g in 0..<count { logsumexpFinish(x, mask, out, walk(g, 0..<n), st[g], s[g]) }
        }
    }
}
