import SwiftSoftmax

// Partial statistics (softmax over a split axis, vocabulary-parallel cross-entropy): one line
// each over the Swift API. ssm_softmax_stats and ssm_ce_stats are SoftmaxStatistics and
// CrossEntropyStatistics, whose stored Doubles lie in the same order.

// C sees the structs as their own types; Swift takes their addresses as raw pointers (a Swift
// struct cannot appear in a @_cdecl signature) and binds them here.
public typealias Stats = UnsafeRawPointer?
public typealias StatsOut = UnsafeMutableRawPointer?
public typealias CEStats = UnsafeRawPointer?
public typealias CEStatsOut = UnsafeMutableRawPointer?

@inline(__always) func soft(_ p: Stats) -> UnsafePointer<SoftmaxStatistics>? { p?.assumingMemoryBound(to: SoftmaxStatistics.self) }
@inline(__always) func soft(_ p: StatsOut) -> UnsafeMutablePointer<SoftmaxStatistics>? { p?.assumingMemoryBound(to: SoftmaxStatistics.self) }
@inline(__always) func ce(_ p: CEStats) -> UnsafePointer<CrossEntropyStatistics>? { p?.assumingMemoryBound(to: CrossEntropyStatistics.self) }
@inline(__always) func ce(_ p: CEStatsOut) -> UnsafeMutablePointer<CrossEntropyStatistics>? { p?.assumingMemoryBound(to: CrossEntropyStatistics.self) }

@inline(__always)
func targets(_ c: UInt, _ offset: UInt, _ ignore: Int64, _ eps: Double) throws(SoftmaxError) -> ShardedTargets {
    ShardedTargets(numClasses: try count(c), classOffset: try count(offset), ignoreIndex: ignore, labelSmoothing: eps)
}

@_cdecl("ssm_softmax_stats_f32")
public func ssm_softmax_stats_f32(_ x: In<Float>, _ m: Mask, _ s: StatsOut, _ o: UInt, _ n: UInt, _ i: UInt, _ t: Float) -> Int32 {
    status { () throws(SoftmaxError) in try softmaxStatistics(x, mask: m, into: soft(s), shape: shape(o, n, i), temperature: t) }
}
@_cdecl("ssm_softmax_stats_f64")
public func ssm_softmax_stats_f64(_ x: In<Double>, _ m: Mask, _ s: StatsOut, _ o: UInt, _ n: UInt, _ i: UInt, _ t: Double) -> Int32 {
    status { () throws(SoftmaxError) in try softmaxStatistics(x, mask: m, into: soft(s), shape: shape(o, n, i), temperature: t) }
}

@_cdecl("ssm_softmax_stats_precise_f32")
public func ssm_softmax_stats_precise_f32(_ x: In<Float>, _ m: Mask, _ s: StatsOut, _ o: UInt, _ n: UInt, _ i: UInt, _ t: Float) -> Int32 {
    status { () throws(SoftmaxError) in
        try softmaxStatistics(x, mask: m, into: soft(s), shape: shape(o, n, i), temperature: t, precise: true)
    }
}
@_cdecl("ssm_softmax_stats_precise_f64")
public func ssm_softmax_stats_precise_f64(_ x: In<Double>, _ m: Mask, _ s: StatsOut, _ o: UInt, _ n: UInt, _ i: UInt, _ t: Double) -> Int32 {
    status { () throws(SoftmaxError) in
        try softmaxStatistics(x, mask: m, into: soft(s), shape: shape(o, n, i), temperature: t, precise: true)
    }
}

@_cdecl("ssm_softmax_stats_merge")
public func ssm_softmax_stats_merge(_ a: Stats, _ b: Stats, _ out: StatsOut, _ c: UInt, _ t: Double) -> Int32 {
    status { () throws(SoftmaxError) in try mergeSoftmaxStatistics(soft(a), soft(b), into: soft(out), count: count(c), temperature: t) }
}

@_cdecl("ssm_softmax_from_stats_f32")
public func ssm_softmax_from_stats_f32(_ x: In<Float>, _ m: Mask, _ s: Stats, _ y: Out<Float>, _ o: UInt, _ n: UInt, _ i: UInt, _ t: Float) -> Int32 {
    status { () throws(SoftmaxError) in try softmax(x, mask: m, statistics: soft(s), into: y, shape: shape(o, n, i), temperature: t) }
}
@_cdecl("ssm_softmax_from_stats_f64")
public func ssm_softmax_from_stats_f64(_ x: In<Double>, _ m: Mask, _ s: Stats, _ y: Out<Double>, _ o: UInt, _ n: UInt, _ i: UInt, _ t: Double) -> Int32 {
    status { () throws(SoftmaxError) in try softmax(x, mask: m, statistics: soft(s), into: y, shape: shape(o, n, i), temperature: t) }
}

@_cdecl("ssm_log_softmax_from_stats_f32")
public func ssm_log_softmax_from_stats_f32(_ x: In<Float>, _ m: Mask, _ s: Stats, _ y: Out<Float>, _ o: UInt, _ n: UInt, _ i: UInt, _ t: Float) -> Int32 {
    status { () throws(SoftmaxError) in try logSoftmax(x, mask: m, statistics: soft(s), into: y, shape: shape(o, n, i), temperature: t) }
}
@_cdecl("ssm_log_softmax_from_stats_f64")
public func ssm_log_softmax_from_stats_f64(_ x: In<Double>, _ m: Mask, _ s: Stats, _ y: Out<Double>, _ o: UInt, _ n: UInt, _ i: UInt, _ t: Double) -> Int32 {
    status { () throws(SoftmaxError) in try logSoftmax(x, mask: m, statistics: soft(s), into: y, shape: shape(o, n, i), temperature: t) }
}

