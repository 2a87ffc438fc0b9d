import Testing

@testable import ImageSearch

@Suite struct ConnectionStringTests {
    @Test func urlPasswordsAreRedactedInTheUserInfoAndTheQuery() {
        #expect(ConnectionString("postgresql://ann:se%40cret@db.example:5432/photos?sslmode=require").redacted
            == "postgresql://ann:***@db.example:5432/photos?sslmode=require")
        #expect(ConnectionString("postgres://ann@/photos?host=/run&password=x%26y&sslmode=disable").redacted
            == "postgres://ann@/photos?host=/run&password=***&sslmode=disable")
        #expect(ConnectionString("postgresql://ann@host/db").redacted == "postgresql://ann@host/db")
        #expect(ConnectionString("postgresql://host:5432/db").redacted == "postgresql://host:5432/db")
        #expect(ConnectionString("postgresql://ann:se%40cret@h/db").secrets.contains("se@cret"))
    }

    @Test func keywordPasswordsAreRedactedQuotedOrNot() {
        #expect(ConnectionString("host=h password=plain dbname=d").redacted == "host=h password=*** dbname=d")
        #expect(ConnectionString("password = 'it\\'s a secret' user=u").redacted == "password = *** user=u")
        #expect(ConnectionString("dbname=password user=u").redacted == "dbname=password user=u")
        #expect(ConnectionString("password='it\\'s a secret'").secrets.contains("it's a secret"))
        #expect(ConnectionString("user=u password").redacted == "user=u password")  // malformed: nothing to hide
    }

    @Test func messagesLoseEverySpellingOfThePassword() {
        let string = ConnectionString("postgresql://u:p%40ss@h/d")
        #expect(string.scrub("invalid percent-encoded token: \"p%40ss\", or p@ss") == "invalid percent-encoded token: \"***\", or ***")
    }
}
