// The problem descriptions of the divergences and the gather loss, shared by the API and every
// kernel tier (docs/design.md, "KL divergence, entropy and NLL").

/// KL(softmax(p/T) ‖ softmax(q/T)) of every slice of two [outer, n, inner] arrays of logits. The
/// API has checked every pointer and the temperature.
public struct KLDivergenceProblem<T: SoftmaxScalar> {
    public var p: UnsafePointer<T>
    public var q: UnsafePointer<T>
    public var n: Int
    public var inner: Int
    public var temperature: Double
    /// Per-slice divergences ([outer, inner]), for reduction none.
    public var perSlice: UnsafeMutablePointer<T>?
    /// The gradients of the reduced divergence with respect to `p` and `q`, shaped like them;
    /// each may be its own input exactly.
    public var gradientP: UnsafeMutablePointer<T>?
    public var gradientQ: UnsafeMutablePointer<T>?
    /// The gradients are divided by this (the number of slices for the mean, else 1).
    public var gradientDivisor: Double

    public init(
        p: UnsafePointer<T>, q: UnsafePointer<T>, n: Int, inner: Int, temperature: Double,
        perSlice: UnsafeMutablePointer<T>?, gradientP: UnsafeMutablePointer<T>?,
        gradientQ: UnsafeMutablePointer<T>?, gradientDivisor: Double
    ) {
        self.p = p
        self.q = q
        self.n = n
        self.inner = inner
        self.temperature = temperature
        self.perSlice = perSlice
        self.gradientP = gradientP
        self.gradientQ = gradientQ
        self.gradientDivisor = gradientDivisor
    }
}

/// The Shannon entropy of softmax(x/T) of every slice of an [outer, n, inner] array of logits.
public struct EntropyProblem<T: SoftmaxScalar> {
    public var logits: UnsafePointer<T>
    public var n: Int
    public var inner: Int
    public var temperature: Double
    /// One entropy per slice ([outer, inner]).
    public var out: UnsafeMutablePointer<T>
    /// The gradient of the sum of the slices' entropies, shaped like the logits; it may be
    /// `logits` exactly.
    public var gradient: UnsafeMutablePointer<T>?

    public init(logits: UnsafePointer<T>, n: Int, inner: Int, temperature: Double,
                out: UnsafeMutablePointer<T>, gradient: UnsafeMutablePointer<T>?) {
        self.logits = logits
        self.n = n
        self.inner = inner
        self.temperature = temperature
        self.out = out
        self.gradient = gradient
    }
}

/// The negative log-likelihood loss of log-probabilities ([outer, n, inner]) at integer labels
/// ([outer, inner]). The API has checked every label (in [0, n) or `ignoreIndex`).
public struct NLLLossProblem<T: SoftmaxScalar> {
    public var logProbs: UnsafePointer<T>
    public var labels: UnsafePointer<Int64>
    public var weight: UnsafePointer<T>?
    public var n: Int
    public var inner: Int
    public var ignoreIndex: Int64
    /// Per-sample losses ([outer, inner]), for reduction none.
    public var perSample: UnsafeMutablePointer<T>?

    public init(logProbs: UnsafePointer<T>, labels: UnsafePointer<Int64>, weight: UnsafePointer<T>?,
                n: Int, inner: Int, ignoreIndex: Int64, perSample: UnsafeMutablePointer<T>?) {
        self.logProbs = logProbs
        self.labels = labels
        self.weight = weight
        self.n = n
        self.inner = inner
        self.ignoreIndex = ignoreIndex
        self.perSample = perSample
    }
}
