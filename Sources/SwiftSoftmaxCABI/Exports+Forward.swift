import SwiftSoftmax

// softmax family: each _f32/_f64 pair is one line over the generic Swift API.

public typealias In<T> = UnsafePointer<T>?
public typealias Out<T> = UnsafeMutablePointer<T>?
public typealias Mask = UnsafePointer<UInt8>?

@_cdecl("ssm_softmax_f32")
public func ssm_softmax_f32(_ x: In<Float>, _ y: Out<Float>, _ o: UInt, _ n: UInt, _ i: UInt, _ t: Float) -> Int32 {
    status { () throws(SoftmaxError) in try softmax(x, into: y, shape: shape(o, n, i), temperature: t) }
}
@_cdecl("ssm_softmax_f64")
public func ssm_softmax_f64(_ x: In<Double>, _ y: Out<Double>, _ o: UInt, _ n: UInt, _ i: UInt, _ t: Double) -> Int32 {
    status { () throws(SoftmaxError) in try softmax(x, into: y, shape: shape(o, n, i), temperature: t) }
}

@_cdecl("ssm_log_softmax_f32")
public func ssm_log_softmax_f32(_ x: In<Float>, _ y: Out<Float>, _ o: UInt, _ n: UInt, _ i: UInt, _ t: Float) -> Int32 {
    status { () throws(SoftmaxError) in try logSoftmax(x, into: y, shape: shape(o, n, i), temperature: t) }
}
@_cdecl("ssm_log_softmax_f64")
public func ssm_log_softmax_f64(_ x: In<Double>, _ y: Out<Double>, _ o: UInt, _ n: UInt, _ i: UInt, _ t: Double) -> Int32 {
    status { () throws(SoftmaxError) in try logSoftmax(x, into: y, shape: shape(o, n, i), temperature: t) }
}

// In place over contiguous rows at temperature 1: the same functions with three arguments, for
// callers whose per-argument cost is large (ctypes converts each in ~80 ns).
@_cdecl("ssm_softmax_inplace_f32")
public func ssm_softmax_inplace_f32(_ y: Out<Float>, _ rows: UInt, _ n: UInt) -> Int32 {
    status { () throws(SoftmaxError) in try softmax(UnsafePointer(y), into: y, shape: shape(rows, n, 1)) }
}
@_cdecl("ssm_softmax_inplace_f64")
public func ssm_softmax_inplace_f64(_ y: Out<Double>, _ rows: UInt, _ n: UInt) -> Int32 {
    status { () throws(SoftmaxError) in try softmax(UnsafePointer(y), into: y, shape: shape(rows, n, 1)) }
}
@_cdecl("ssm_log_softmax_inplace_f32")
public func ssm_log_softmax_inplace_f32(_ y: Out<Float>, _ rows: UInt, _ n: UInt) -> Int32 {
    status { () throws(SoftmaxError) in try logSoftmax(UnsafePointer(y), into: y, shape: shape(rows, n, 1)) }
}
@_cdecl("ssm_log_softmax_inplace_f64")
public func ssm_log_softmax_inplace_f64(_ y: Out<Double>, _ rows: UInt, _ n: UInt) -> Int32 {
    status { () throws(SoftmaxError) in try logSoftmax(UnsafePointer(y), into: y, shape: shape(rows, n, 1)) }
}

@_cdecl("ssm_softmax_masked_f32")
public func ssm_softmax_masked_f32(_ x: In<Float>, _ m: Mask, _ y: Out<Float>, _ o: UInt, _ n: UInt, _ i: UInt, _ t: Float) -> Int32 {
    status { () throws(SoftmaxError) in try softmax(x, mask: m, into: y, shape: shape(o, n, i), temperature: t) }
}
@_cdecl("ssm_softmax_masked_f64")
public func ssm_softmax_masked_f64(_ x: In<Double>, _ m: Mask, _ y: Out<Double>, _ o: UInt, _ n: UInt, _ i: UInt, _ t: Double) -> Int32 {
    status { () throws(SoftmaxError) in try softmax(x, mask: m, into: y, shape: shape(o, n, i), temperature: t) }
}

@_cdecl("ssm_log_softmax_masked_f32")
public func ssm_log_softmax_masked_f32(_ x: In<Float>, _ m: Mask, _ y: Out<Float>, _ o: UInt, _ n: UInt, _ i: UInt, _ t: Float) -> Int32 {
    status { () throws(SoftmaxError) in try logSoftmax(x, mask: m, into: y, shape: shape(o, n, i), temperature: t) }
}
@_cdecl("ssm_log_softmax_masked_f64")
public func ssm_log_softmax_masked_f64(_ x: In<Double>, _ m: Mask, _ y: Out<Double>, _ o: UInt, _ n: UInt, _ i: UInt, _ t: Double) -> Int32 {
    status { () throws(SoftmaxError) in try logSoftmax(x, mask: m, into: y, shape: shape(o, n, i), temperature: t) }
}

@_cdecl("ssm_logsumexp_f32")
public func ssm_logsumexp_f32(_ x: In<Float>, _ out: Out<Float>, _ o: UInt, _ n: UInt, _ i: UInt) -> Int32 {
    status { () throws(SoftmaxError) in try logSumExp(x, into: out, shape: shape(o, n, i)) }
}
@_cdecl("ssm_logsumexp_f64")
public func ssm_logsumexp_f64(_ x: In<Double>, _ out: Out<Double>, _ o: UInt, _ n: UInt, _ i: UInt) -> Int32 {
    status { () throws(SoftmaxError) in try logSumExp(x, into: out, shape: shape(o, n, i)) }
}

