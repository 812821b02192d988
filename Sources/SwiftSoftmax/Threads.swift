import CSoftmaxSupport
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How many threads large calls may use. Small calls always run on the caller's thread.
public enum Threads {
    private static let configured = Atomic<Int>(0)

    /// The number of online CPUs: the default thread count (read once: sysconf reads /sys).
    public static let hardwareConcurrency: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    /// The thread count in force (the hardware concurrency until `setCount` is called).
    public static var count: Int {
        let c = configured.load(ordering: .relaxed)
        return c > 0 ? c : hardwareConcurrency
    }

    /// Sets the thread count for later calls; `n` must be in 1...1024.
    ///
    /// ```swift
    /// try Threads.setCount(1)   // deterministic single-threaded timing
    /// ```
    public static func setCount(_ n: Int) throws(SoftmaxError) {
        guard (1...1024).contains(n) else {
            throw SoftmaxError(.invalidArgument, "num_threads must be between 1 and 1024, got \(n)")
        }
        configured.store(n, ordering: .relaxed)
    }

    /// Units of work (about three per element and pass) below which a call stays on one thread:
    /// handing work to a spinning worker costs a few microseconds, about this much work.
    static let minimumParallelWork = 1 << 14

    /// Runs `body` over `0..<units` in chunks. The chunking depends only on the work size, never
    /// on the thread count, and each unit is computed by exactly one thread, so results are
    /// bitwise identical for any thread count.
    static func forEachChunk(units: Int, costPerUnit: Int, _ body: (Range<Int>) -> Void) {
        guard units > 0 else { return }
        let total = units.multipliedReportingOverflow(by: max(1, costPerUnit))
        let work = total.overflow ? Int.max : total.partialValue
        let threads = count
        guard threads > 1, work >= minimumParallelWork, units > 1 else {
            body(0..<units)
            return
        }
        // At most 16 chunks, each of at least a quarter of the parallel threshold: a thread
        // streams through long contiguous runs of memory (short interleaved runs of both threads
        // defeat the hardware prefetchers), and a slow thread still leaves chunks to the others.
        let perChunk = max(1, (minimumParallelWork / 4) / max(1, costPerUnit), (units + 15) / 16)
        let chunks = (units + perChunk - 1) / perChunk
        let workers = min(threads, chunks)
        let next = Atomic<Int>(0)
        // Every participant claims chunks until none is left, so a participant that joins late
        // (or never, when the pool is busy) only changes who computes a chunk, not its bits.
        withoutActuallyEscaping(body) { body in
            var claim: () -> Void = {
                while true {
                    let c = next.add(1, ordering: .relaxed).oldValue
                    if c >= chunks { break }
                    let lo = c * perChunk
                    body(lo..<min(units, lo + perChunk))
                }
            }
            withUnsafeMutablePointer(to: &claim) { job in
                ssm_support_parallel(Int32(workers), { context, _ in
                    context!.assumingMemoryBound(to: (() -> Void).self).pointee()
                }, job)
            }
        }
    }
}
