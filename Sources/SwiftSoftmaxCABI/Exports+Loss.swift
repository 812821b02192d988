import SwiftSoftmax

// Cross-entropy with integer labels or probability targets: one line each over the Swift API.
// `reduction` arrives as the C enum's int value; Reduction(code:) rejects anything else.

@_cdecl("ssm_cross_entropy_f32")
public func ssm_cross_entropy_f32(
    _ x: In<Float>, _ labels: Labels, _ w: In<Float>, _ o: UInt, _ n: UInt, _ i: UInt,
    _ ignore: Int64, _ eps: Float, _ red: Int32, _ loss: Out<Float>, _ grad: Out<Float>
) -> Int32 {
    status { () throws(SoftmaxError) in
        try crossEntropy(x, labels: labels, weight: w, shape: shape(o, n, i), ignoreIndex: ignore,
                         labelSmoothing: eps, reduction: Reduction(code: red), loss: loss, gradient: grad)
    }
}
@_cdecl("ssm_cross_entropy_f64")
public func ssm_cross_entropy_f64(
    _ x: In<Double>, _ labels: Labels, _ w: In<Double>, _ o: UInt, _ n: UInt, _ i: UInt,
    _ ignore: Int64, _ eps: Double, _ red: Int32, _ loss: Out<Double>, _ grad: Out<Double>
) -> Int32 {
    status { () throws(SoftmaxError) in
        try crossEntropy(x, labels: labels, weight: w, shape: shape(o, n, i), ignoreIndex: ignore,
                         labelSmoothing: eps, reduction: Reduction(code: red), loss: loss, gradient: grad)
    }
}

@_cdecl("ssm_cross_entropy_soft_f32")
public func ssm_cross_entropy_soft_f32(
    _ x: In<Float>, _ q: In<Float>, _ w: In<Float>, _ o: UInt, _ n: UInt, _ i: UInt,
    _ eps: Float, _ red: Int32, _ loss: Out<Float>, _ grad: Out<Float>
) -> Int32 {
    status { () throws(SoftmaxError) in
        try crossEntropy(x, targets: q, weight: w, shape: shape(o, n, i), labelSmoothing: eps,
                         reduction: Reduction(code: red), loss: loss, gradient: grad)
    }
}
@_cdecl("ssm_cross_entropy_soft_f64")
public func ssm_cross_entropy_soft_f64(
    _ x: In<Double>, _ q: In<Double>, _ w: In<Double>, _ o: UInt, _ n: UInt, _ i: UInt,
    _ eps: Double, _ red: Int32, _ loss: Out<Double>, _ grad: Out<Double>
) -> Int32 {
    status { () throws(SoftmaxError) in
        try crossEntropy(x, targets: q, weight: w, shape: shape(o, n, i), labelSmoothing: eps,
                         reduction: Reduction(code: red), loss: loss, gradient: grad)
    }
}

// The entry points with options (ssm_ce_options): sample weights and the lse output as typed
// arguments, the scalar options in a struct that can grow. C sees the struct as its own type;
// Swift reads its fields at their offsets, each only when struct_size covers it (a caller built
// against an older header passes a smaller struct; its missing fields take their defaults).
public typealias CEOptions = UnsafeRawPointer?

/// (zLoss, softcap) of an ssm_ce_options, or the defaults for a NULL pointer.
func ceOptions(_ p: CEOptions) throws(SoftmaxError) -> (zLoss: Double, softcap: Double?) {
    guard let p else { return (0, nil) }
    let size = Int(bitPattern: p.loadUnaligned(as: UInt.self))
    guard size >= MemoryLayout<UInt>.size else {
        throw SoftmaxError(.invalidArgument, "options: struct_size must be sizeof(ssm_ce_options), got \(size)")
    }
    @inline(__always) func field(_ offset: Int, _ fallback: Double) -> Double {
        size >= offset + 8 ? p.loadUnaligned(fromByteOffset: offset, as: Double.self) : fallback
    }
    let softcap = field(16, 0)
    return (field(8, 0), softcap == 0 ? nil : softcap)
}

