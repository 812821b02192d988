import CSoftmaxSupport
import SwiftSoftmax

// The C ABI's only logic: run a Swift API call, turn its error into a status code, and keep the
// error's detail for ssm_last_error_message. Validation itself lives in the Swift API.

let statusOK: Int32 = 0

@inline(__always)
func status(_ body: () throws(SoftmaxError) -> Void) -> Int32 {
    do {
        try body()
        return statusOK
    } catch {
        ssm_support_set_error(error.message)
        return error.code.rawValue
    }
}

/// Shapes arrive as size_t; Swift sees them as UInt so that huge values are reported, not wrapped.
@inline(__always)
func shape(_ outer: UInt, _ n: UInt, _ inner: UInt) throws(SoftmaxError) -> RowShape {
    try RowShape(unsigned: outer, n: n, inner: inner)
}

@inline(__always)
func count(_ c: UInt) throws(SoftmaxError) -> Int {
    try RowShape(unsigned: 1, n: c, inner: 1).count
}

@_cdecl("ssm_status_message")
public func ssm_status_message(_ code: Int32) -> UnsafePointer<CChar> {
    StaticText.message(code)
}

@_cdecl("ssm_last_error_message")
public func ssm_last_error_message() -> UnsafePointer<CChar> {
    ssm_support_error()
}

@_cdecl("ssm_version")
public func ssm_version() -> UnsafePointer<CChar> { StaticText.version }

@_cdecl("ssm_isa")
public func ssm_isa() -> UnsafePointer<CChar> { StaticText.isa }

@_cdecl("ssm_available_isas")
public func ssm_available_isas() -> UnsafePointer<CChar> { StaticText.availableISAs }

@_cdecl("ssm_set_num_threads")
public func ssm_set_num_threads(_ n: Int32) -> Int32 {
    status { () throws(SoftmaxError) in try Threads.setCount(Int(n)) }
}

@_cdecl("ssm_get_num_threads")
public func ssm_get_num_threads() -> Int32 { Int32(Threads.count) }
