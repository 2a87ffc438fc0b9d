#if canImport(Glibc)
import Glibc
#endif
import Synchronization

extension MemoryGraph {
    /// Links the appended nodes `from..<count` on `threads` threads (the
    /// calling thread is one of them). Pure computation: the worker threads
    /// touch nothing but this graph, and they run with every signal blocked,
    /// so a host process's signal handlers (PostgreSQL's) only ever run on
    /// the calling thread.
    ///
    /// `shouldStop` is polled on the calling thread only; when it returns
    /// true, the workers finish the node they are on and stop. Returns the
    /// number of nodes linked so far: call again with it to resume.
    ///
    /// A node that fails to link (a `GraphFailure`, on any thread) stops
    /// every thread the same way; once all are joined, the first failure is
    /// thrown on the calling thread. No thread traps. The graph is then
    /// incomplete, fit only to be freed.
    public func linkAll(from start: Int, threads: Int, shouldStop: () -> Bool) throws -> Int {
        let work = LinkWork(graph: self, next: start, end: count)
        var workers: [pthread_t] = []
        if threads > 1 && count - start > 1024 {
            // Link the first node alone: two threads finding an empty graph
            // would both make themselves the entry point.
            if start == 0, entryPoint() == nil { _ = work.linkNext() }
            var all = sigset_t()
            var saved = sigset_t()
            sigfillset(&all)
            pthread_sigmask(SIG_BLOCK, &all, &saved)
            for _ in 1..<threads {
                var thread = pthread_t()
                let context = Unmanaged.passRetained(work).toOpaque()
                if pthread_create(&thread, nil, { context in
                    let work = Unmanaged<LinkWork>.fromOpaque(context!).takeRetainedValue()
                    while !work.stopped.load(ordering: .acquiring), work.linkNext() {}
                    return nil
                }, context) == 0 {
                    workers.append(thread)
                } else {
                    Unmanaged<LinkWork>.fromOpaque(context).release()
                }
            }
            pthread_sigmask(SIG_SETMASK, &saved, nil)
        }
        var linkedHere = 0
        while work.linkNext() {
            linkedHere += 1
            if linkedHere % 64 == 0 && shouldStop() {
                work.stopped.store(true, ordering: .releasing)
                break
            }
        }
        for thread in workers { pthread_join(thread, nil) }
        if let failure = work.failure.withLock({ $0 }) { throw failure }
        return min(work.claimed.load(ordering: .acquiring), work.end)
    }
}

/// The shared state of one `linkAll`: the next node to claim.
final class LinkWork: @unchecked Sendable {
    let graph: MemoryGraph
    let end: Int
    let claimed: Atomic<Int>
    let stopped = Atomic<Bool>(false)
    /// The first node's failure; set, it stops every thread.
    let failure = Mutex<(any Error)?>(nil)

    init(graph: MemoryGraph, next: Int, end: Int) {
        self.graph = graph
        self.end = end
        self.claimed = Atomic(next)
    }

    /// Claims and links one node; false when none is left, after a stop or
    /// when linking failed. A claimed node is linked completely unless it
    /// failed, so after the threads are joined with no failure every node
    /// below `claimed` is linked.
    func linkNext() -> Bool {
        if stopped.load(ordering: .acquiring) { return false }
        let node = claimed.wrappingAdd(1, ordering: .acquiringAndReleasing).oldValue
        guard node < end else { return false }
        do {
            try graph.link(Int32(node))
            return true
        } catch {
            failure.withLock { first in if first == nil { first = error } }
            stopped.store(true, ordering: .releasing)
            return false
        }
    }
}
