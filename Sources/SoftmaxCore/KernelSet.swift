/// The operations every CPU tier's kernel module provides. The API layer holds the tier chosen at
/// load time as a `SoftmaxKernelSet.Type` and calls through it.
public protocol SoftmaxKernelSet: SoftmaxRowChunks {
    /// The number of work units of an [outer, n, inner] view (the unit of threading).
    static func units(outer: Int, n: Int, inner: Int) -> Int
    static func softmax<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, mask: UnsafePointer<UInt8>?,
        outer: Int, n: Int, inner: Int, units: Range<Int>, temperature: T, log: Bool)
    static func logsumexp<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ out: UnsafeMutablePointer<T>, mask: UnsafePointer<UInt8>?,
        outer: Int, n: Int, inner: Int, units: Range<Int>)
    /// The vector-Jacobian product of softmax, or of log-softmax when `log` (`y` is then logy),
    /// of the units `units`: `dx` may be `y` or `g` exactly.
    static func vjp<T: SoftmaxScalar>(
        _ y: UnsafePointer<T>, _ g: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>,
        outer: Int, n: Int, inner: Int, units: Range<Int>, temperature: T, log: Bool)
    /// The logistic sigmoid of `count` elements: `y` may be `x` exactly.
    static func vsigmoid<T: SoftmaxScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, count: Int)
    /// log(sigmoid(x)) of `count` elements: `y` may be `x` exactly.
    static func vlogsigmoid<T: SoftmaxScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, count: Int)
    /// Sum-normalisation x / Σx along the middle axis of the units `units`: `y` may be `x` exactly.
    static func normalize<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, outer: Int, n: Int, inner: Int, units: Range<Int>)
    /// The softmax Jacobian of slices `slices` of an [outer, n, inner] array, one n × n block each
    /// in `jac` ([outer, inner, n, n]); NaN blocks for NaN slices, zero blocks for all -inf ones.
    static func softmaxJacobian<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ jac: UnsafeMutablePointer<T>, n: Int, inner: Int, slices: Range<Int>, temperature: T)
    /// The number of work units of the running log-sum-exp over an [outer, n, inner] view.
    static func scanUnits(outer: Int, n: Int, inner: Int) -> Int
    /// The running log-sum-exp y[k] = log Σ_{i<=k} exp(x[i]) along the middle axis of the units
    /// `units` (`scanUnits`): `y` may be `x` exactly.
    static func logcumsumexp<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, outer: Int, n: Int, inner: Int, units: Range<Int>)
    /// Cross-entropy (and its gradient, when asked) of samples `slices`; the sum of their losses.
    static func crossEntropy<T: SoftmaxScalar>(_ pb: CrossEntropyProblem<T>, slices: Range<Int>) -> CompensatedSumWithSpecials
    /// Binary cross-entropy with logits (and its gradient, when asked) of elements `range`; the
    /// sum of their losses.
    static func binaryCrossEntropyWithLogits<T: SoftmaxScalar>(
        _ pb: BinaryCrossEntropyProblem<T>, range: Range<Int>) -> CompensatedSumWithSpecials
    /// KL(softmax(p/T) ‖ softmax(q/T)) (and its gradients, when asked) of slices `slices`; the
    /// sum of their divergences.
    static func klDivergence<T: SoftmaxScalar>(_ pb: KLDivergenceProblem<T>, slices: Range<Int>) -> CompensatedSumWithSpecials
    /// The entropy of softmax(x/T) (and its gradient, when asked) of slices `slices`.
    static func entropy<T: SoftmaxScalar>(_ pb: EntropyProblem<T>, slices: Range<Int>)
    /// The negative log-likelihood of samples `slices`; the sum of their losses.
    static func nllLoss<T: SoftmaxScalar>(_ pb: NLLLossProblem<T>, slices: Range<Int>) -> CompensatedSumWithSpecials
    /// Whether every label is in [0, classes) or is `ignoreIndex`, and how many are not `ignoreIndex`.
    static func checkLabels(_ labels: UnsafePointer<Int64>, count: Int, classes: Int, ignoreIndex: Int64) -> (valid: Bool, counted: Int)
}

/// What the first pass over a piece of one row learns: its maximum, whether it holds a NaN,
/// and how many +inf entries it has. Pieces merge exactly, in any order.
public struct RowChunkStats: Sendable, Equatable {
    public var max: Double
    public var nan: Bool
    public var infCount: Double

    public init(max: Double = -.infinity, nan: Bool = false, infCount: Double = 0) {
        self.max = max
        self.nan = nan
        self.infCount = infCount
    }

    /// The statistics of two pieces together.
    public func merged(with o: RowChunkStats) -> RowChunkStats {
        RowChunkStats(max: Swift.max(max, o.max), nan: nan || o.nan, infCount: infCount + o.infCount)
    }
}

/// The per-chunk steps of a row too long for one thread, in the order the API runs them:
/// statistics of every chunk (merged), exp sums of every chunk (merged in chunk order), then
/// the finishing pass. Chunks start at multiples of `rowChunk`, where a whole-row walk also
/// starts a new partial sum, so a split row gives the same bits as an unsplit one.
public protocol SoftmaxRowChunks {
    static var rowChunk: Int { get }
    static func rowChunkStats<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, mask: UnsafePointer<UInt8>?, start: Int, count: Int) -> RowChunkStats
    static func rowChunkExpSum<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, mask: UnsafePointer<UInt8>?, y: UnsafeMutablePointer<T>?,
        start: Int, count: Int, stats: RowChunkStats, temperature: T, precise: Bool) -> CompensatedSum
    static func rowChunkFinish<T: SoftmaxScalar>(
        _ x: UnsafePointer<T>, mask: UnsafePointer<UInt8>?, y: UnsafeMutablePointer<T>,
        start: Int, count: Int, stats: RowChunkStats, sum: CompensatedSum, temperature: T, log: Bool)
    /// log(sum(exp(x))) of a row from its merged statistics and sum.
    static func rowLogSumExp(stats: RowChunkStats, sum: CompensatedSum) -> Double
    /// Softmax (or log-softmax when `log`) of one contiguous, unmasked float32 row of n entries
    /// at temperature 1 (`y` may be `x`), as the tier's row kernels take such a row when one
    /// thread has it whole: by segments, each summed in its own form, which are shared out by
    /// `parallel(count, body)` (body run over ranges that cover 0..<count, on any threads), so
    /// that a row split between threads gives the same bits as an unsplit one. False, with
    /// nothing written, where the tier does not take such a row by segments (then it takes it
    /// as the chunk steps above do) or the row needs the general walk (a special value).
    static func floatRowBySegments(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, n: Int, log: Bool,
        parallel: (_ count: Int, _ body: (Range<Int>) -> Void) -> Void) -> Bool
    /// logsumexp of such a row as `floatRowBySegments` takes it, or nil where it does not (and
    /// for results below 1/4 in magnitude, which the general walk gives).
    static func floatRowLogSumExpBySegments(
        _ x: UnsafePointer<Float>, n: Int, parallel: (_ count: Int, _ body: (Range<Int>) -> Void) -> Void) -> Double?
}