// One generic body each for the f32/f64 pairs below (@_cdecl functions cannot be generic).
func crossEntropyEx<T: SoftmaxScalar>(
    _ x: In<T>, _ labels: Labels, _ w: In<T>, _ sw: In<T>, _ o: UInt, _ n: UInt, _ i: UInt,
    _ ignore: Int64, _ eps: T, _ red: Int32, _ opt: CEOptions, _ loss: Out<T>, _ grad: Out<T>, _ lse: Out<T>
) -> Int32 {
    status { () throws(SoftmaxError) in
        let (z, cap) = try ceOptions(opt)
        try crossEntropy(x, labels: labels, weight: w, shape: shape(o, n, i), ignoreIndex: ignore,
                         labelSmoothing: eps, reduction: Reduction(code: red), loss: loss, gradient: grad,
                         sampleWeight: sw, zLoss: z, softcap: cap, lse: lse)
    }
}
func crossEntropySoftEx<T: SoftmaxScalar>(
    _ x: In<T>, _ q: In<T>, _ w: In<T>, _ sw: In<T>, _ o: UInt, _ n: UInt, _ i: UInt,
    _ eps: T, _ red: Int32, _ opt: CEOptions, _ loss: Out<T>, _ grad: Out<T>, _ lse: Out<T>
) -> Int32 {
    status { () throws(SoftmaxError) in
        let (z, cap) = try ceOptions(opt)
        try crossEntropy(x, targets: q, weight: w, shape: shape(o, n, i), labelSmoothing: eps,
                         reduction: Reduction(code: red), loss: loss, gradient: grad,
                         sampleWeight: sw, zLoss: z, softcap: cap, lse: lse)
    }
}

@_cdecl("ssm_cross_entropy_ex_f32")
public func ssm_cross_entropy_ex_f32(
    _ x: In<Float>, _ labels: Labels, _ w: In<Float>, _ sw: In<Float>, _ o: UInt, _ n: UInt, _ i: UInt,
    _ ignore: Int64, _ eps: Float, _ red: Int32, _ opt: CEOptions, _ loss: Out<Float>, _ grad: Out<Float>,
    _ lse: Out<Float>
) -> Int32 { crossEntropyEx(x, labels, w, sw, o, n, i, ignore, eps, red, opt, loss, grad, lse) }
@_cdecl("ssm_cross_entropy_ex_f64")
public func ssm_cross_entropy_ex_f64(
    _ x: In<Double>, _ labels: Labels, _ w: In<Double>, _ sw: In<Double>, _ o: UInt, _ n: UInt, _ i: UInt,
    _ ignore: Int64, _ eps: Double, _ red: Int32, _ opt: CEOptions, _ loss: Out<Double>, _ grad: Out<Double>,
    _ lse: Out<Double>
) -> Int32 { crossEntropyEx(x, labels, w, sw, o, n, i, ignore, eps, red, opt, loss, grad, lse) }

@_cdecl("ssm_cross_entropy_soft_ex_f32")
public func ssm_cross_entropy_soft_ex_f32(
    _ x: In<Float>, _ q: In<Float>, _ w: In<Float>, _ sw: In<Float>, _ o: UInt, _ n: UInt, _ i: UInt,
    _ eps: Float, _ red: Int32, _ opt: CEOptions, _ loss: Out<Float>, _ grad: Out<Float>, _ lse: Out<Float>
) -> Int32 { crossEntropySoftEx(x, q, w, sw, o, n, i, eps, red, opt, loss, grad, lse) }
@_cdecl("ssm_cross_entropy_soft_ex_f64")
public func ssm_cross_entropy_soft_ex_f64(
    _ x: In<Double>, _ q: In<Double>, _ w: In<Double>, _ sw: In<Double>, _ o: UInt, _ n: UInt, _ i: UInt,
    _ eps: Double, _ red: Int32, _ opt: CEOptions, _ loss: Out<Double>, _ grad: Out<Double>, _ lse: Out<Double>
) -> Int32 { crossEntropySoftEx(x, q, w, sw, o, n, i, eps, red, opt, loss, grad, lse) }

