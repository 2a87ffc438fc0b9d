import Testing
@testable import ImageSearch

@Test func schemaVersionIsPositive() {
    #expect(Schema.version >= 1)
}
