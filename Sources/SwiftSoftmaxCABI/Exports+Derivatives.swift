import SwiftSoftmax

// Derivatives and one-hot: each _f32/_f64 pair is one line over the generic Swift API.

public typealias Labels = UnsafePointer<Int64>?

@_cdecl("ssm_softmax_jacobian_f32")
public func ssm_softmax_jacobian_f32(_ x: In<Float>, _ jac: Out<Float>, _ o: UInt, _ n: UInt, _ i: UInt, _ t: Float) -> Int32 {
    status { () throws(SoftmaxError) in try softmaxJacobian(x, into: jac, shape: shape(o, n, i), temperature: t) }
}
@_cdecl("ssm_softmax_jacobian_f64")
public func ssm_softmax_jacobian_f64(_ x: In<Double>, _ jac: Out<Double>, _ o: UInt, _ n: UInt, _ i: UInt, _ t: Double) -> Int32 {
    status { () throws(SoftmaxError) in try softmaxJacobian(x, into: jac, shape: shape(o, n, i), temperature: t) }
}

@_cdecl("ssm_softmax_vjp_f32")
public func ssm_softmax_vjp_f32(_ y: In<Float>, _ g: In<Float>, _ dx: Out<Float>, _ o: UInt, _ n: UInt, _ i: UInt, _ t: Float) -> Int32 {
    status { () throws(SoftmaxError) in try softmaxVJP(y, g, into: dx, shape: shape(o, n, i), temperature: t) }
}
@_cdecl("ssm_softmax_vjp_f64")
public func ssm_softmax_vjp_f64(_ y: In<Double>, _ g: In<Double>, _ dx: Out<Double>, _ o: UInt, _ n: UInt, _ i: UInt, _ t: Double) -> Int32 {
    status { () throws(SoftmaxError) in try softmaxVJP(y, g, into: dx, shape: shape(o, n, i), temperature: t) }
}

@_cdecl("ssm_log_softmax_vjp_f32")
public func ssm_log_softmax_vjp_f32(_ y: In<Float>, _ g: In<Float>, _ dx: Out<Float>, _ o: UInt, _ n: UInt, _ i: UInt, _ t: Float) -> Int32 {
    status { () throws(SoftmaxError) in try logSoftmaxVJP(y, g, into: dx, shape: shape(o, n, i), temperature: t) }
}
@_cdecl("ssm_log_softmax_vjp_f64")
public func ssm_log_softmax_vjp_f64(_ y: In<Double>, _ g: In<Double>, _ dx: Out<Double>, _ o: UInt, _ n: UInt, _ i: UInt, _ t: Double) -> Int32 {
    status { () throws(SoftmaxError) in try logSoftmaxVJP(y, g, into: dx, shape: shape(o, n, i), temperature: t) }
}

@_cdecl("ssm_one_hot_f32")
public func ssm_one_hot_f32(_ labels: Labels, _ c: UInt, _ k: UInt, _ out: Out<Float>) -> Int32 {
    status { () throws(SoftmaxError) in
        let s = try shape(c, k, 1)
        try oneHot(labels, count: s.outer, numClasses: s.n, into: out)
    }
}
@_cdecl("ssm_one_hot_f64")
public func ssm_one_hot_f64(_ labels: Labels, _ c: UInt, _ k: UInt, _ out: Out<Double>) -> Int32 {
    status { () throws(SoftmaxError) in
        let s = try shape(c, k, 1)
        try oneHot(labels, count: s.outer, numClasses: s.n, into: out)
    }
}