@_cdecl("ssm_binary_cross_entropy_with_logits_f32")
public func ssm_binary_cross_entropy_with_logits_f32(
    _ x: In<Float>, _ t: In<Float>, _ w: In<Float>, _ pw: In<Float>, _ rows: UInt, _ n: UInt,
    _ red: Int32, _ loss: Out<Float>, _ grad: Out<Float>
) -> Int32 {
    status { () throws(SoftmaxError) in
        try binaryCrossEntropyWithLogits(x, targets: t, weight: w, posWeight: pw, shape: shape(rows, n, 1),
                                         reduction: Reduction(code: red), loss: loss, gradient: grad)
    }
}
@_cdecl("ssm_binary_cross_entropy_with_logits_f64")
public func ssm_binary_cross_entropy_with_logits_f64(
    _ x: In<Double>, _ t: In<Double>, _ w: In<Double>, _ pw: In<Double>, _ rows: UInt, _ n: UInt,
    _ red: Int32, _ loss: Out<Double>, _ grad: Out<Double>
) -> Int32 {
    status { () throws(SoftmaxError) in
        try binaryCrossEntropyWithLogits(x, targets: t, weight: w, posWeight: pw, shape: shape(rows, n, 1),
                                         reduction: Reduction(code: red), loss: loss, gradient: grad)
    }
}

@_cdecl("ssm_kl_div_f32")
public func ssm_kl_div_f32(
    _ p: In<Float>, _ q: In<Float>, _ o: UInt, _ n: UInt, _ i: UInt, _ t: Float, _ red: Int32,
    _ loss: Out<Float>, _ gp: Out<Float>, _ gq: Out<Float>
) -> Int32 {
    status { () throws(SoftmaxError) in
        try klDivergence(p, q, shape: shape(o, n, i), temperature: t, reduction: Reduction(code: red),
                         loss: loss, gradientP: gp, gradientQ: gq)
    }
}
@_cdecl("ssm_kl_div_f64")
public func ssm_kl_div_f64(
    _ p: In<Double>, _ q: In<Double>, _ o: UInt, _ n: UInt, _ i: UInt, _ t: Double, _ red: Int32,
    _ loss: Out<Double>, _ gp: Out<Double>, _ gq: Out<Double>
) -> Int32 {
    status { () throws(SoftmaxError) in
        try klDivergence(p, q, shape: shape(o, n, i), temperature: t, reduction: Reduction(code: red),
                         loss: loss, gradientP: gp, gradientQ: gq)
    }
}

@_cdecl("ssm_entropy_f32")
public func ssm_entropy_f32(
    _ x: In<Float>, _ o: UInt, _ n: UInt, _ i: UInt, _ t: Float, _ out: Out<Float>, _ grad: Out<Float>
) -> Int32 {
    status { () throws(SoftmaxError) in
        try entropy(x, into: out, shape: shape(o, n, i), temperature: t, gradient: grad)
    }
}
@_cdecl("ssm_entropy_f64")
public func ssm_entropy_f64(
    _ x: In<Double>, _ o: UInt, _ n: UInt, _ i: UInt, _ t: Double, _ out: Out<Double>, _ grad: Out<Double>
) -> Int32 {
    status { () throws(SoftmaxError) in
        try entropy(x, into: out, shape: shape(o, n, i), temperature: t, gradient: grad)
    }
}

@_cdecl("ssm_nll_loss_f32")
public func ssm_nll_loss_f32(
    _ x: In<Float>, _ labels: Labels, _ w: In<Float>, _ o: UInt, _ n: UInt, _ i: UInt,
    _ ignore: Int64, _ red: Int32, _ loss: Out<Float>
) -> Int32 {
    status { () throws(SoftmaxError) in
        try nllLoss(x, labels: labels, weight: w, shape: shape(o, n, i), ignoreIndex: ignore,
                    reduction: Reduction(code: red), loss: loss)
    }
}
@_cdecl("ssm_nll_loss_f64")
public func ssm_nll_loss_f64(
    _ x: In<Double>, _ labels: Labels, _ w: In<Double>, _ o: UInt, _ n: UInt, _ i: UInt,
    _ ignore: Int64, _ red: Int32, _ loss: Out<Double>
) -> Int32 {
    status { () throws(SoftmaxError) in
        try nllLoss(x, labels: labels, weight: w, shape: shape(o, n, i), ignoreIndex: ignore,
                    reduction: Reduction(code: red), loss: loss)
    }
}
