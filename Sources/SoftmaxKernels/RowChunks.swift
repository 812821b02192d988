import SoftmaxCore

// The chunk steps of one long row (SoftmaxRowChunks), on the same passes as whole rows.
extension Kernels {
    public static var rowChunk: Int { rowChunkLength }

    public static func rowChunkStats<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, mask: UnsafePointer<UInt8>?, start: Int, count: Int
    ) -> RowChunkStats {
        if T.self == Float.self { return rmax(x.as(Float.self), mask, RowWalk(start: start, count: count)).row }
        return rmax(x.as(Double.self), mask, RowWalk(start: start, count: count)).row
    }

    public static func rowChunkExpSum<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, mask: UnsafePointer<UInt8>?, y: UnsafeMutablePointer<T>?,
        start: Int, count: Int, stats: RowChunkStats, temperature: T, precise: Bool
    ) -> CompensatedSum {
        let w = RowWalk(start: start, count: count)
        let st = LaneStats(stats)
        if T.self == Float.self {
            return raddstoreexpminusmaxChunked(
                x.as(Float.self), mask, y?.as(Float.self), w, st, temperature.double, floatArithmetic: !precise).row
        }
        return raddstoreexpminusmaxChunked(x.as(Double.self), mask, y?.as(Double.self), w, st, temperature.double).row
    }

    public static func rowChunkFinish<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, mask: UnsafePointer<UInt8>?, y: UnsafeMutablePointer<T>,
        start: Int, count: Int, stats: RowChunkStats, sum: CompensatedSum, temperature: T, log: Bool
    ) {
        if T.self == Float.self {
            finish(x.as(Float.self), mask, y.as(Float.self), start, count, stats, sum, temperature.double, log)
        } else {
            finish(x.as(Double.self), mask, y.as(Double.self), start, count, stats, sum, temperature.double, log)
        }
    }

    public static func rowLogSumExp(stats: RowChunkStats, sum: CompensatedSum) -> Double {
        let st = LaneStats(stats)
        let p = sum.pair
        let l = logOfSum((DV(repeating: p.hi), DV(repeating: p.lo)), st, RowWalk.self, precise: true)
        var out = 0.0
        withUnsafeMutablePointer(to: &out) { storeLogSumExp($0, RowWalk(start: 0, count: 0), st, l) }
        return out
    }
}

@inline(__always)
private func finish<T: SoftmaxScalar>(
    _ x: UnsafePointer<T>, _ mask: UnsafePointer<UInt8>?, _ y: UnsafeMutablePointer<T>,
    _ start: Int, _ count: Int, _ stats: RowChunkStats, _ sum: CompensatedSum, _ t: Double, _ log: Bool
) {
    let w = RowWalk(start: start, count: count)
    let st = LaneStats(stats)
    let p = sum.pair
    let s = (hi: DV(repeating: p.hi), lo: DV(repeating: p.lo))
    if log {
        vlogfinalize(x, mask, y, w, st, t, logOfSum(s, st, RowWalk.self, forFloat: T.self == Float.self))
    } else {
        vdivide(y, w, s, st)
    }
}