@_cdecl("ssm_logsumexp_from_stats_f32")
public func ssm_logsumexp_from_stats_f32(_ s: Stats, _ out: Out<Float>, _ c: UInt, _ t: Float) -> Int32 {
    status { () throws(SoftmaxError) in try logSumExp(statistics: soft(s), into: out, count: count(c), temperature: t) }
}
@_cdecl("ssm_logsumexp_from_stats_f64")
public func ssm_logsumexp_from_stats_f64(_ s: Stats, _ out: Out<Double>, _ c: UInt, _ t: Double) -> Int32 {
    status { () throws(SoftmaxError) in try logSumExp(statistics: soft(s), into: out, count: count(c), temperature: t) }
}

@_cdecl("ssm_ce_stats_f32")
public func ssm_ce_stats_f32(
    _ x: In<Float>, _ labels: Labels, _ w: In<Double>, _ o: UInt, _ n: UInt, _ i: UInt,
    _ offset: UInt, _ classes: UInt, _ ignore: Int64, _ s: CEStatsOut
) -> Int32 {
    status { () throws(SoftmaxError) in
        try crossEntropyStatistics(x, labels: labels, weight: w, shape: shape(o, n, i),
                                   targets: targets(classes, offset, ignore, 0), into: ce(s))
    }
}
@_cdecl("ssm_ce_stats_f64")
public func ssm_ce_stats_f64(
    _ x: In<Double>, _ labels: Labels, _ w: In<Double>, _ o: UInt, _ n: UInt, _ i: UInt,
    _ offset: UInt, _ classes: UInt, _ ignore: Int64, _ s: CEStatsOut
) -> Int32 {
    status { () throws(SoftmaxError) in
        try crossEntropyStatistics(x, labels: labels, weight: w, shape: shape(o, n, i),
                                   targets: targets(classes, offset, ignore, 0), into: ce(s))
    }
}

@_cdecl("ssm_ce_stats_merge")
public func ssm_ce_stats_merge(_ a: CEStats, _ b: CEStats, _ out: CEStatsOut, _ c: UInt) -> Int32 {
    status { () throws(SoftmaxError) in try mergeCrossEntropyStatistics(ce(a), ce(b), into: ce(out), count: count(c)) }
}

@_cdecl("ssm_cross_entropy_from_stats")
public func ssm_cross_entropy_from_stats(
    _ s: CEStats, _ labels: Labels, _ w: In<Double>, _ c: UInt, _ classes: UInt, _ ignore: Int64,
    _ eps: Double, _ red: Int32, _ loss: Out<Double>
) -> Int32 {
    status { () throws(SoftmaxError) in
        try crossEntropy(statistics: ce(s), labels: labels, weight: w, count: count(c),
                         targets: targets(classes, 0, ignore, eps), reduction: Reduction(code: red), loss: loss)
    }
}

@_cdecl("ssm_cross_entropy_denominator")
public func ssm_cross_entropy_denominator(
    _ labels: Labels, _ w: In<Double>, _ c: UInt, _ classes: UInt, _ ignore: Int64, _ out: Out<Double>
) -> Int32 {
    status { () throws(SoftmaxError) in
        let d = try crossEntropyDenominator(labels: labels, weight: w, count: count(c),
                                            targets: targets(classes, 0, ignore, 0))
        guard let out else { throw SoftmaxError(.nullPointer, "out: null pointer for 1 element") }
        out.pointee = d
    }
}

@_cdecl("ssm_cross_entropy_grad_from_stats_f32")
public func ssm_cross_entropy_grad_from_stats_f32(
    _ x: In<Float>, _ labels: Labels, _ w: In<Double>, _ o: UInt, _ n: UInt, _ i: UInt,
    _ offset: UInt, _ classes: UInt, _ ignore: Int64, _ eps: Double, _ s: CEStats, _ divisor: Double,
    _ grad: Out<Float>
) -> Int32 {
    status { () throws(SoftmaxError) in
        try crossEntropyGradient(x, labels: labels, weight: w, shape: shape(o, n, i),
                                 targets: targets(classes, offset, ignore, eps), statistics: ce(s),
                                 divisor: divisor, into: grad)
    }
}
@_cdecl("ssm_cross_entropy_grad_from_stats_f64")
public func ssm_cross_entropy_grad_from_stats_f64(
    _ x: In<Double>, _ labels: Labels, _ w: In<Double>, _ o: UInt, _ n: UInt, _ i: UInt,
    _ offset: UInt, _ classes: UInt, _ ignore: Int64, _ eps: Double, _ s: CEStats, _ divisor: Double,
    _ grad: Out<Double>
) -> Int32 {
    status { () throws(SoftmaxError) in
        try crossEntropyGradient(x, labels: labels, weight: w, shape: shape(o, n, i),
                                 targets: targets(classes, offset, ignore, eps), statistics: ce(s),
                                 divisor: divisor, into: grad)
    }
}
