extension Duration {
    /// The duration as fractional seconds, for JSON and messages.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
