// The cross-entropy problem description shared by the API and every kernel tier.

/// One cross-entropy problem over an [outer, n, inner] array of logits (n classes).
/// Exactly one of `labels` (integer targets, [outer, inner]) and `targets` (probabilities,
/// shaped like the logits) is given.
public struct CrossEntropyProblem<T: SoftmaxScalar> {
    public var logits: UnsafePointer<T>
    public var labels: UnsafePointer<Int64>?
    public var targets: UnsafePointer<T>?
    public var weight: UnsafePointer<T>?
    public var n: Int
    public var inner: Int
    public var ignoreIndex: Int64
    public var smoothing: Double
    /// Per-sample losses ([outer, inner]), for reduction none.
    public var perSample: UnsafeMutablePointer<T>?
    /// The gradient of the reduced loss, shaped like the logits; it may be `logits` or `targets`.
    public var gradient: UnsafeMutablePointer<T>?
    /// The gradient is divided by this (the mean's denominator, else 1).
    public var gradientDivisor: Double
    /// One weight per sample ([outer, inner]), multiplying the sample's loss (and z-loss).
    public var sampleWeight: UnsafePointer<T>?
    /// The z-loss coefficient: z·lse² is added to each sample's loss, with its weight.
    public var zLoss: Double
    /// The soft cap of the logits, cap·tanh(x/cap); 0 for none.
    public var softcap: Double
    /// Per-sample logsumexp of the (capped) logits ([outer, inner]), when requested.
    public var lse: UnsafeMutablePointer<T>?

    public init(
        logits: UnsafePointer<T>, labels: UnsafePointer<Int64>?, targets: UnsafePointer<T>?,
        weight: UnsafePointer<T>?, n: Int, inner: Int, ignoreIndex: Int64, smoothing: Double,
        perSample: UnsafeMutablePointer<T>?, gradient: UnsafeMutablePointer<T>?, gradientDivisor: Double,
        sampleWeight: UnsafePointer<T>? = nil, zLoss: Double = 0, softcap: Double = 0,
        lse: UnsafeMutablePointer<T>? = nil
    ) {
        self.logits = logits
        self.labels = labels
        self.targets = targets
        self.weight = weight
        self.n = n
        self.inner = inner
        self.ignoreIndex = ignoreIndex
        self.smoothing = smoothing
        self.perSample = perSample
        self.gradient = gradient
        self.gradientDivisor = gradientDivisor
        self.sampleWeight = sampleWeight
        self.zLoss = zLoss
        self.softcap = softcap
        self.lse = lse
    }
}

