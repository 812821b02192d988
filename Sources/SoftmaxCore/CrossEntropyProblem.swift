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

    public init(
        logits: UnsafePointer<T>, labels: UnsafePointer<Int64>?, targets: UnsafePointer<T>?,
        weight: UnsafePointer<T>?, n: Int, inner: Int, ignoreIndex: Int64, smoothing: Double,
        perSample: UnsafeMutablePointer<T>?, gradient: UnsafeMutablePointer<T>?, gradientDivisor: Double
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
    }
}