// Scale factors b (any sign) and an optional sign output: SciPy's logsumexp(x, b=b, return_sign=...).
@_cdecl("ssm_logsumexp_scaled_f32")
public func ssm_logsumexp_scaled_f32(_ x: In<Float>, _ b: In<Float>, _ out: Out<Float>, _ sg: Out<Float>, _ o: UInt, _ n: UInt, _ i: UInt) -> Int32 {
    status { () throws(SoftmaxError) in try logSumExp(x, scaledBy: b, into: out, sign: sg, shape: shape(o, n, i)) }
}
@_cdecl("ssm_logsumexp_scaled_f64")
public func ssm_logsumexp_scaled_f64(_ x: In<Double>, _ b: In<Double>, _ out: Out<Double>, _ sg: Out<Double>, _ o: UInt, _ n: UInt, _ i: UInt) -> Int32 {
    status { () throws(SoftmaxError) in try logSumExp(x, scaledBy: b, into: out, sign: sg, shape: shape(o, n, i)) }
}
@_cdecl("ssm_logsumexp_scaled_masked_f32")
public func ssm_logsumexp_scaled_masked_f32(_ x: In<Float>, _ b: In<Float>, _ m: Mask, _ out: Out<Float>, _ sg: Out<Float>, _ o: UInt, _ n: UInt, _ i: UInt) -> Int32 {
    status { () throws(SoftmaxError) in try logSumExp(x, scaledBy: b, mask: m, into: out, sign: sg, shape: shape(o, n, i)) }
}
@_cdecl("ssm_logsumexp_scaled_masked_f64")
public func ssm_logsumexp_scaled_masked_f64(_ x: In<Double>, _ b: In<Double>, _ m: Mask, _ out: Out<Double>, _ sg: Out<Double>, _ o: UInt, _ n: UInt, _ i: UInt) -> Int32 {
    status { () throws(SoftmaxError) in try logSumExp(x, scaledBy: b, mask: m, into: out, sign: sg, shape: shape(o, n, i)) }
}

@_cdecl("ssm_logsumexp_masked_f32")
public func ssm_logsumexp_masked_f32(_ x: In<Float>, _ m: Mask, _ out: Out<Float>, _ o: UInt, _ n: UInt, _ i: UInt) -> Int32 {
    status { () throws(SoftmaxError) in try logSumExp(x, mask: m, into: out, shape: shape(o, n, i)) }
}
@_cdecl("ssm_logsumexp_masked_f64")
public func ssm_logsumexp_masked_f64(_ x: In<Double>, _ m: Mask, _ out: Out<Double>, _ o: UInt, _ n: UInt, _ i: UInt) -> Int32 {
    status { () throws(SoftmaxError) in try logSumExp(x, mask: m, into: out, shape: shape(o, n, i)) }
}

@_cdecl("ssm_sigmoid_f32")
public func ssm_sigmoid_f32(_ x: In<Float>, _ y: Out<Float>, _ c: UInt) -> Int32 {
    status { () throws(SoftmaxError) in try sigmoid(x, into: y, count: count(c)) }
}
@_cdecl("ssm_sigmoid_f64")
public func ssm_sigmoid_f64(_ x: In<Double>, _ y: Out<Double>, _ c: UInt) -> Int32 {
    status { () throws(SoftmaxError) in try sigmoid(x, into: y, count: count(c)) }
}

@_cdecl("ssm_log_sigmoid_f32")
public func ssm_log_sigmoid_f32(_ x: In<Float>, _ y: Out<Float>, _ c: UInt) -> Int32 {
    status { () throws(SoftmaxError) in try logSigmoid(x, into: y, count: count(c)) }
}
@_cdecl("ssm_log_sigmoid_f64")
public func ssm_log_sigmoid_f64(_ x: In<Double>, _ y: Out<Double>, _ c: UInt) -> Int32 {
    status { () throws(SoftmaxError) in try logSigmoid(x, into: y, count: count(c)) }
}

@_cdecl("ssm_normalize_f32")
public func ssm_normalize_f32(_ x: In<Float>, _ y: Out<Float>, _ o: UInt, _ n: UInt, _ i: UInt) -> Int32 {
    status { () throws(SoftmaxError) in try normalize(x, into: y, shape: shape(o, n, i)) }
}
@_cdecl("ssm_normalize_f64")
public func ssm_normalize_f64(_ x: In<Double>, _ y: Out<Double>, _ o: UInt, _ n: UInt, _ i: UInt) -> Int32 {
    status { () throws(SoftmaxError) in try normalize(x, into: y, shape: shape(o, n, i)) }
}

@_cdecl("ssm_logcumsumexp_f32")
public func ssm_logcumsumexp_f32(_ x: In<Float>, _ y: Out<Float>, _ o: UInt, _ n: UInt, _ i: UInt) -> Int32 {
    status { () throws(SoftmaxError) in try logCumSumExp(x, into: y, shape: shape(o, n, i)) }
}
@_cdecl("ssm_logcumsumexp_f64")
public func ssm_logcumsumexp_f64(_ x: In<Double>, _ y: Out<Double>, _ o: UInt, _ n: UInt, _ i: UInt) -> Int32 {
    status { () throws(SoftmaxError) in try logCumSumExp(x, into: y, shape: shape(o, n, i)) }
}
