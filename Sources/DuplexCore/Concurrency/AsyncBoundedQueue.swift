import Synchronization

private enum SendFastPath { case done, closed, wait }

/// A single-consumer, multi-producer FIFO with a fixed capacity and back-pressure.
///
/// ``send(_:)`` suspends while the queue is full; ``next()`` suspends while it is empty.
/// Both honour task cancellation. ``finish(throwing:)`` ends the stream: buffered elements
/// are still delivered, then `next()` returns nil (or throws the given error).
public final class AsyncBoundedQueue<Element: Sendable>: Sendable {
    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<Void, any Error>
        var element: Element
    }

    private struct State {
        var items: [Element] = []
        var head = 0
        var finished = false
        var failure: (any Error)?
        var consumer: (id: UInt64, continuation: CheckedContinuation<Element?, any Error>)?
        var producers: [Waiter] = []
        var nextID: UInt64 = 0

        var count: Int { items.count - head }

        mutating func popFirst() -> Element {
            let element = items[head]
            head += 1
            if head > 64, head * 2 > items.count {
                items.removeFirst(head)
                head = 0
            }
            return element
        }
    }

    private let state = Mutex(State())
    /// The maximum number of buffered elements.
    public let capacity: Int

    /// Creates a queue holding at most `capacity` (≥ 1) elements.
    public init(capacity: Int) {
        precondition(capacity >= 1, "capacity must be at least 1")
        self.capacity = capacity
    }

    /// The number of buffered elements.
    public var count: Int { state.withLock { $0.count } }

    /// Adds an element, waiting while the queue is full.
    /// - Throws: `CancellationError` if the task is cancelled while waiting, or
    ///   ``DuplexError`` with code `invalidState` if the queue was finished.
    public func send(_ element: Element) async throws {
        let fast: SendFastPath = state.withLock { s in
            if s.finished { return .closed }
            if let consumer = s.consumer {
                s.consumer = nil
                consumer.continuation.resume(returning: element)
                return .done
            }
            if s.count < capacity {
                s.items.append(element)
                return .done
            }
            return .wait
        }
        switch fast {
        case .done: return
        case .closed: throw DuplexError(.invalidState, "The queue is finished; nothing more can be sent.")
        case .wait: break
        }
        let id = state.withLock { s in
            s.nextID += 1
            return s.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                state.withLock { s in
                    if Task.isCancelled {
                        continuation.resume(throwing: CancellationError())
                    } else if s.finished {
                        continuation.resume(throwing: DuplexError(.invalidState, "The queue is finished; nothing more can be sent."))
                    } else if let consumer = s.consumer {
                        s.consumer = nil
                        consumer.continuation.resume(returning: element)
                        continuation.resume()
                    } else if s.count < capacity {
                        s.items.append(element)
                        continuation.resume()
                    } else {
                        s.producers.append(Waiter(id: id, continuation: continuation, element: element))
                    }
                }
            }
        } onCancel: {
            let waiter: Waiter? = state.withLock { s in
                guard let index = s.producers.firstIndex(where: { $0.id == id }) else { return nil }
                return s.producers.remove(at: index)
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Adds an element if there is room, without waiting.
    /// - Returns: false when the queue is full or finished (the element was not added).
    public func trySend(_ element: Element) -> Bool {
        state.withLock { s in
            if s.finished { return false }
            if let consumer = s.consumer {
                s.consumer = nil
                consumer.continuation.resume(returning: element)
                return true
            }
            guard s.count < capacity else { return false }
            s.items.append(element)
            return true
        }
    }

    /// Takes the next element, waiting while the queue is empty.
    /// - Returns: nil once the queue is finished and drained.
    public func next() async throws -> Element? {
        let id = state.withLock { s in
            s.nextID += 1
            return s.nextID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Element?, any Error>) in
                state.withLock { s in
                    if s.count > 0 {
                        let element = s.popFirst()
                        if !s.producers.isEmpty {
                            let waiter = s.producers.removeFirst()
                            s.items.append(waiter.element)
                            waiter.continuation.resume()
                        }
                        continuation.resume(returning: element)
                    } else if s.finished {
                        if let failure = s.failure {
                            continuation.resume(throwing: failure)
                        } else {
                            continuation.resume(returning: nil)
                        }
                    } else if Task.isCancelled {
                        continuation.resume(throwing: CancellationError())
                    } else {
                        precondition(s.consumer == nil, "AsyncBoundedQueue supports a single consumer")
                        s.consumer = (id, continuation)
                    }
                }
            }
        } onCancel: {
            let consumer: CheckedContinuation<Element?, any Error>? = state.withLock { s in
                guard let consumer = s.consumer, consumer.id == id else { return nil }
                s.consumer = nil
                return consumer.continuation
            }
            consumer?.resume(throwing: CancellationError())
        }
    }

    /// Ends the queue. Waiting producers fail; the consumer drains what is buffered, then
    /// receives nil or `error`.
    public func finish(throwing error: (any Error)? = nil) {
        var consumer: CheckedContinuation<Element?, any Error>?
        var producers: [Waiter] = []
        state.withLock { s in
            guard !s.finished else { return }
            s.finished = true
            s.failure = error
            producers = s.producers
            s.producers = []
            if s.count == 0, let waiting = s.consumer {
                consumer = waiting.continuation
                s.consumer = nil
            }
        }
        for producer in producers {
            producer.continuation.resume(throwing: DuplexError(.invalidState, "The queue was finished while waiting to send."))
        }
        if let consumer {
            if let error { consumer.resume(throwing: error) } else { consumer.resume(returning: nil) }
        }
    }
}
