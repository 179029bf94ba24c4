/// Carries a value that is not Sendable (a C handle, a context and its arena) to the one queue or
/// thread that uses it. The C wrappers use it, and only it, to pass their pointers across: the
/// owner promises that the value is dereferenced there alone; this type states that promise.
public struct UnsafeTransfer<Value>: @unchecked Sendable {
    public let value: Value

    public init(_ value: Value) { self.value = value }
}
