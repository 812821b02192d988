// The article's example through the SwiftSoftmax product: softmax of the scores [0, 2, 4], the
// same with a temperature, and the cross-entropy when the true class is the third.
import SwiftSoftmax

func show<T: BinaryFloatingPoint>(_ values: [T]) -> String {
    "[" + values.map { v -> String in
        let scaled = (Double(v) * 10_000).rounded() / 10_000
        return String(scaled)
    }.joined(separator: ", ") + "]"
}

do {
    let scores: [Double] = [0, 2, 4]
    let p = try softmax(scores)
    print("swiftsoftmax \(BuildInfo.version) (\(BuildInfo.isa))")
    print("softmax([0, 2, 4]) = \(show(p))")
    print("softmax([0, 2, 4], temperature: 0.5) = \(show(try softmax(scores, temperature: 0.5)))")
    print("log_softmax as Float = \(show(try logSoftmax(scores.map { Float($0) })))")
    print("cross-entropy, true class 3 = \(try crossEntropy(scores, label: 2))  (-ln \(show([p[2]])))")

    // Invalid arguments throw a SoftmaxError whose code matches the C status codes.
    _ = try softmax(scores, temperature: 0)
    print("error: a zero temperature was accepted")
} catch {
    print("temperature 0 refused: \(error.code) (\(error.code.rawValue)): \(error.message)")
}
