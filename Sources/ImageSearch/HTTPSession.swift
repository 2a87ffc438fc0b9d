#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Foundation

/// Synchronous HTTP on top of URLSession's delegate API (libcurl on Linux),
/// one request at a time, with the body streamed to a callback as it arrives.
/// Used by `ModelDownload`; not a general-purpose client.
final class HTTPSession: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    /// What the caller's response callback decides.
    enum Disposition { case receiveBody, stop }

    /// The state of the one transfer in flight. Only the delegate queue
    /// touches it while the request runs; the caller reads it after `done`.
    private final class Transfer: @unchecked Sendable {
        let followRedirects: Bool
        let keepOnRedirect: [String: String]
        let originHost: String?
        let onResponse: (HTTPURLResponse) throws -> Disposition
        let onData: (Data) throws -> Void
        var response: HTTPURLResponse?
        var redirectResponse: HTTPURLResponse?
        var callbackError: Error?
        var transportError: Error?
        var stoppedByCaller = false
        let done = DispatchSemaphore(value: 0)

        init(followRedirects: Bool, keepOnRedirect: [String: String], originHost: String?,
             onResponse: @escaping (HTTPURLResponse) throws -> Disposition, onData: @escaping (Data) throws -> Void) {
            self.followRedirects = followRedirects
            self.keepOnRedirect = keepOnRedirect
            self.originHost = originHost
            self.onResponse = onResponse
            self.onData = onData
        }
    }

    private var session: URLSession!
    private let lock = NSLock()
    private var transfers: [Int: Transfer] = [:]

    /// - Parameter idleTimeout: seconds without data before a request fails.
    init(idleTimeout: TimeInterval = 60) {
        super.init()
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = idleTimeout
        configuration.timeoutIntervalForResource = 7 * 24 * 3600
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        configuration.httpCookieStorage = nil
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = 1
        session = URLSession(configuration: configuration, delegate: self, delegateQueue: queue)
    }

    /// Ends the session (it retains its delegate until then).
    func close() {
        session.finishTasksAndInvalidate()
    }

    /// Performs `request` and returns the final response (a 3xx one when
    /// `followRedirects` is false). `onResponse` sees the final response
    /// first; the body goes to `onData` only if it returns `.receiveBody`.
    /// Headers in `keepOnRedirect` are set again on every redirected request
    /// (`Range`); `Authorization` is dropped when a redirect leaves the
    /// original host.
    ///
    /// Errors thrown by the callbacks stop the transfer and are rethrown as
    /// they are; transport failures throw `URLError` (or whatever URLSession
    /// reports).
    @discardableResult
    func perform(
        _ request: URLRequest, followRedirects: Bool = true, keepOnRedirect: [String: String] = [:],
        onResponse: @escaping (HTTPURLResponse) throws -> Disposition = { _ in .receiveBody },
        onData: @escaping (Data) throws -> Void = { _ in }
    ) throws -> HTTPURLResponse {
        let transfer = Transfer(followRedirects: followRedirects, keepOnRedirect: keepOnRedirect,
                                originHost: request.url?.host, onResponse: onResponse, onData: onData)
        let task = session.dataTask(with: request)
        lock.withLock { transfers[task.taskIdentifier] = transfer }
        task.resume()
        transfer.done.wait()
        lock.withLock { _ = transfers.removeValue(forKey: task.taskIdentifier) }
        if let error = transfer.callbackError { throw error }
        if let response = transfer.response ?? transfer.redirectResponse, transfer.stoppedByCaller { return response }
        if let error = transfer.transportError { throw error }
        guard let response = transfer.response ?? transfer.redirectResponse else {
            throw URLError(.badServerResponse)
        }
        return response
    }

    private func transfer(_ task: URLSessionTask) -> Transfer? {
        lock.withLock { transfers[task.taskIdentifier] }
    }

    // MARK: URLSessionDataDelegate

    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void) {
        guard let t = transfer(task) else { return completionHandler(nil) }
        t.redirectResponse = response
        guard t.followRedirects else { return completionHandler(nil) }
        var next = request
        for (field, value) in t.keepOnRedirect { next.setValue(value, forHTTPHeaderField: field) }
        if next.url?.host != t.originHost { next.setValue(nil, forHTTPHeaderField: "Authorization") }
        completionHandler(next)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void) {
        guard let t = transfer(dataTask), let http = response as? HTTPURLResponse else { return completionHandler(.cancel) }
        t.response = http
        do {
            switch try t.onResponse(http) {
            case .receiveBody:
                completionHandler(.allow)
            case .stop:
                t.stoppedByCaller = true
                completionHandler(.cancel)
            }
        } catch {
            t.callbackError = error
            completionHandler(.cancel)
        }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        guard let t = transfer(dataTask), t.callbackError == nil else { return }
        do { try t.onData(data) } catch {
            t.callbackError = error
            dataTask.cancel()
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        guard let t = transfer(task) else { return }
        t.transportError = error
        t.done.signal()
    }
}

extension HTTPURLResponse {
    /// A header's value, the field name compared case-insensitively.
    func header(_ name: String) -> String? {
        for (key, value) in allHeaderFields {
            if let key = key as? String, key.caseInsensitiveCompare(name) == .orderedSame { return value as? String }
        }
        return nil
    }
}
