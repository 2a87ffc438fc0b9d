import Testing
@testable import VectorCore
@Test func placeholder() { #expect(1 == 1) }
