// The binary cross-entropy problem description shared by the API and every kernel tier.

/// One binary-cross-entropy-with-logits problem over `count` elements laid out as rows of `n`
/// classes (docs/design.md, "Binary cross-entropy"). The API has checked every pointer and value:
/// targets in [0, 1], weights and positive weights finite and >= 0.
public struct BinaryCrossEntropyProblem<T: SoftmaxScalar> {
    public var logits: UnsafePointer<T>
    public var targets: UnsafePointer<T>
    /// One weight per element, or nil (all 1).
    public var weight: UnsafePointer<T>?
    /// One weight of the positive term per class (element k's class is k % n), or nil (all 1).
    public var posWeight: UnsafePointer<T>?
    public var n: Int
    /// Per-element losses, for reduction none.
    public var perElement: UnsafeMutablePointer<T>?
    /// The gradient of the reduced loss; it may be `logits` or `targets` exactly.
    public var gradient: UnsafeMutablePointer<T>?
    /// The gradient is divided by this (the mean's element count, else 1).
    public var gradientDivisor: Double

    public init(
        logits: UnsafePointer<T>, targets: UnsafePointer<T>, weight: UnsafePointer<T>?,
        posWeight: UnsafePointer<T>?, n: Int, perElement: UnsafeMutablePointer<T>?,
        gradient: UnsafeMutablePointer<T>?, gradientDivisor: Double
    ) {
        self.logits = logits
        self.targets = targets
        self.weight = weight
        self.posWeight = posWeight
        self.n = n
        self.perElement = perElement
        self.gradient = gradient
        self.gradientDivisor = gradientDivisor
    }
}
