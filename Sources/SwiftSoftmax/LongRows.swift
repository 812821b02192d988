import SoftmaxCore

/// Rows too long for one thread, when there are fewer rows than threads: each row is cut into
/// chunks of `rowChunk` elements and every pass runs on all chunks in parallel, their
/// statistics and sums merged in chunk order. The kernels sum a whole row in the same chunks,
/// so the result does not depend on the number of threads.
enum LongRows {
    static func applies(_ shape: RowShape) -> Bool {
        // The row length first: a small call should not pay for reading the thread count.
        guard shape.inner == 1, shape.n >= 4 * Tier.kernels.rowChunk else { return false }
        let threads = Threads.count
        return threads > 1 && shape.outer < threads
    }

    static func softmax<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ mask: UnsafePointer<UInt8>?, _ y: UnsafeMutablePointer<T>,
        _ shape: RowShape, _ t: T, log: Bool
    ) {
        let k = Tier.kernels
        for r in 0..<shape.outer {
            if T.self == Float.self, mask == nil, t == 1,
               k.floatRowBySegments(floats(x) + r * shape.n, UnsafeMutableRawPointer(y).assumingMemoryBound(to: Float.self) + r * shape.n,
                                    n: shape.n, log: log, parallel: bySegments) {
                continue
            }
            let (stats, sum) = statistics(x, mask, log ? nil : y, row: r, shape, t)
            eachChunk(row: r, shape) { start, count in
                k.rowChunkFinish(x, mask: mask, y: y, start: start, count: count, stats: stats,
                                 sum: sum, temperature: t, log: log)
            }
        }
    }

    static func logSumExp<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ mask: UnsafePointer<UInt8>?, _ out: UnsafeMutablePointer<T>,
        _ shape: RowShape
    ) {
        for r in 0..<shape.outer {
            if T.self == Float.self, mask == nil,
               let v = Tier.kernels.floatRowLogSumExpBySegments(floats(x) + r * shape.n, n: shape.n, parallel: bySegments) {
                out[r] = T(rounding: v)
                continue
            }
            let (stats, sum) = statistics(x, mask, nil, row: r, shape, 1)
            let v = Tier.kernels.rowLogSumExp(stats: stats, sum: sum)
            // max + log(sum) may have cancelled (a negative maximum), or a Float result is small:
            // the row walk then takes the full-precision exp for Float and repairs the
            // cancellation from its double-double sum, which the chunks' merged sums do not give
            // to the last bits (float32 results near 0 were up to about 100 ulp off). Such a row
            // goes through the row kernels on this thread, as it would on one thread.
            if (stats.max < 0 || (T.self == Float.self && Swift.abs(v) < 0.25)) && !stats.nan && stats.infCount == 0 {
                let k = Tier.kernels
                k.logsumexp(x + r * shape.n, out + r, mask: mask.map { $0 + r * shape.n }, outer: 1, n: shape.n, inner: 1,
                            units: 0..<k.units(outer: 1, n: shape.n, inner: 1))
                continue
            }
            out[r] = T(rounding: v)
        }
    }

    /// The row's merged statistics and exp sum; the exp terms are stored to `y` when given.
    private static func statistics<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ mask: UnsafePointer<UInt8>?, _ y: UnsafeMutablePointer<T>?,
        row r: Int, _ shape: RowShape, _ t: T
    ) -> (RowChunkStats, CompensatedSum) {
        let k = Tier.kernels
        let chunks = (shape.n + k.rowChunk - 1) / k.rowChunk
        var stats = [RowChunkStats](repeating: RowChunkStats(), count: chunks)
        stats.withUnsafeMutableBufferPointer { out in
            eachChunk(row: r, shape) { start, count in
                out[(start - r * shape.n) / k.rowChunk] = k.rowChunkStats(x, mask: mask, start: start, count: count)
            }
        }
        let merged = stats.reduce(RowChunkStats()) { $0.merged(with: $1) }
        var sums = [CompensatedSum](repeating: CompensatedSum(), count: chunks)
        sums.withUnsafeMutableBufferPointer { out in
            eachChunk(row: r, shape) { start, count in
                out[(start - r * shape.n) / k.rowChunk] = k.rowChunkExpSum(
                    x, mask: mask, y: y, start: start, count: count, stats: merged, temperature: t, precise: false)
            }
        }
        var total = sums[0]
        for s in sums.dropFirst() { total.add(s) }
        // A log row whose other terms sum below 2^-90 is summed again in Double lanes, as the
        // row walk sums it (docs/design.md, "The passes"); the chunks' own sums cannot tell.
        if T.self == Float.self, y == nil, mask == nil, t == 1, !merged.nan, merged.infCount == 0, total.hasTinyRest {
            sums.withUnsafeMutableBufferPointer { out in
                eachChunk(row: r, shape) { start, count in
                    out[(start - r * shape.n) / k.rowChunk] = k.rowChunkExpSum(
                        x, mask: nil, y: nil, start: start, count: count, stats: merged, temperature: t, precise: true)
                }
            }
            total = sums[0]
            for s in sums.dropFirst() { total.add(s) }
        }
        return (merged, total)
    }

    private static func floats<T>(_ x: UnsafePointer<T>) -> UnsafePointer<Float> {
        UnsafeRawPointer(x).assumingMemoryBound(to: Float.self)
    }

    /// Runs `body` over ranges covering 0..<count segments of a float32 row (`rowChunk` each),
    /// in parallel (`floatRowBySegments`).
    private static func bySegments(_ count: Int, _ body: (Range<Int>) -> Void) {
        Threads.forEachChunk(units: count, costPerUnit: Tier.kernels.rowChunk, body)
    }

    /// Runs `body(start, count)` for every chunk of row r, in parallel.
    private static func eachChunk(row r: Int, _ shape: RowShape, _ body: (Int, Int) -> Void) {
        let c = Tier.kernels.rowChunk
        let chunks = (shape.n + c - 1) / c
        Threads.forEachChunk(units: chunks, costPerUnit: c) { range in
            for i in range {
                let start = i * c
                body(r * shape.n + start, Swift.min(c, shape.n - start))
            }
        }
    }
}
